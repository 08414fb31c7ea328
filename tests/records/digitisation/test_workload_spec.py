"""The digitisation workload on SQLite and PostgreSQL (数字化工作量, C7): pages captured, pages
reviewed and paper records archived, per person per hospital day and for the month; one person
alone; other months and records without captured pages left out; the xlsx rows."""
from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from completeness_support import make_record

from bingan.access.audit import Actor
from bingan.errors import Refusal
from bingan.records import lifecycle
from bingan.records.digitisation import service, workload
from bingan.storage.models import AuditEvent
from bingan.storage.models.digitisation import ScanPage, ScanReview

ADMISSION = "C02"
MARCH_2 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in the hospital
MARCH_2_LATE = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)  # 01:00 on 3 March in the hospital
APRIL_1 = datetime(2026, 4, 1, 2, 0, tzinfo=UTC)


@pytest.fixture
def operator(world) -> Actor:
    return Actor.of(world.users["archivist"], "10.0.0.9")


@pytest.fixture
def reviewer(world) -> Actor:
    return Actor.of(world.users["qc"], "10.0.0.10")


@pytest.fixture
def record(session, world):
    found = make_record(session, "0400001", documents=())
    session.commit()
    return found


def capture(session, operator, record, shot, when: datetime, count: int = 1) -> list[ScanPage]:
    pages = service.capture(session, operator, record, service.category_by_code(session, ADMISSION), [shot] * count)
    for page in pages:
        page.captured_at = when
    session.commit()
    return pages


def review(session, reviewer, page, when: datetime) -> None:
    service.review(session, reviewer, page, "pass")
    session.flush()
    session.scalars(sa.select(ScanReview).where(ScanReview.page_id == page.id)).one().decided_at = when
    session.commit()


def archive(session, actor, record, when: datetime) -> None:
    for status in ("submitted", "qc", "archived"):
        lifecycle.move(session, actor, record, status, "测试")
    session.flush()
    for event in session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "status",
                                                             AuditEvent.record_id == record.id)):
        event.at = when
    session.commit()


def counts(lines) -> list[tuple]:
    return [(line.name, line.day, line.captured, line.reviewed, line.archived) for line in lines]


def test_pages_captured_and_reviewed_count_per_person_per_hospital_day(session, world, operator, reviewer,
                                                                        record, shot):
    pages = capture(session, operator, record, shot, MARCH_2, count=3)
    capture(session, operator, record, shot, MARCH_2_LATE)
    for page in pages[:2]:
        review(session, reviewer, page, MARCH_2)
    result = workload.workload(session, "2026-03")
    archivist, qc = (world.users[role].full_name or world.users[role].username for role in ("archivist", "qc"))
    assert counts(result.days) == sorted([(archivist, date(2026, 3, 2), 3, 0, 0), (qc, date(2026, 3, 2), 0, 2, 0),
                                          (archivist, date(2026, 3, 3), 1, 0, 0)], key=lambda row: (row[1], row[0]))
    assert counts(result.people) == sorted([(archivist, None, 4, 0, 0), (qc, None, 0, 2, 0)])
    assert result.as_json()["totals"] == {"captured": 4, "reviewed": 2, "archived": 0}


def test_paper_records_archived_count_for_whoever_archived_them(session, world, operator, reviewer, record, shot):
    capture(session, operator, record, shot, MARCH_2)
    archive(session, reviewer, record, MARCH_2)
    electronic = make_record(session, "0400002", documents=())
    archive(session, reviewer, electronic, MARCH_2)  # no captured page: not digitisation work
    result = workload.workload(session, "2026-03", world.users["qc"].id)
    assert [(line.day, line.archived) for line in result.days] == [(date(2026, 3, 2), 1)]


def test_one_person_alone_and_other_months_left_out(session, world, operator, reviewer, record, shot):
    page = capture(session, operator, record, shot, MARCH_2)[0]
    capture(session, operator, record, shot, APRIL_1)
    review(session, reviewer, page, MARCH_2)
    march = workload.workload(session, "2026-03", world.users["archivist"].id)
    assert [(line.captured, line.reviewed) for line in march.people] == [(1, 0)]
    assert [line.captured for line in workload.workload(session, "2026-04").people] == [1]
    assert workload.workload(session, "2026-05").people == []


def test_the_sheet_has_each_day_then_the_month_per_person(session, world, operator, record, shot):
    capture(session, operator, record, shot, MARCH_2, count=2)
    name = world.users["archivist"].full_name or world.users["archivist"].username
    rows = workload.rows_for_sheet(workload.workload(session, "2026-03"))
    assert rows == [["2026-03-02", name, 2, 0, 0], ["本月合计", name, 2, 0, 0]]


def test_a_month_not_written_yyyy_mm_is_refused(session):
    with pytest.raises(Refusal, match="YYYY-MM"):
        workload.workload(session, "2026/03")
