"""超期提醒: once a day, records past their archive deadline and not archived are told to whoever
must act — QC reviewers while the record waits in QC, its doctors while it waits for them — once
per record (issue 17, item 5)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from conftest import submitted_record

from bingan.records import lifecycle
from bingan.records.qc.scheduled import remind_overdue
from bingan.storage.models import Message

# Discharged 30 November (Monday): three working days later the deadline is 3 December.
OVERDUE = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)  # 09:00 on Monday 7 December in Beijing
IN_TIME = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)


def _told(session, kind: str = "overdue") -> dict[str, list[str]]:
    rows = session.execute(sa.select(Message.user_id, Message.title, Message.link).where(Message.kind == kind))
    found: dict[str, list[str]] = {}
    for user_id, title, link in rows:
        found.setdefault(user_id, []).append(f"{title} {link}")
    return found


def test_a_record_waiting_in_qc_past_its_deadline_is_told_to_its_qc_reviewers(session, world, record):
    assert remind_overdue(session, OVERDUE) == 1
    told = _told(session)
    assert told[world.users["qc"].id] == [f"病案 0100001 已超过归档时限（2026-12-03） /qc/{record.id}"]
    assert world.users["attending"].id not in told and world.users["clinician"].id not in told


def test_a_record_waiting_for_its_doctors_is_told_to_them(session, world):
    record = submitted_record(session, world, "0100002")
    lifecycle.move(session, lifecycle.SYSTEM, record, "qc", "测试")
    lifecycle.move(session, lifecycle.SYSTEM, record, "returned", "测试")
    remind_overdue(session, OVERDUE)
    told = _told(session)
    assert told[world.users["attending"].id] == [f"病案 0100002 已超过归档时限（2026-12-03） /records/{record.id}"]
    assert world.users["resident"].id in told and world.users["qc"].id not in told


def test_each_record_is_told_once_and_the_job_looks_once_a_day(session, world, record):
    remind_overdue(session, OVERDUE)
    assert remind_overdue(session, OVERDUE + timedelta(hours=1)) == 0  # the same day
    assert remind_overdue(session, OVERDUE + timedelta(days=1)) == 0  # told already
    assert len(_told(session)[world.users["qc"].id]) == 1


def test_records_within_their_deadline_or_archived_are_not_told(session, world, record):
    assert remind_overdue(session, IN_TIME) == 0
    lifecycle.move(session, lifecycle.SYSTEM, record, "qc", "测试")
    lifecycle.move(session, lifecycle.SYSTEM, record, "archived", "测试")
    assert remind_overdue(session, OVERDUE) == 0
    assert _told(session) == {}
