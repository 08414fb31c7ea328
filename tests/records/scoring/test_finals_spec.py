"""The final-QC records list (终末质控病历)'s specification on SQLite and PostgreSQL: each filter —
patient name, 住院号, discharge department, length of stay (hospital calendar days, at least one),
grade, reviewer, task — paging, and the export's rows."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from scoring_support import actor, discharged

from bingan.access.policy import load_subject
from bingan.records.scoring import finals, service, tasks
from bingan.storage.models import Document
from bingan.storage.models.scoring import ScoringTaskRecord


@pytest.fixture
def scored(session, world):
    """Four cardiology/respiratory records scored in two tasks by two reviewers: 甲, 乙, 丙 and 甲."""
    records = [
        discharged(session, world, 1, stay_days=3, document=True),
        discharged(session, world, 2, stay_days=10, department=world.respiratory, document=True),
        # admitted 23:30 and discharged 00:30 Beijing time the next day: 1 calendar day
        discharged(session, world, 3, discharged_at=datetime(2026, 11, 19, 16, 30, tzinfo=UTC), stay_days=0,
                   document=True),
        discharged(session, world, 4, stay_days=30, document=True),
    ]
    records[2].admitted_at = datetime(2026, 11, 19, 15, 30, tzinfo=UTC)
    session.commit()
    qc, archivist = world.users["qc"], world.users["archivist"]
    first = tasks.create(session, actor(archivist), archivist, "第一批", tasks.Rule(month="2026-11", count=12),
                         [qc.id, archivist.id], seed=1)
    session.flush()
    deductions = {records[0].id: [], records[1].id: [("12.2", 6)], records[2].id: [("15.1", 1)],
                  records[3].id: [("1.2", 1)]}
    for assignment in session.scalars(sa.select(ScoringTaskRecord).where(ScoringTaskRecord.task_id == first.id)):
        if assignment.record_id not in deductions:
            continue
        user = qc if assignment.reviewer_id == qc.id else archivist
        score = service.open_score(session, actor(user), user, assignment)
        document = session.scalars(sa.select(Document).where(Document.record_id == assignment.record_id)).first()
        for code, times in deductions[assignment.record_id]:
            service.add_deduction(session, actor(user), user, score, code, times, document.id, 1, "")
        service.submit(session, actor(user), user, score)
    session.commit()
    return {"records": records, "task": first}


def _find(session, world, **ask) -> list[str]:
    found = finals.search(session, load_subject(session, world.users["qc"]), finals.Query(**ask))
    return sorted(score.record.record_number for score in found.rows)


def test_filter_by_patient_name_and_inpatient_number(session, world, scored):
    assert _find(session, world, name="吴") == ["0200001"]
    assert _find(session, world, inpatient_number="ZY0200002") == ["0200002"]
    assert _find(session, world, inpatient_number="ZY02") == []  # 住院号 matches whole


def test_filter_by_discharge_department(session, world, scored):
    assert _find(session, world, department="0302") == ["0200002"]


@pytest.mark.parametrize(("low", "high", "numbers"), [
    (None, 1, ["0200003"]),       # the night stay counts as one day
    (1, 3, ["0200001", "0200003"]),
    (4, None, ["0200002", "0200004"]),
    (10, 10, ["0200002"]),
    (31, None, []),
])
def test_filter_by_length_of_stay(session, world, scored, low, high, numbers):
    assert _find(session, world, stay_from=low, stay_to=high) == numbers


def test_filter_by_grade(session, world, scored):
    assert _find(session, world, grade="甲") == ["0200001", "0200004"]
    assert _find(session, world, grade="乙") == ["0200002"]  # 6 × 2 = 12 capped at the section's 18: 88
    assert _find(session, world, grade="丙") == ["0200003"]  # 单项否决 forces 丙


def test_filter_by_reviewer_and_task(session, world, scored):
    archivist = world.users["archivist"].id
    by_archivist = _find(session, world, reviewer_id=archivist)
    assert by_archivist and set(by_archivist) < {"0200001", "0200002", "0200003", "0200004"}
    assert _find(session, world, task_id=scored["task"].id) == ["0200001", "0200002", "0200003", "0200004"]
    assert _find(session, world, task_id=scored["task"].id + 1) == []


def test_a_page_at_a_time(session, world, scored):
    subject = load_subject(session, world.users["qc"])
    first = finals.search(session, subject, finals.Query(per_page=3))
    second = finals.search(session, subject, finals.Query(per_page=3, page=2))
    assert (first.total, len(first.rows), len(second.rows)) == (4, 3, 1)


def test_the_export_rows_carry_the_filtered_scores(session, world, scored):
    subject = load_subject(session, world.users["qc"])
    rows = [finals.cells(score) for score in finals.every(session, subject, finals.Query(grade="丙"))]
    assert [(r[0], r[7], r[9]) for r in rows] == [("0200003", 1, "丙")]
