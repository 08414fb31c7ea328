"""Recall's timed jobs (run each tick, each in its own transaction): the reminder before the
deadline to resubmit, and the overdue mark when it passed."""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.access.audit import record_event
from bingan.records import lifecycle
from bingan.records.approvals.notifier import notify
from bingan.records.recall.service import doctors_of, last_day
from bingan.storage.models import Role, User
from bingan.storage.models.recall import Recall

REMIND_BEFORE = timedelta(days=2)


def remind_before_deadline(session: Session, now: datetime) -> int:
    """召回到期提醒: once, when the deadline is less than two days away."""
    due = session.scalars(sa.select(Recall).where(
        Recall.state == "recalled", Recall.reminded_at.is_(None), Recall.overdue_at.is_(None),
        Recall.deadline <= now + REMIND_BEFORE, Recall.deadline > now).order_by(Recall.id)).all()
    for recall in due:
        recall.reminded_at = now
        for user in doctors_of(session, recall):
            notify(session, user, "recall", f"召回病案 {recall.record.record_number} 将于 "
                   f"{last_day(recall):%Y-%m-%d} 到期，请尽快修改并重新提交", link=_link(recall))
    return len(due)


def mark_overdue(session: Session, now: datetime) -> int:
    """召回逾期: the deadline passed without resubmission; the doctors and the record room are told."""
    due = session.scalars(sa.select(Recall).where(
        Recall.state == "recalled", Recall.overdue_at.is_(None), Recall.deadline <= now).order_by(Recall.id)).all()
    archivists = list(session.scalars(sa.select(User).join(User.roles).where(User.active, Role.code == "archivist")))
    for recall in due:
        recall.overdue_at = now
        title = f"召回病案 {recall.record.record_number} 已逾期未重新提交（期限 {last_day(recall):%Y-%m-%d}）"
        for user in {user.id: user for user in [*doctors_of(session, recall), *archivists]}.values():
            notify(session, user, "recall", title, link=_link(recall))
        record_event(session, lifecycle.SYSTEM, "recall.overdue", object_type="recall", object_id=recall.id,
                     record_id=recall.record_id, detail={"截止": recall.deadline.isoformat()})
    return len(due)


def _link(recall: Recall) -> str:
    return f"/records/{recall.record_id}/recall"
