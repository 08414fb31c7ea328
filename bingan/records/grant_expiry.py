"""Timed job (the worker tick calls it): two days before a temporary grant (临时授权, given on the
grants page) ends, its holder is told once; extending the grant re-arms the reminder. Grants made
by an approved borrowing are reminded by borrowing itself (records/borrowing/scheduled.py)."""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan import clock
from bingan.records.approvals.notifier import notify
from bingan.storage.models import Grant, Record, User
from bingan.storage.models.borrowing import Borrowing

REMIND_BEFORE = timedelta(days=2)


def remind_expiring_grants(session: Session, now: datetime) -> int:
    borrowed = sa.select(Borrowing.grant_id).where(Borrowing.grant_id.is_not(None))
    ending = session.execute(
        sa.select(Grant, User, Record.record_number, Record.stay_number)
        .join(User, User.id == Grant.user_id).join(Record, Record.id == Grant.record_id)
        .where(Grant.revoked_at.is_(None), Grant.expiry_reminded_at.is_(None), Grant.valid_until > now,
               Grant.valid_until <= now + REMIND_BEFORE, Grant.id.not_in(borrowed), User.active.is_(True))
        .order_by(Grant.id)).all()
    for given, user, number, stay in ending:
        until = clock.local(given.valid_until)
        notify(session, user, "reminder",
               f"您对病案 {number}（第{stay}次住院）的临时授权即将到期（{until:%Y-%m-%d %H:%M}）",
               body="如需继续使用请联系授权人延长，到期后将自动收回。", link=f"/records/{given.record_id}")
        given.expiry_reminded_at = now
    return len(ending)
