"""API tokens (接口令牌, U1): a hospital system calls the JSON API with ``Authorization: Bearer …``.

Each token acts as its own service user, so the gate and the audit trail treat it like a person:
every call is audited under that user's name. It holds only the permissions chosen for it (never
an administrator's), is shown once at creation (we keep its SHA-256) and can be revoked at once.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.access.audit import Actor, record_event
from bingan.access.permissions import ADMIN_FAMILIES, PERMISSIONS
from bingan.access.policy import Subject, aware, load_subject, user_problem
from bingan.errors import NotFound, Refusal
from bingan.storage.models import User, utcnow
from bingan.storage.models.integration import ApiToken

PREFIX = "bgn_"
ADMINISTRATION = frozenset().union(*ADMIN_FAMILIES.values())
GRANTABLE = {code: name for code, name in PERMISSIONS.items() if code not in ADMINISTRATION}
LAST_USED_EVERY = timedelta(minutes=1)  # reading with a token is not a database write each time


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, actor: Actor, creator: User, name: str, permissions: list[str],
                 expires_at: datetime | None = None) -> tuple[ApiToken, str]:
    """The token row and the token itself, which is shown this once and never again."""
    name = name.strip()
    if not name or len(name) > 100:
        raise Refusal("请填写令牌名称（调用系统，不超过100个字符）")
    chosen = sorted(set(permissions))
    if not chosen:
        raise Refusal("请至少选择一项权限")
    refused = [code for code in chosen if code not in GRANTABLE]
    if refused:
        raise Refusal(f"接口令牌不能持有这些权限：{'、'.join(PERMISSIONS.get(c, c) for c in refused)}")
    if expires_at is not None and aware(expires_at) <= utcnow():
        raise Refusal("有效期须晚于现在")
    token = PREFIX + secrets.token_urlsafe(32)
    service_user = User(username=f"api-{secrets.token_hex(4)}", full_name=f"接口令牌：{name}"[:100],
                        must_change_password=False, active=True)
    session.add(service_user)
    session.flush()
    row = ApiToken(name=name, token_hash=_hash(token), prefix=token[:12], user_id=service_user.id,
                   permissions=chosen, created_by_id=creator.id, expires_at=expires_at)
    session.add(row)
    session.flush()
    record_event(session, actor, "api_token.create", object_type="api_token", object_id=row.id,
                 detail={"名称": name, "服务账号": service_user.username,
                         "权限": "、".join(PERMISSIONS[c] for c in chosen)})
    return row, token


def revoke_token(session: Session, actor: Actor, token_id: int) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound("令牌不存在")
    if row.revoked_at is not None:
        raise Refusal("该令牌已吊销")
    row.revoked_at = utcnow()
    row.user.active = False  # its service user can do nothing more, whatever path it takes
    record_event(session, actor, "api_token.revoke", object_type="api_token", object_id=row.id,
                 detail={"名称": row.name, "服务账号": row.user.username})
    return row


def tokens(session: Session) -> list[ApiToken]:
    return list(session.scalars(sa.select(ApiToken).order_by(ApiToken.id.desc())))


def find_token(session: Session, presented: str) -> ApiToken | None:
    """The live token presented, or None (unknown, revoked, expired, its user disabled)."""
    if not presented.startswith(PREFIX):
        return None
    row = session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == _hash(presented)))
    now = utcnow()
    if row is None or row.revoked_at is not None or user_problem(row.user, now):
        return None
    if row.expires_at is not None and aware(row.expires_at) <= now:
        return None
    if row.last_used_at is None or now - aware(row.last_used_at) > LAST_USED_EVERY:
        row.last_used_at = now
    return row


def token_subject(session: Session, row: ApiToken) -> Subject:
    """The gate's view of the token: its service user with exactly the token's permissions."""
    subject = load_subject(session, row.user)
    subject.permissions = set(row.permissions or [])
    subject.all_departments = "scope.all_departments" in subject.permissions
    return subject
