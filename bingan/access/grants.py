"""Grants (临时授权): a time-bounded right of one user on one record, given by an administrator
holding grants.manage or by an approved borrowing request, and revoked before its end if need be.

The gate (access.policy) honours a grant between ``valid_from`` and ``valid_until`` unless
``revoked_at`` is set, and only for actions ACTION_RULES marks grantable.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from bingan.access.audit import Actor, record_event
from bingan.access.permissions import ACTION_NAMES, GRANTABLE
from bingan.access.policy import aware, decide_for, load_subject
from bingan.errors import Conflict, NotFound, Refusal
from bingan.storage.models import Grant, Record, User, utcnow

MAX_DAYS = 90


def grant(session: Session, actor: Actor, grantor: User, username: str, record_id: int, actions: list[str],
          days: int, reason: str, categories: list[str] | None = None) -> Grant:
    """Give ``username`` the grantable ``actions`` on the record for ``days`` days — only on the
    documents of ``categories`` when given (a borrowing of chosen parts); nobody grants what it
    could not do itself, nor to itself."""
    grantee = session.scalars(sa.select(User).where(User.username == username.strip())).first()
    record = session.get(Record, record_id)
    if grantee is None or record is None:
        raise Refusal("用户或病案不存在")
    if grantee.id == grantor.id:
        raise Refusal("不能给自己授权")
    wanted = {action.strip() for action in actions}
    chosen = [action for action in GRANTABLE if action in wanted] or ["view"]
    subject = load_subject(session, grantor)
    subject.grants = {}  # a right received by a grant is not passed on
    refused = [ACTION_NAMES[action] for action in chosen if not decide_for(subject, action, record)]
    if refused:
        raise Refusal(f"您自己没有{'、'.join(refused)}该病案的权限，不能授予他人")
    days = min(max(days, 1), MAX_DAYS)
    given = Grant(user_id=grantee.id, record_id=record.id, actions=chosen, valid_until=utcnow() + timedelta(days=days),
                  reason=reason[:255], granted_by_id=grantor.id, categories=sorted(categories) if categories else None)
    session.add(given)
    record_event(session, actor, "grant", object_type="record", object_id=str(record.id), record_id=record.id,
                 detail={"用户": grantee.username, "操作": chosen, "天数": days, "原因": reason,
                         **({"分类": given.categories} if given.categories else {})})
    return given


def extend(session: Session, actor: Actor, grant_id: int, days: int, reason: str) -> Grant:
    """Move a running grant's end ``days`` days later (续借); an ended grant is not revived."""
    given = session.get(Grant, grant_id)
    if given is None:
        raise NotFound("授权不存在")
    if given.revoked_at is not None or aware(given.valid_until) <= utcnow():
        raise Conflict("该授权已结束，不能延长")
    given.valid_until = aware(given.valid_until) + timedelta(days=days)
    given.expiry_reminded_at = None  # the new end is reminded of in its turn
    record_event(session, actor, "grant_extend", object_type="record", object_id=str(given.record_id),
                 record_id=given.record_id, detail={"授权": given.id, "天数": days, "原因": reason})
    return given


def revoke(session: Session, actor: Actor, grant_id: int, reason: str) -> Grant:
    """End a grant now; the gate refuses it from this transaction on."""
    given = session.get(Grant, grant_id)
    if given is None:
        raise NotFound("授权不存在")
    if given.revoked_at is not None:
        raise Conflict("该授权已撤销")
    if not reason.strip():
        raise Refusal("撤销授权须填写原因")
    given.revoked_at = utcnow()
    grantee = session.get(User, given.user_id)
    record_event(session, actor, "revoke", object_type="record", object_id=str(given.record_id),
                 record_id=given.record_id, detail={"用户": grantee.username if grantee else "", "授权": given.id,
                                                    "原因": reason})
    return given


def record_by_number(session: Session, record_number: str, stay: int) -> Record:
    """The inpatient stay 病案号 + 住院次数 the form names."""
    record = session.scalars(sa.select(Record).where(
        Record.record_number == record_number.strip(), Record.visit_type == "inpatient",
        Record.stay_number == stay)).one_or_none()
    if record is None:
        raise Refusal(f"未找到病案号 {record_number.strip()} 第 {stay} 次住院的病案")
    return record


@dataclass(frozen=True)
class GrantRow:
    grant: Grant
    record_number: str
    stay: int
    user_name: str
    username: str
    granted_by: str

    @property
    def state(self) -> str:
        if self.grant.revoked_at is not None:
            return "已撤销"
        return "有效" if aware(self.grant.valid_until) > utcnow() else "已过期"

    @property
    def revocable(self) -> bool:
        return self.state == "有效"


def recent_grants(session: Session, limit: int = 100) -> list[GrantRow]:
    """The newest grants by record number and user name, for the grants page."""
    grantor = aliased(User)
    rows = session.execute(
        sa.select(Grant, Record.record_number, Record.stay_number, User.full_name, User.username, grantor.full_name)
        .join(Record, Record.id == Grant.record_id).join(User, User.id == Grant.user_id)
        .outerjoin(grantor, grantor.id == Grant.granted_by_id)
        .order_by(Grant.id.desc()).limit(limit)
    ).all()
    return [GrantRow(g, number, stay, name or username, username, by or "") for g, number, stay, name, username, by
            in rows]
