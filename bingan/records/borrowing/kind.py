"""The borrowing kinds: an approved application (借阅) becomes a time-bounded grant of exactly that
record, those parts and those days; an approved renewal (续借) extends the same grant. Both run in
the transaction of the last approval, so the grant exists exactly when the request says approved."""
from __future__ import annotations

from sqlalchemy.orm import Session

from bingan.access import grants
from bingan.access.audit import Actor
from bingan.errors import Conflict, Refusal
from bingan.records.approvals.kinds import Kind
from bingan.records.borrowing import service
from bingan.storage.models import ApprovalRequest, Record, User
from bingan.storage.models.borrowing import Borrowing, BorrowRenewal


def check_apply(session: Session, applicant: User, _record: Record, payload: dict) -> None:
    payload["days"] = service.check_days(session, applicant, payload.get("days", service.DEFAULT_DAYS))


def on_approved(session: Session, request: ApprovalRequest, actor: Actor) -> None:
    """The last approver grants: nobody grants what they could not do themselves."""
    approver = session.get(User, actor.user_id)
    borrowing = session.get(Borrowing, request.id)
    try:
        grant = grants.grant(session, actor, approver, request.applicant.username, request.record_id, ["view"],
                             request.payload.get("days", service.DEFAULT_DAYS),
                             f"借阅申请 {request.id}：{request.reason}"[:255],
                             request.payload.get("categories") or None)
    except Refusal as exc:
        raise Refusal(f"无法授予借阅权限：{exc}") from exc
    grant.source = "borrowing"
    if borrowing is not None:
        session.flush()
        borrowing.grant_id = grant.id


def check_renew(session: Session, applicant: User, _record: Record, payload: dict) -> None:
    payload["days"] = service.check_days(session, applicant, payload.get("days", service.DEFAULT_DAYS))


def on_renewed(session: Session, request: ApprovalRequest, actor: Actor) -> None:
    renewal = session.get(BorrowRenewal, request.id)
    if renewal is None:
        raise Refusal("续借申请没有对应的借阅")
    borrowing = service.load(session, renewal.borrowing_id)
    if service.state_of(borrowing) != "lent":
        raise Conflict(f"该借阅{service.STATES[service.state_of(borrowing)]}，不能续借，请驳回")
    grants.extend(session, actor, borrowing.grant_id, renewal.days, f"续借申请 {request.id}")
    borrowing.days += renewal.days
    borrowing.expiry_reminded = False  # the new end gets its own reminder


BORROW = Kind("borrow", "借阅", check_apply=check_apply, on_approved=on_approved)
RENEW = Kind("renew", "续借", check_apply=check_renew, on_approved=on_renewed)
