"""Passwords: argon2id hashing and the policy (length, character classes, user name, strength, history)."""
from __future__ import annotations

import secrets
import string
from collections.abc import Iterable

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


# What attackers try first against a Chinese hospital, and zxcvbn (English dictionaries) misses:
# pinyin love phrases, lucky and love numbers, role and product names, hospital words.
WEAK_WORDS = (
    "woaini", "woaiini", "aini", "iloveyou", "loveyou", "5201314", "1314", "520", "521", "woshini",
    "admin", "root", "password", "passwd", "bingan", "病案", "yiyuan", "医院", "hospital",
    "welcome", "letmein", "system", "abc123", "123123", "111111", "666666", "888888", "168168",
)
_KEYBOARD_LINES = ("1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm", "abcdefghijklmnopqrstuvwxyz",
                   "1qaz", "2wsx", "3edc", "4rfv", "5tgb", "6yhn", "7ujm", "8ik,", "9ol.", "qaz", "wsx", "edc")
WALK = 4  # four keys in a row on the keyboard (either way) is a walk, not randomness
_LEET = str.maketrans({"@": "a", "4": "a", "0": "o", "1": "i", "!": "i", "3": "e", "$": "s", "5": "s", "7": "t"})


def _walks() -> frozenset[str]:
    lines = [line for line in _KEYBOARD_LINES if len(line) >= WALK]
    forwards = {line[i:i + WALK] for line in lines for i in range(len(line) - WALK + 1)}
    return frozenset(forwards | {walk[::-1] for walk in forwards})


KEYBOARD_WALKS = _walks()


def weak_part(password: str, names: Iterable[str] = ()) -> str | None:
    """The guessable piece of the password, if any (leetspeak undone: P@ssw0rd is password)."""
    plain = password.lower()
    forms = (plain, plain.translate(_LEET))
    for word in (*WEAK_WORDS, *(name.lower() for name in names if name)):
        if any(word in form for form in forms):
            return word
    return next((walk for walk in sorted(KEYBOARD_WALKS) if walk in plain), None)


def policy_problems(password: str, username: str = "", names: Iterable[str] = ()) -> list[str]:
    """Every reason, in Chinese, why the password is not acceptable; empty when it is.

    ``names`` are the site's own words (the hospital's name), refused like the common ones.
    """
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
    weak = weak_part(password, names)
    if weak:
        problems.append(f"密码含有容易被猜中的组合“{weak}”（常见拼音、1314/520等数字、键盘连续键位、"
                        "admin、医院或系统名称），请换一个")
    if not problems and _strength(password, username) < MIN_STRENGTH:
        problems.append("密码过于简单或常见，请使用更难猜测的密码")
    return problems


def _strength(password: str, username: str) -> int:
    from zxcvbn import zxcvbn

    return zxcvbn(password[:_STRENGTH_CHARS], user_inputs=[username] if username else [])["score"]


def generate_password(username: str, length: int = 16) -> str:
    """A random password that passes the policy for ``username`` (first-run and demo accounts):
    a random string can, now and then, contain a short user name such as qc."""
    alphabet = string.ascii_letters + string.digits + "!@#%^*-_=+"
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(length))
        if not policy_problems(candidate, username):
            return candidate
