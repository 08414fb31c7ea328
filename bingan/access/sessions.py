"""Login, server-side sessions, lockout, password change and TOTP (S4, 等保 level 3 §8).

The web layer calls these with its request transaction; every outcome writes an audit event.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.access.audit import Actor, record_event
from bingan.access.passwords import hash_password, policy_problems, verify_password
from bingan.access.permissions import ADMIN_ROLES
from bingan.access.policy import aware, ip_problem, user_problem
from bingan.access.security_settings import SecuritySettings, security_settings
from bingan.storage.db import take_write_lock
from bingan.storage.models import PasswordHistory, TotpEnrolment, User, WebSession, utcnow

GENERIC_LOGIN_ERROR = "用户名或密码错误"


class LoginRefused(Exception):
    """A Chinese message for the login page."""


@dataclass
class LoginResult:
    token: str
    web_session: WebSession


def token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def needs_second_factor(user: User) -> bool:
    return bool(user.totp_secret) or any(role.code in ADMIN_ROLES for role in user.roles)


def password_expired(user: User, settings: SecuritySettings, now: datetime | None = None) -> bool:
    if settings.password_max_age_days <= 0 or user.password_changed_at is None:
        return False
    return aware(user.password_changed_at) + timedelta(days=settings.password_max_age_days) <= (now or utcnow())


def login(session: Session, username: str, password: str, client_ip: str, user_agent: str = "") -> LoginResult:
    """Check the credentials and open a session, or raise LoginRefused (after auditing why)."""
    settings = security_settings(session)
    actor = Actor(None, username[:64], client_ip)
    refusal = ip_problem(session, client_ip)
    if refusal:
        record_event(session, actor, "login_failed", result="denied", detail={"原因": refusal})
        raise LoginRefused(refusal)
    user = session.scalars(sa.select(User).where(User.username == username)).first()
    if user is None:
        record_event(session, actor, "login_failed", result="failed", detail={"原因": "用户不存在"})
        raise LoginRefused(GENERIC_LOGIN_ERROR)
    actor = Actor.of(user, client_ip)
    locked_until = aware(user.locked_until)
    if locked_until and locked_until > utcnow():
        minutes = max(1, int((locked_until - utcnow()).total_seconds() // 60) + 1)
        record_event(session, actor, "login_failed", result="denied", detail={"原因": "账号锁定中"})
        raise LoginRefused(f"登录失败次数过多，账号已锁定，请{minutes}分钟后再试")
    password_ok = verify_password(user.password_hash, password)  # slow (argon2): done before the lock
    take_write_lock(session)
    # Count failures on the current row, not a snapshot. NO KEY UPDATE (PostgreSQL): requests inserting
    # rows that reference this user (history, sessions) take KEY SHARE while holding the audit lock.
    session.refresh(user, with_for_update={"key_share": True})
    locked_until = aware(user.locked_until)
    if locked_until and locked_until > utcnow():
        record_event(session, actor, "login_failed", result="denied", detail={"原因": "账号锁定中"})
        raise LoginRefused("登录失败次数过多，账号已锁定，请稍后再试")
    if not password_ok:
        _count_failure(session, user, actor, settings)
    refusal = user_problem(user)
    if refusal:
        record_event(session, actor, "login_failed", result="denied", detail={"原因": refusal})
        raise LoginRefused(refusal)
    if not needs_second_factor(user):
        # With a second factor the count carries on until the code is right, so that each correct
        # password does not buy five more guesses at the code.
        user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = utcnow()
    if password_expired(user, settings):
        user.must_change_password = True
    return _open_session(session, user, actor, user_agent)


def _count_failure(session: Session, user: User, actor: Actor, settings: SecuritySettings,
                   what: str = "密码", message: str = GENERIC_LOGIN_ERROR) -> None:
    """Wrong passwords and wrong second-factor codes count together toward the lockout."""
    user.failed_logins += 1
    if user.failed_logins < settings.lockout_attempts:
        left = settings.lockout_attempts - user.failed_logins
        record_event(session, actor, "login_failed", result="failed", detail={"原因": f"{what}错误"})
        raise LoginRefused(f"{message}，再失败{left}次账号将被锁定{settings.lockout_minutes}分钟")
    user.failed_logins = 0
    user.locked_until = utcnow() + timedelta(minutes=settings.lockout_minutes)
    _end_user_sessions(session, user, "locked")
    record_event(session, actor, "locked", result="denied",
                 detail={"原因": f"连续{settings.lockout_attempts}次登录验证失败（最后一次：{what}）",
                         "分钟": settings.lockout_minutes})
    raise LoginRefused(f"登录失败次数过多，账号已锁定{settings.lockout_minutes}分钟")


def _end_user_sessions(session: Session, user: User, reason: str) -> None:
    session.execute(
        sa.update(WebSession).where(WebSession.user_id == user.id, WebSession.ended_at.is_(None))
        .values(ended_at=utcnow(), end_reason=reason)
    )


def _open_session(session: Session, user: User, actor: Actor, user_agent: str) -> LoginResult:
    token = secrets.token_urlsafe(32)
    web_session = WebSession(
        id=token_id(token), user_id=user.id, csrf_token=secrets.token_urlsafe(24), client_ip=actor.client_ip,
        user_agent=user_agent[:255], second_factor_done=not needs_second_factor(user),
    )
    session.add(web_session)
    pending = not web_session.second_factor_done
    record_event(session, actor, "login", object_type="session", detail={"二次验证": pending})
    return LoginResult(token, web_session)


def find_session(session: Session, token: str | None) -> WebSession | None:
    if not token:
        return None
    found = session.get(WebSession, token_id(token))
    if found is None or found.ended_at is not None:
        return None
    return found


def touch(session: Session, web_session: WebSession, client_ip: str) -> str | None:
    """End the session when idle too long (returns the reason) or refresh its last-seen time.

    The time is written at most every 30 seconds so that reading pages does not turn every
    request into a database write.
    """
    settings = security_settings(session)
    now = utcnow()
    idle = now - aware(web_session.last_seen_at)
    if idle > timedelta(minutes=settings.idle_minutes):
        web_session.ended_at, web_session.end_reason = now, "idle"
        record_event(session, Actor.of(web_session.user, client_ip), "session_timeout", object_type="session")
        return f"您已超过{settings.idle_minutes}分钟未操作，请重新登录"
    refusal = user_problem(web_session.user)
    if refusal:
        web_session.ended_at, web_session.end_reason = now, "disabled"
        return refusal
    if idle > timedelta(seconds=30):
        web_session.last_seen_at = now
    return None


def logout(session: Session, web_session: WebSession, client_ip: str) -> None:
    web_session.ended_at, web_session.end_reason = utcnow(), "logout"
    record_event(session, Actor.of(web_session.user, client_ip), "logout", object_type="session")


def change_password(session: Session, user: User, current: str, new: str, confirm: str, client_ip: str) -> list[str]:
    """Problems in Chinese, or [] after the password was changed."""
    if not verify_password(user.password_hash, current):
        return ["当前密码不正确"]
    if new != confirm:
        return ["两次输入的新密码不一致"]
    problems = policy_problems(new, user.username)
    if problems:
        return problems
    keep = security_settings(session).password_history
    recent = session.scalars(
        sa.select(PasswordHistory.password_hash).where(PasswordHistory.user_id == user.id)
        .order_by(PasswordHistory.changed_at.desc(), PasswordHistory.id.desc()).limit(keep)
    )
    if any(verify_password(old, new) for old in recent):
        return [f"新密码不能与最近{keep}次使用过的密码相同"]
    user.password_hash = hash_password(new)
    user.password_changed_at = utcnow()
    user.must_change_password = False
    session.add(PasswordHistory(user_id=user.id, password_hash=user.password_hash, changed_at=utcnow()))
    record_event(session, Actor.of(user, client_ip), "password_change", object_type="user", object_id=user.id)
    return []


# --- TOTP ------------------------------------------------------------------------------------

def start_enrolment(session: Session, user: User) -> str:
    """The pending secret (kept until confirmed so reloading the page shows the same QR code)."""
    enrolment = session.get(TotpEnrolment, user.id)
    if enrolment is None:
        enrolment = TotpEnrolment(user_id=user.id)
        session.add(enrolment)
    if not enrolment.pending_secret:
        enrolment.pending_secret = pyotp.random_base32()
    session.flush()
    return enrolment.pending_secret


def provisioning_uri(user: User, secret: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=issuer)


def _accept_code(session: Session, user: User, secret: str, code: str) -> bool:
    """Valid within ±1 step, and each step only once (a replayed code is refused)."""
    totp = pyotp.TOTP(secret)
    code = code.strip().replace(" ", "")
    enrolment = session.get(TotpEnrolment, user.id)
    now_step = int(utcnow().timestamp()) // totp.interval
    for step in (now_step, now_step - 1, now_step + 1):
        if secrets.compare_digest(totp.generate_otp(step), code):
            if enrolment is not None and step <= enrolment.last_step:
                return False
            if enrolment is None:
                enrolment = TotpEnrolment(user_id=user.id)
                session.add(enrolment)
            enrolment.last_step = step
            return True
    return False


def _wrong_code(session: Session, user: User, client_ip: str) -> None:
    """Raises LoginRefused: how many tries are left, or that the account is now locked (sessions ended)."""
    _count_failure(session, user, Actor.of(user, client_ip), security_settings(session), what="动态口令",
                   message="动态口令不正确或已使用")


def confirm_enrolment(session: Session, user: User, web_session: WebSession, code: str, client_ip: str) -> bool:
    """True once enrolled; False when nothing is pending; LoginRefused for a wrong code (counted)."""
    enrolment = session.get(TotpEnrolment, user.id)
    if enrolment is None or not enrolment.pending_secret:
        return False
    if not _accept_code(session, user, enrolment.pending_secret, code):
        _wrong_code(session, user, client_ip)
    user.totp_secret = enrolment.pending_secret
    enrolment.pending_secret, enrolment.confirmed_at = "", utcnow()
    web_session.second_factor_done = True
    user.failed_logins = 0
    record_event(session, Actor.of(user, client_ip), "totp_enrol", object_type="user", object_id=user.id)
    return True


def verify_second_factor(session: Session, user: User, web_session: WebSession, code: str, client_ip: str) -> bool:
    """True when the code is right; a wrong code counts toward the lockout and raises LoginRefused."""
    if not user.totp_secret or not _accept_code(session, user, user.totp_secret, code):
        _wrong_code(session, user, client_ip)
    web_session.second_factor_done = True
    user.failed_logins = 0
    record_event(session, Actor.of(user, client_ip), "login", object_type="session", detail={"二次验证": "通过"})
    return True
