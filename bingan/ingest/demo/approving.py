"""The demo's approvers agree: each open task of a request is approved by the user it waits on."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.access.audit import Actor
from bingan.records.approvals import engine
from bingan.storage.models import ApprovalRequest, ApprovalTask, User


def approve_through(session: Session, request: ApprovalRequest, opinion: str) -> None:
    """Step by step through the request's flow (科室审核, then 医务处 or 病案室…) until it is decided."""
    while request.status == "pending":
        task = session.scalars(sa.select(ApprovalTask).where(ApprovalTask.request_id == request.id,
                                                             ApprovalTask.done_at.is_(None))
                               .order_by(ApprovalTask.id)).first()
        approver = session.get(User, task.user_id)
        engine.decide(session, Actor.of(approver), approver, request.id, "approve", opinion)
