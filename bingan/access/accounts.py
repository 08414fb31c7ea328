"""Creating accounts and the first administrator."""
from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.access.passwords import generate_password, hash_password, policy_problems, verify_password
from bingan.storage.models import Department, PasswordHistory, Role, User, utcnow
from bingan.storage.system_settings import read_setting


class AccountError(ValueError):
    """A Chinese message explaining why the account cannot be created."""


def create_user(
    session: Session,
    username: str,
    password: str,
    role_codes: list[str],
    *,
    full_name: str = "",
    department_code: str | None = None,
    must_change_password: bool = True,
) -> User:
    if session.scalar(sa.select(User.id).where(User.username == username)):
        raise AccountError(f"用户名 {username} 已存在")
    problems = policy_problems(password, username, site_words(session))
    if problems:
        raise AccountError("；".join(problems))
    roles = list(session.scalars(sa.select(Role).where(Role.code.in_(role_codes))))
    unknown = set(role_codes) - {role.code for role in roles}
    if unknown:
        raise AccountError(f"未知角色: {', '.join(sorted(unknown))}")
    department_id = None
    if department_code:
        department_id = session.scalar(sa.select(Department.id).where(Department.code == department_code))
        if department_id is None:
            raise AccountError(f"未知科室代码: {department_code}")
    password_hash = hash_password(password)
    user = User(
        username=username,
        full_name=full_name or username,
        department_id=department_id,
        password_hash=password_hash,
        password_changed_at=utcnow(),
        must_change_password=must_change_password,
        roles=roles,
    )
    session.add(user)
    session.flush()
    session.add(PasswordHistory(user_id=user.id, password_hash=password_hash, changed_at=utcnow()))
    return user


FIRST_ADMIN_PASSWORD_FILE = "admin-password.txt"


def ensure_first_admin(session: Session, password_file: Path) -> str | None:
    """Create `admin` with a random password on an empty system; return the password to print.

    The password is also kept in a 0600 file so that `make run` can show it again until the
    administrator changes it at first login; once it no longer opens the account the file is
    removed and nothing is printed.
    """
    if session.scalar(sa.select(sa.func.count(User.id))):
        return _first_password_still_valid(session, password_file)
    password = generate_password("admin")
    create_user(session, "admin", password, ["sysadmin"], full_name="系统管理员")
    password_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(password + "\n")
    return password


def _first_password_still_valid(session: Session, password_file: Path) -> str | None:
    if not password_file.exists():
        return None
    password = password_file.read_text().strip()
    admin = session.scalar(sa.select(User).where(User.username == "admin"))
    if admin and admin.must_change_password and verify_password(admin.password_hash, password):
        return password
    forget_first_admin_password(password_file)
    return None


def forget_first_admin_password(password_file: Path) -> None:
    """The first password has been changed: it must not linger on disk."""
    password_file.unlink(missing_ok=True)


def site_words(session: Session) -> list[str]:
    """Names an attacker tries first: the hospital's (configured and shown) and the product's."""
    from bingan.config import get_settings

    shown = read_setting(session, "appearance").get("hospital_name", "")
    return [name for name in {get_settings().hospital_name, shown} if name]
