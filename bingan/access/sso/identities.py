"""From an identity the hospital vouched for to a Bingan user: matched by staff number (工号),
created at the first sign-on when the hospital allows it, remembered as an SsoIdentity."""
from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.access.audit import Actor, record_event
from bingan.access.sessions import LoginRefused
from bingan.config import Settings
from bingan.storage.models import Role, User, utcnow
from bingan.storage.models.sso import SsoIdentity

USERNAME = re.compile(r"[A-Za-z0-9_.\-]{2,64}")


@dataclass(frozen=True)
class Asserted:
    """What the identity provider said: its key for the person, their staff number and name."""

    kind: str  # oidc | cas | certificate
    subject: str
    staff_number: str
    full_name: str = ""


def user_for(session: Session, asserted: Asserted, settings: Settings, client_ip: str) -> User:
    """The user the identity belongs to; LoginRefused (audited) when there is none to be had."""
    identity = session.scalar(sa.select(SsoIdentity).where(SsoIdentity.kind == asserted.kind,
                                                           SsoIdentity.subject == asserted.subject[:500]))
    user = identity.user if identity is not None else _by_staff_number(session, asserted, settings, client_ip)
    if identity is None:
        identity = SsoIdentity(user_id=user.id, kind=asserted.kind, subject=asserted.subject[:500])
        session.add(identity)
    identity.last_login_at = utcnow()
    return user


def _by_staff_number(session: Session, asserted: Asserted, settings: Settings, client_ip: str) -> User:
    number = asserted.staff_number.strip()
    if not number and asserted.kind == "certificate":
        _refuse(session, asserted, client_ip, "该证书尚未与病案系统账号绑定，请联系安全管理员")
    if not number:
        _refuse(session, asserted, client_ip, f"身份认证未提供工号（{settings.sso_staff_claim}），无法确定病案系统账号")
    users = list(session.scalars(sa.select(User).where(User.staff_number == number).limit(2)))
    if len(users) > 1:
        _refuse(session, asserted, client_ip, f"工号 {number} 对应多个病案系统账号，请联系安全管理员")
    if users:
        return users[0]
    if not settings.sso_create_users or asserted.kind == "certificate":  # a certificate never opens an account
        _refuse(session, asserted, client_ip, f"工号 {number} 在病案系统中没有账号，请联系安全管理员开通")
    return _create(session, asserted, number, settings, client_ip)


def _create(session: Session, asserted: Asserted, number: str, settings: Settings, client_ip: str) -> User:
    """A first sign-on creates the account with the hospital's default role; it has no password."""
    role = session.scalar(sa.select(Role).where(Role.code == settings.sso_default_role))
    if role is None:
        _refuse(session, asserted, client_ip, f"默认角色 {settings.sso_default_role} 不存在，无法自动开通账号")
    if not USERNAME.fullmatch(number) or session.scalar(sa.select(User.id).where(User.username == number)):
        _refuse(session, asserted, client_ip, f"工号 {number} 不能用作用户名（格式不符或已被占用），请联系安全管理员")
    user = User(username=number, full_name=asserted.full_name[:100] or number, staff_number=number,
                password_hash="", must_change_password=False, roles=[role])
    session.add(user)
    session.flush()
    record_event(session, Actor(None, f"{asserted.kind}:{number}"[:64], client_ip), "user_change",
                 object_type="user", object_id=str(user.id),
                 detail={"操作": "首次统一身份认证登录，自动开通账号", "用户": number, "角色": [role.code]})
    return user


def _refuse(session: Session, asserted: Asserted, client_ip: str, reason: str) -> None:
    record_event(session, Actor(None, asserted.staff_number[:64] or asserted.subject[:64], client_ip),
                 "login_failed", result="denied", detail={"原因": reason, "方式": asserted.kind})
    raise LoginRefused(reason)


def bind(session: Session, actor: Actor, username: str, kind: str, subject: str) -> User:
    """Bind an identity (a certificate's subject or serial) to a user, by the security administrator."""
    user = session.scalar(sa.select(User).where(User.username == username))
    if user is None:
        raise LoginRefused(f"用户 {username} 不存在")
    taken = session.scalar(sa.select(SsoIdentity).where(SsoIdentity.kind == kind, SsoIdentity.subject == subject))
    if taken is not None:
        raise LoginRefused(f"该证书已绑定用户 {taken.user.username}")
    session.add(SsoIdentity(user_id=user.id, kind=kind, subject=subject[:500]))
    record_event(session, actor, "user_change", object_type="user", object_id=str(user.id),
                 detail={"操作": "绑定登录证书", "用户": username, "证书": subject[:200]})
    return user
