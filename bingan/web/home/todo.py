"""The to-do list of the home page (待办, E1) and its counts in the header.

Each part is for whoever has that work: approvals waiting for my decision (approvers), my own
open applications (whoever may apply), records QC returned to me (the record's doctors, by the
name the record carries), failed collections (holders of the collection monitor, system.status:
counted by source and reason, no patient data — the system administrator reads none), grants
ending within ``EXPIRING_DAYS`` (mine; every grant for grants.manage holders).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa

from bingan.access.policy import decide_for
from bingan.records.approvals import inbox
from bingan.records.qc import worklist as qc_worklist
from bingan.storage.models import ApprovalRequest, CollectedItem, Grant, Record, Source, User, utcnow
from bingan.storage.models.approvals import OPEN_STATUSES
from bingan.web.deps import Ctx

EXPIRING_DAYS = 3  # a borrowing grant runs 7 days by default: three days leave time to renew
LISTED = 5  # rows per card; the card's link leads to the whole list


@dataclass(frozen=True)
class FailedSource:
    source: str
    reason: str
    count: int


@dataclass
class Todo:
    approvals: list[dict] = field(default_factory=list)
    approvals_count: int = 0
    applications: list[dict] = field(default_factory=list)
    returned: list[Record] = field(default_factory=list)
    failed: list[FailedSource] = field(default_factory=list)
    expiring_mine: list[tuple[Grant, str, str]] = field(default_factory=list)  # grant, 病案号, user name
    expiring_all: list[tuple[Grant, str, str]] = field(default_factory=list)  # grant, 病案号, user name

    @property
    def empty(self) -> bool:
        return not (self.approvals or self.applications or self.returned or self.failed
                    or self.expiring_mine or self.expiring_all)


def todo_for(ctx: Ctx) -> Todo:
    todo = Todo()
    todo.approvals_count = inbox.todo_count(ctx.session, ctx.user)
    if todo.approvals_count:
        todo.approvals = [inbox.summary(row) for row in inbox.box(ctx.session, ctx.user, "todo", limit=LISTED)]
    todo.applications = [inbox.summary(row) for row in ctx.session.scalars(_open_applications(ctx).limit(LISTED))]
    todo.returned = returned_to_me(ctx)
    if ctx.can("system.status"):
        todo.failed = failed_collections(ctx)
    todo.expiring_mine = expiring_grants(ctx, _expiring().where(Grant.user_id == ctx.user.id))
    if ctx.can("grants.manage"):
        todo.expiring_all = expiring_grants(ctx, _expiring())
    return todo


def _open_applications(ctx: Ctx) -> sa.Select:
    return (sa.select(ApprovalRequest).where(ApprovalRequest.applicant_id == ctx.user.id,
                                             ApprovalRequest.status.in_(OPEN_STATUSES))
            .order_by(ApprovalRequest.id.desc()))


def returned_to_me(ctx: Ctx) -> list[Record]:
    """已退回 records whose attending or resident doctor is this user (by the name on the record) or
    whose QC return went to them (head of department, ward nurses), within what the gate lets them open."""
    name = ctx.user.full_name
    if not ctx.can("record.view"):
        return []
    mine = Record.id.in_(qc_worklist.returned_to(ctx.user).with_only_columns(Record.id).order_by(None))
    by_name = sa.or_(Record.attending_doctor == name, Record.resident_doctor == name) if name else sa.false()
    records = ctx.session.scalars(
        sa.select(Record).where(Record.status == "returned", sa.or_(by_name, mine))
        .order_by(Record.status_changed_at.desc(), Record.id.desc()))
    return [record for record in records if decide_for(ctx.subject, "view", record)]


def failed_collections(ctx: Ctx) -> list[FailedSource]:
    rows = ctx.session.execute(
        sa.select(Source.title, Source.name, CollectedItem.failure_reason, sa.func.count())
        .join(Source, Source.id == CollectedItem.source_id).where(CollectedItem.state == "failed")
        .group_by(Source.title, Source.name, CollectedItem.failure_reason)
        .order_by(sa.func.count().desc(), Source.name)
    ).all()
    return [FailedSource(title or name, reason or "未说明原因", count) for title, name, reason, count in rows]


def _expiring() -> sa.Select:
    now = utcnow()
    return (sa.select(Grant).where(Grant.revoked_at.is_(None), Grant.valid_until > now,
                                   Grant.valid_until <= now + timedelta(days=EXPIRING_DAYS))
            .order_by(Grant.valid_until, Grant.id))


def expiring_grants(ctx: Ctx, query: sa.Select) -> list[tuple[Grant, str, str]]:
    """(grant, 病案号, the grantee's name) rows of ``query``, ending first."""
    query = query.join(Record, Record.id == Grant.record_id).join(User, User.id == Grant.user_id)
    rows = ctx.session.execute(query.add_columns(Record.record_number, sa.func.coalesce(
        sa.func.nullif(User.full_name, ""), User.username)).limit(LISTED * 4)).all()
    return [(grant, number, name) for grant, number, name in rows]


# --- counts in the header --------------------------------------------------------------------

def applications_count(ctx: Ctx) -> int:
    """我的申请 still open (审批中 or 退回给我)."""
    return ctx.session.scalar(sa.select(sa.func.count()).select_from(_open_applications(ctx).subquery())) or 0


def home_count(ctx: Ctx) -> int:
    """What the home page lists besides approvals and applications (they have their own links):
    returned records, failed collections, grants ending soon."""
    count = len(returned_to_me(ctx))
    if ctx.can("system.status"):
        count += ctx.session.scalar(sa.select(sa.func.count()).where(CollectedItem.state == "failed")) or 0
    expiring = _expiring() if ctx.can("grants.manage") else _expiring().where(Grant.user_id == ctx.user.id)
    return count + (ctx.session.scalar(sa.select(sa.func.count()).select_from(expiring.subquery())) or 0)
