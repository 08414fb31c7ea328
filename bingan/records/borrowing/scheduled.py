"""Timed job of borrowing (the worker tick calls it): two days before a borrowing ends its
borrower is reminded once (a renewal moves the end and re-arms the reminder)."""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan import clock
from bingan.access.audit import Actor, record_event
from bingan.records.approvals.notifier import notify
from bingan.storage.models import ApprovalRequest, Grant
from bingan.storage.models.borrowing import Borrowing

REMIND_BEFORE = timedelta(days=2)
SYSTEM = Actor(None, "系统")


def remind_expiring(session: Session, now: datetime) -> int:
    """到期提醒: borrowings running that end within two days of ``now``."""
    ending = session.scalars(
        sa.select(Borrowing).join(ApprovalRequest, ApprovalRequest.id == Borrowing.id)
        .join(Grant, Grant.id == Borrowing.grant_id)
        .where(ApprovalRequest.status == "approved", Borrowing.end_kind == "", Borrowing.expiry_reminded.is_(False),
               Grant.revoked_at.is_(None), Grant.valid_until > now, Grant.valid_until <= now + REMIND_BEFORE))
    count = 0
    for borrowing in ending:
        until = clock.local(borrowing.grant.valid_until)
        notify(session, borrowing.applicant, "reminder",
               f"您借阅的病案 {borrowing.record.record_number} 即将到期（{until:%Y-%m-%d %H:%M}）",
               body="如需继续查阅请申请续借，到期后将自动关闭查阅权限。", link=f"/borrowing/{borrowing.id}")
        borrowing.expiry_reminded = True
        record_event(session, SYSTEM, "borrow.remind", object_type="borrowing", object_id=borrowing.id,
                     record_id=borrowing.record_id, detail={"到期": until.isoformat()})
        count += 1
    return count
