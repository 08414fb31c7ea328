"""Login, server-side sessions, lockout, password change and TOTP (S4, 等保 level 3 §8).

The web layer calls these with its request transaction; every outcome writes an audit event.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

import pyotp
import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload

from bingan.access.accounts import site_words
from bingan.access.audit import Actor, record_event
from bingan.access.passwords import hash_password, policy_problems, verify_password
from bingan.access.permissions import SECOND_FACTOR
from bingan.access.policy import aware, ip_problem, permissions_of, user_problem
from bingan.access.sealed_secrets import SecretBox
from bingan.access.security_settings import SecuritySettings, security_settings
from bingan.storage.blobs.port import BlobError
from bingan.storage.db import take_write_lock
from bingan.storage.models import LoginFailure, PasswordHistory, TotpEnrolment, User, WebSession, utcnow
from bingan.storage.models.sso import SsoIdentity

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
    """Enrolled users, and every holder of an administrative, granting or hospital-wide right."""
    return bool(user.totp_secret) or bool(permissions_of(user) & SECOND_FACTOR)


def password_expired(user: User, settings: SecuritySettings, now: datetime | None = None) -> bool:
    if settings.password_max_age_days <= 0 or user.password_changed_at is None:
        return False
    return aware(user.password_changed_at) + timedelta(days=settings.password_max_age_days) <= (now or utcnow())


@cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def _wrong_credentials(settings: SecuritySettings) -> str:
    """One message for an unknown name, a wrong password and a locked account: no name can be told apart."""
    return f"{GENERIC_LOGIN_ERROR}，或账号因连续{settings.lockout_attempts}次失败已被暂时锁定"


def login(session: Session, username: str, password: str, client_ip: str, user_agent: str = "",
          password_for_sso_users: bool = True) -> LoginResult:
    """Check the credentials and open a session, or raise LoginRefused (after auditing why).

    Every name costs the same argon2 work and gets the same refusal until the password is right;
    only then does the user learn that the account is disabled or expired.
    """
    settings = security_settings(session)
    actor = Actor(None, username[:64], client_ip)
    refusal = ip_problem(session, client_ip) or _address_throttled(session, client_ip, settings)
    if refusal:
        record_event(session, actor, "login_failed", result="denied", detail={"原因": refusal})
        raise LoginRefused(refusal)
    user = session.scalars(sa.select(User).where(User.username == username)).first()
    password_ok = verify_password(user.password_hash if user else _dummy_hash(), password)  # slow: before the lock
    take_write_lock(session)
    if user is None:
        _note_address_failure(session, client_ip, settings)
        record_event(session, actor, "login_failed", result="failed", detail={"原因": "用户不存在"})
        raise LoginRefused(_wrong_credentials(settings))
    actor = Actor.of(user, client_ip)
    # Count failures on the current row, not a snapshot. NO KEY UPDATE (PostgreSQL): requests inserting
    # rows that reference this user (history, sessions) take KEY SHARE while holding the audit lock.
    session.refresh(user, with_for_update={"key_share": True})
    locked_until = aware(user.locked_until)
    if locked_until and locked_until > utcnow():
        # The same answer whether the password was right: a lock that told would let guessing go on.
        if not password_ok:
            _note_address_failure(session, client_ip, settings)
        record_event(session, actor, "login_failed", result="denied", detail={"原因": "账号锁定中"})
        raise LoginRefused(_wrong_credentials(settings))
    if not password_ok:
        _count_failure(session, user, actor, settings)
    refusal = user_problem(user) or (None if password_for_sso_users else sso_only_problem(session, user))
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


def _address_throttled(session: Session, client_ip: str, settings: SecuritySettings) -> str | None:
    """Too many failures from this address lately: refused before any password is checked.

    Counted in the database, so every process and worker sees the same count.
    """
    since = utcnow() - timedelta(minutes=settings.address_minutes)
    failures = session.scalar(sa.select(sa.func.count(LoginFailure.id))
                              .where(LoginFailure.client_ip == client_ip[:64], LoginFailure.at >= since))
    if failures < settings.address_failures:
        return None
    return f"该地址登录失败次数过多，请{settings.address_minutes}分钟后再试"


def _note_address_failure(session: Session, client_ip: str, settings: SecuritySettings) -> None:
    cutoff = utcnow() - timedelta(minutes=settings.address_minutes)
    session.execute(sa.delete(LoginFailure).where(LoginFailure.at < cutoff))
    session.add(LoginFailure(client_ip=client_ip[:64], at=utcnow()))


def _count_failure(session: Session, user: User, actor: Actor, settings: SecuritySettings,
                   what: str = "密码", message: str = "") -> None:
    """Wrong passwords and wrong second-factor codes count together toward the lockout.

    A wrong password gets the message an unknown name gets; a wrong code (the password was
    right, so the account is known) learns how many tries are left.
    """
    _note_address_failure(session, actor.client_ip, settings)
    user.failed_logins += 1
    if user.failed_logins < settings.lockout_attempts:
        left = settings.lockout_attempts - user.failed_logins
        record_event(session, actor, "login_failed", result="failed", detail={"原因": f"{what}错误"})
        raise LoginRefused(f"{message}，再失败{left}次账号将被锁定{settings.lockout_minutes}分钟" if message
                           else _wrong_credentials(settings))
    user.failed_logins = 0
    user.locked_until = utcnow() + timedelta(minutes=settings.lockout_minutes)
    _end_user_sessions(session, user, "locked")
    record_event(session, actor, "locked", result="denied",
                 detail={"原因": f"连续{settings.lockout_attempts}次登录验证失败（最后一次：{what}）",
                         "分钟": settings.lockout_minutes})
    raise LoginRefused(f"登录失败次数过多，账号已锁定{settings.lockout_minutes}分钟" if message
                       else _wrong_credentials(settings))


def _end_user_sessions(session: Session, user: User, reason: str, keep: WebSession | None = None) -> None:
    """End the user's sessions (all but ``keep``, the one making the change)."""
    statement = sa.update(WebSession).where(WebSession.user_id == user.id, WebSession.ended_at.is_(None))
    if keep is not None:
        statement = statement.where(WebSession.id != keep.id)
    session.execute(statement.values(ended_at=utcnow(), end_reason=reason))


def sso_only_problem(session: Session, user: User) -> str | None:
    """Users who sign in through the hospital's identity provider or a certificate no longer use a password."""
    if session.scalar(sa.select(SsoIdentity.id).where(SsoIdentity.user_id == user.id).limit(1)) is None:
        return None
    return "该账号须通过统一身份认证或 CA 证书登录，不能使用密码登录"


LOGIN_METHODS = {"password": "密码", "oidc": "统一身份认证 (OIDC)", "cas": "统一身份认证 (CAS)",
                 "certificate": "CA 证书"}


def sign_in_verified(session: Session, user: User, client_ip: str, user_agent: str, method: str,
                     second_factor_done: bool, detail: dict | None = None) -> LoginResult:
    """Open a session for a user whom an identity provider or a certificate vouched for (no password).

    The address rules, disabled or expired accounts and a running lockout refuse as for a password;
    ``second_factor_done`` says whether the provider already asked for a second factor.
    """
    actor = Actor.of(user, client_ip)
    refusal = ip_problem(session, client_ip) or user_problem(user)
    locked_until = aware(user.locked_until)
    if refusal is None and locked_until and locked_until > utcnow():
        refusal = "账号因连续登录失败被暂时锁定，请稍后再试或联系安全管理员"
    if refusal:
        record_event(session, actor, "login_failed", result="denied",
                     detail={"原因": refusal, "方式": LOGIN_METHODS[method]})
        raise LoginRefused(refusal)
    take_write_lock(session)
    user.last_login_at = utcnow()
    return _open_session(session, user, actor, user_agent, method, second_factor_done, detail)


def _open_session(session: Session, user: User, actor: Actor, user_agent: str, method: str = "password",
                  second_factor_done: bool = False, detail: dict | None = None) -> LoginResult:
    token = secrets.token_urlsafe(32)
    owes_code = needs_second_factor(user) and not second_factor_done
    web_session = WebSession(
        id=token_id(token), user_id=user.id, csrf_token=secrets.token_urlsafe(24), client_ip=actor.client_ip,
        user_agent=user_agent[:255], second_factor_done=not owes_code, login_method=method,
    )
    session.add(web_session)
    # one "login" per login; the second-factor step, when needed, is its own event (second_factor)
    second = "待验证" if owes_code else ("已由身份认证方完成" if needs_second_factor(user) else "无需")
    record_event(session, actor, "login", object_type="session",
                 detail={"二次验证": second, "方式": LOGIN_METHODS[method], **(detail or {})})
    return LoginResult(token, web_session)


def find_session(session: Session, token: str | None) -> WebSession | None:
    if not token:
        return None
    # The user comes in the same query: every request needs it next.
    found = session.get(WebSession, token_id(token), options=[joinedload(WebSession.user)])
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
    if now - aware(web_session.created_at) > timedelta(hours=settings.session_max_hours):
        web_session.ended_at, web_session.end_reason = now, "expired"
        record_event(session, Actor.of(web_session.user, client_ip), "session_timeout", object_type="session",
                     detail={"原因": f"登录已超过{settings.session_max_hours}小时"})
        return f"登录已超过{settings.session_max_hours}小时，请重新登录"
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


def change_password(session: Session, user: User, current: str, new: str, confirm: str, client_ip: str,
                    web_session: WebSession | None = None) -> list[str]:
    """Problems in Chinese, or [] after the password was changed (and the user's other sessions ended)."""
    if not verify_password(user.password_hash, current):
        return ["当前密码不正确"]
    if new != confirm:
        return ["两次输入的新密码不一致"]
    problems = policy_problems(new, user.username, site_words(session))
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
    _end_user_sessions(session, user, "password_change", keep=web_session)
    record_event(session, Actor.of(user, client_ip), "password_change", object_type="user", object_id=user.id)
    return []


# --- TOTP ------------------------------------------------------------------------------------
# Secrets are stored sealed (SecretBox); a secret from before sealing is sealed at its next use.

def start_enrolment(session: Session, user: User, box: SecretBox) -> str:
    """The pending secret (kept until confirmed so reloading the page shows the same QR code)."""
    enrolment = session.get(TotpEnrolment, user.id)
    if enrolment is None:
        enrolment = TotpEnrolment(user_id=user.id)
        session.add(enrolment)
    if not enrolment.pending_secret:
        enrolment.pending_secret = pyotp.random_base32()
    enrolment.pending_secret = box.fresh(enrolment.pending_secret)
    session.flush()
    return _open(box, enrolment.pending_secret)


def provisioning_uri(user: User, secret: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=issuer)


def _open(box: SecretBox, stored: str) -> str:
    try:
        return box.open(stored)
    except BlobError as error:
        raise LoginRefused("动态口令密钥无法解密（主密钥已更换或数据损坏），请联系安全管理员重置二次验证") from error


def _accept_code(session: Session, user: User, secret: str, code: str, *, new_secret: bool = False) -> bool:
    """Valid within ±1 step, and each step only once (a replayed code is refused).

    A secret being enrolled has never produced a code, so its first code is not a replay even
    when the current authenticator's code of the same step was just used.
    """
    totp = pyotp.TOTP(secret)
    code = code.strip().replace(" ", "")
    if not (code.isascii() and code.isdigit()):
        return False  # compare_digest refuses non-ASCII text; no such code is ever valid
    enrolment = session.get(TotpEnrolment, user.id)
    now_step = int(utcnow().timestamp()) // totp.interval
    for step in (now_step, now_step - 1, now_step + 1):
        if secrets.compare_digest(totp.generate_otp(step), code):
            if enrolment is not None and step <= enrolment.last_step and not new_secret:
                return False
            if enrolment is None:
                enrolment = TotpEnrolment(user_id=user.id)
                session.add(enrolment)
            enrolment.last_step = max(enrolment.last_step or 0, step)
            return True
    return False


def _wrong_code(session: Session, user: User, client_ip: str) -> None:
    """Raises LoginRefused: how many tries are left, or that the account is now locked (sessions ended)."""
    _count_failure(session, user, Actor.of(user, client_ip), security_settings(session), what="动态口令",
                   message="动态口令不正确或已使用")


def confirm_enrolment(session: Session, user: User, web_session: WebSession, code: str, client_ip: str,
                      box: SecretBox, current_code: str = "") -> bool:
    """True once enrolled; False when nothing is pending; LoginRefused for a wrong code (counted).

    An enrolled user replaces the authenticator only with a code from the current one, so a
    session that has only passed the password step can never swap in its own (C1). The
    user's other sessions end when the authenticator changes.
    """
    enrolment = session.get(TotpEnrolment, user.id)
    if enrolment is None or not enrolment.pending_secret:
        return False
    replacing = bool(user.totp_secret)
    if replacing and not _accept_code(session, user, _open(box, user.totp_secret), current_code):
        _wrong_code(session, user, client_ip)
    if not _accept_code(session, user, _open(box, enrolment.pending_secret), code, new_secret=True):
        _wrong_code(session, user, client_ip)
    user.totp_secret = box.fresh(enrolment.pending_secret)
    enrolment.pending_secret, enrolment.confirmed_at = "", utcnow()
    web_session.second_factor_done = True
    user.failed_logins = 0
    if replacing:
        _end_user_sessions(session, user, "totp_change", keep=web_session)
    record_event(session, Actor.of(user, client_ip), "totp_enrol", object_type="user", object_id=user.id,
                 detail={"操作": "更换验证器" if replacing else "绑定验证器"})
    return True


def verify_second_factor(session: Session, user: User, web_session: WebSession, code: str, client_ip: str,
                         box: SecretBox) -> bool:
    """True when the code is right; a wrong code counts toward the lockout and raises LoginRefused."""
    if not user.totp_secret or not _accept_code(session, user, _open(box, user.totp_secret), code):
        _wrong_code(session, user, client_ip)
    user.totp_secret = box.fresh(user.totp_secret)
    web_session.second_factor_done = True
    user.failed_logins = 0
    record_event(session, Actor.of(user, client_ip), "second_factor", object_type="session",
                 detail={"方式": "动态口令"})
    return True
