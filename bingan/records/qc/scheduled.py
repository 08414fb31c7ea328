"""Timed job of archive QC (the worker tick calls it): once a day, records past their archive
deadline (归档时限) and not yet archived are told to whoever must act — the doctors while the
record waits for submission or was returned (经治医师、科主任), the QC reviewers of its current
step while it waits in QC — once per record (超期提醒)."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan import clock
from bingan.access.holders import users_holding
from bingan.records import calendar, lifecycle
from bingan.records.approvals.notifier import notify
from bingan.records.qc.service import current_review, may_review, route
from bingan.storage.models import Record, User
from bingan.storage.models.qc import QcOverdueNotice
from bingan.storage.system_settings import read_setting, write_setting

CHECKED = "qc.overdue_checked"  # system setting: the local day the records were last looked at
WITH_DOCTORS = ("awaiting", "returned")
WITH_QC = ("submitted", "qc")


def remind_overdue(session: Session, now: datetime) -> int:
    """超期提醒, at the first tick of each local day; returns how many records were told."""
    today = clock.local_date(now)
    if read_setting(session, CHECKED).get("day") == today.isoformat():
        return 0
    write_setting(session, CHECKED, {"day": today.isoformat()})
    told = 0
    for record in _candidates(session, today):
        deadline = calendar.archive_deadline(session, record)
        if deadline is None or today <= deadline:
            continue
        for user in responsible(session, record):
            notify(session, user, "overdue", f"病案 {record.record_number} 已超过归档时限（{deadline:%Y-%m-%d}）",
                   body=f"当前状态：{lifecycle.state_name(record.status)}。{_asked(record)}", link=_link(record))
        session.add(QcOverdueNotice(record_id=record.id, notified_at=now))
        told += 1
    return told


def _candidates(session: Session, today: date) -> list[Record]:
    """Not archived, not sealed, discharged before yesterday (every deadline is a day or more), not told yet."""
    told = sa.select(QcOverdueNotice.record_id)
    return list(session.scalars(sa.select(Record).where(
        Record.status.in_((*WITH_DOCTORS, *WITH_QC)), Record.sealed.is_(False),
        Record.discharged_at < clock.day_start(today - timedelta(days=1)), Record.id.not_in(told),
    ).order_by(Record.id)))


def responsible(session: Session, record: Record) -> list[User]:
    if record.status in WITH_DOCTORS:
        return [user for user, _kinds in route(session, record, {"medical"}).values()]
    review = current_review(session, record.id)
    return [user for user in users_holding(session, "qc.review") if may_review(session, user, record, review)]


def _asked(record: Record) -> str:
    if record.status in WITH_DOCTORS:
        return "请尽快完善病历并提交归档。"
    return "请尽快完成归档质控。"


def _link(record: Record) -> str:
    return f"/records/{record.id}" if record.status in WITH_DOCTORS else f"/qc/{record.id}"
