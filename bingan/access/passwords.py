"""Passwords: argon2id hashing and the policy (length, character classes, user name, strength, history)."""
from __future__ import annotations

import secrets
import string

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# OWASP minimum for argon2id: 19 MiB, 2 iterations (~34 ms here); the library default (64 MiB)
# costs ~440 ms per login on these machines.
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
MIN_LENGTH = 8
MAX_LENGTH = 128  # long passphrases are welcome; megabytes of "password" are an attack on argon2
_STRENGTH_CHARS = 72  # zxcvbn refuses longer input; a longer password is at least as strong as its start
MIN_STRENGTH = 3  # zxcvbn score 0..4


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def policy_problems(password: str, username: str = "") -> list[str]:
    """Every reason, in Chinese, why the password is not acceptable; empty when it is."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"密码长度至少{MIN_LENGTH}位")
    if len(password) > MAX_LENGTH:
        problems.append(f"密码长度不能超过{MAX_LENGTH}位")
    classes = sum(
        any(test(ch) for ch in password)
        for test in (str.islower, str.isupper, str.isdigit, lambda ch: not ch.isalnum())
    )
    if classes < 3:
        problems.append("密码须包含大写字母、小写字母、数字、特殊字符中的至少三类")
    if username and username.lower() in password.lower():
        problems.append("密码不能包含用户名")
    if not problems and _strength(password, username) < MIN_STRENGTH:
        problems.append("密码过于简单或常见，请使用更难猜测的密码")
    return problems


def _strength(password: str, username: str) -> int:
    from zxcvbn import zxcvbn

    return zxcvbn(password[:_STRENGTH_CHARS], user_inputs=[username] if username else [])["score"]


def generate_password(length: int = 16) -> str:
    """A random password that passes the policy (for first-run administrators)."""
    alphabet = string.ascii_letters + string.digits + "!@#%^*-_=+"
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(length))
        if not policy_problems(candidate):
            return candidate
