"""The archive-rate report against a table computed by hand, on the 2026 calendar: 国庆 10-01..07
放假 and 10-10 (Saturday) 调休上班; deadlines 普通 3, 死亡 5 working days; times are Beijing time.

| rec | dept | discharged  | kind   | submitted (EMR)  | 2 working days       | deadline       | complete         |
|-----|------|-------------|--------|------------------|----------------------|----------------|------------------|
| A   | 心内 | 09-30       | normal | 10-09 16:00      | yes (10-08, 10-09)   | yes (by 10-10) | yes              |
| B   | 心内 | 09-30       | normal | 10-10 09:00 调休 | no (3rd working day) | yes            | no: missing mark |
| C   | 心内 | 09-30       | normal | 10-11 Sunday     | no                   | no             | not archived     |
| D   | 呼吸 | 09-29       | death  | 10-09            | no (3rd working day) | yes (5 days)   | no: latest check |
| E   | 呼吸 | 09-15       | normal | never            | no                   | no             | not archived     |
| F   | 心内 | 10-01 假日  | normal | 10-09            | yes                  | yes            | yes (re-checked) |
| G   | 心内 | 10-12       | normal | 10-14 23:59      | yes                  | yes            | no               |
| H   | 心内 | 10-31 23:30 | normal | 11-03            | yes (11-02, 11-03)   | yes            | no               |
| I   | 外科 | 09-30       | 特殊 mark | 10-13 (5th)   | no                   | yes (special 7) | yes             |
I is of kind normal but marked special (教学病例): the special deadline (7 working days) is its own.
An outpatient visit on 09-30 is not counted.
"""
from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from bingan.errors import Refusal
from bingan.records.archive_rate import archive_rate
from bingan.storage.models import Department, Patient, Record
from bingan.storage.models.completeness import CheckFinding, CheckRun, Mark

BEIJING = ZoneInfo("Asia/Shanghai")


def _at(text: str) -> datetime:
    """Beijing wall time as the UTC instant the database stores."""
    return datetime.fromisoformat(text).replace(tzinfo=BEIJING).astimezone(UTC)


@pytest.fixture
def hospital(session: Session) -> Session:
    cardiology, respiratory = Department(code="C", name="心内科"), Department(code="R", name="呼吸内科")
    surgery = Department(code="S", name="普外科")
    session.add_all([cardiology, respiratory, surgery])
    session.flush()

    def record(number: str, department: Department, discharged: str, submitted: str | None = None, *,
               archived: bool = False, visit_type: str = "inpatient", **fields) -> Record:
        patient = Patient(record_number=number, name="测试")
        row = Record(patient=patient, record_number=number, visit_type=visit_type,
                     discharge_department_id=department.id, discharged_at=_at(discharged),
                     submitted_at=_at(submitted) if submitted else None,
                     archived_at=_at(submitted) if archived and submitted else None, **fields)
        session.add(row)
        session.flush()
        return row

    a = record("A", cardiology, "2026-09-30 10:00", "2026-10-09 16:00", archived=True,
               discharge_reviewed_at=_at("2026-10-08 09:00"))
    b = record("B", cardiology, "2026-09-30 11:00", "2026-10-10 09:00", archived=True)
    record("C", cardiology, "2026-09-30 12:00", "2026-10-11 10:00")
    d = record("D", respiratory, "2026-09-29 10:00", "2026-10-09 10:00", archived=True, kind="death")
    record("E", respiratory, "2026-09-15 10:00")
    f = record("F", cardiology, "2026-10-01 08:00", "2026-10-09 10:00", archived=True)
    record("G", cardiology, "2026-10-12 10:00", "2026-10-14 23:59")
    record("H", cardiology, "2026-10-31 23:30", "2026-11-03 10:00")
    record("O", cardiology, "2026-09-30 10:00", "2026-09-30 11:00", archived=True, visit_type="outpatient")
    i = record("I", surgery, "2026-09-30 09:00", "2026-10-13 10:00", archived=True)
    session.add(Mark(record_id=b.id, kind="missing", reason="病理报告未出"))
    session.add(Mark(record_id=i.id, kind="special", special_kind="教学病例", reason="教学"))
    _check(session, d, completeness_error=True)
    _check(session, f, completeness_error=True)
    _check(session, f, completeness_error=False)
    assert a.id
    session.commit()
    return session


def _check(session: Session, record: Record, *, completeness_error: bool) -> None:
    run = CheckRun(record_id=record.id, passed=not completeness_error, errors=int(completeness_error))
    if completeness_error:
        run.findings = [CheckFinding(check="completeness", severity="error", message="缺少出院记录")]
    session.add(run)
    session.flush()


def _table(report) -> list[tuple]:
    return [(row["month"], row["department"], row["discharged"], row["archived_within_deadline"],
             row["archived_within_2_days"], row["complete"]) for row in report.as_json()["rows"]]


def test_the_report_matches_the_hand_computed_table(hospital):
    report = archive_rate(hospital, "2026-09", "2026-10", "emr")
    assert _table(report) == [
        ("2026-09", "呼吸内科", 2, 1, 0, 0),
        ("2026-09", "心内科", 3, 2, 1, 1),
        ("2026-09", "普外科", 1, 1, 0, 1),
        ("2026-10", "心内科", 3, 3, 3, 1),
    ]
    totals = report.as_json()["totals"]
    assert (totals["discharged"], totals["archived_within_deadline"], totals["archived_within_2_days"],
            totals["complete"]) == (9, 7, 4, 3)


def test_rates_are_percentages_of_the_discharged(hospital):
    row = archive_rate(hospital, "2026-09", "2026-09").as_json()["rows"][1]
    assert (row["rate_deadline"], row["rate_2_days"], row["rate_complete"]) == (66.67, 33.33, 33.33)


def test_counting_from_the_discharge_review_time(hospital):
    report = archive_rate(hospital, "2026-09", "2026-09", "discharge_review")
    assert _table(report) == [("2026-09", "呼吸内科", 2, 0, 0, 0), ("2026-09", "心内科", 3, 1, 1, 1),
                              ("2026-09", "普外科", 1, 0, 0, 1)]


def test_a_month_in_another_format_is_refused_in_chinese(hospital):
    with pytest.raises(Refusal, match="YYYY-MM"):
        archive_rate(hospital, "2026-9", "2026-10")


def test_the_end_month_before_the_start_is_refused(hospital):
    with pytest.raises(Refusal, match="不能早于"):
        archive_rate(hospital, "2026-10", "2026-09")


def test_an_unknown_basis_is_refused(hospital):
    with pytest.raises(Refusal, match="统计口径"):
        archive_rate(hospital, "2026-09", "2026-10", "archived")

