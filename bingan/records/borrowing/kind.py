"""The borrowing kind: an approved application becomes a time-bounded grant to read the record,
given in the transaction of the last approval (so the grant exists exactly when the request
says approved)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from bingan.access.administration import AdminError, grant_record_access
from bingan.access.audit import Actor
from bingan.errors import Refusal
from bingan.records.approvals.kinds import Kind
from bingan.storage.models import ApprovalRequest, Record, User

MAX_DAYS = 30
DEFAULT_DAYS = 7


def check_apply(_session: Session, _applicant: User, _record: Record, payload: dict) -> None:
    days = payload.setdefault("days", DEFAULT_DAYS)
    if not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise Refusal(f"借阅天数应为 1–{MAX_DAYS} 天")


def on_approved(session: Session, request: ApprovalRequest, actor: Actor) -> None:
    """The last approver grants: nobody grants what they could not do themselves."""
    approver = session.get(User, actor.user_id)
    try:
        grant = grant_record_access(session, actor, approver, request.applicant.username, request.record_id,
                                    ["view"], request.payload.get("days", DEFAULT_DAYS),
                                    f"借阅申请 {request.id}：{request.reason}"[:255])
    except AdminError as exc:
        raise Refusal(str(exc)) from exc
    grant.source = "borrowing"


BORROW = Kind("borrow", "借阅", check_apply=check_apply, on_approved=on_approved)
