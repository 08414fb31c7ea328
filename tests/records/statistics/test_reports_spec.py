"""The built-in reports and saved definitions over the generated October 2026 (conftest.py), and their
xlsx exports read back."""
from __future__ import annotations

import io
from datetime import UTC, datetime

import openpyxl
import pytest

from bingan.access.audit import Actor
from bingan.errors import Refusal
from bingan.records.statistics import blocks, service
from bingan.storage.models.release import CopyRequest

OCTOBER = blocks.period("2026-10-01", "2026-10-31")
ADMIN = Actor(None, "tester")


def _rows(table) -> dict[str, dict]:
    return {row.label: row.values for row in table.rows}


def test_paperless_counts_records_without_scanned_pages_per_department(session, month):
    rows = _rows(service.run_report(session, "paperless", OCTOBER, blocks.Filters()))
    assert rows["心内科"] == {"discharged": 2, "paperless": 1, "paperless_rate": 50.0, "archived": 2,
                              "paperless_archived": 1, "paperless_archive_rate": 50.0}
    assert rows["呼吸内科"]["paperless"] == 2 and rows["呼吸内科"]["paperless_archive_rate"] is None


def test_defective_records_are_failed_checks_and_open_missing_marks(session, month):
    rows = _rows(service.run_report(session, "defects", OCTOBER, blocks.Filters()))
    assert (rows["心内科"]["defective"], rows["呼吸内科"]["defective"]) == (1, 1)


def test_overdue_counts_the_death_record_never_submitted_past_its_five_working_days(session, month):
    table = service.run_report(session, "overdue", OCTOBER, blocks.Filters())
    rows = _rows(table)
    assert rows["呼吸内科"]["overdue"] == 1 and rows["呼吸内科"]["overdue_open"] == 1
    assert rows["心内科"]["overdue"] == 0 and table.totals.values["overdue_rate"] == 25.0


def test_a_report_groups_by_month_in_the_hospital_time_zone(session, month):
    table = service.run_report(session, "paperless", blocks.period("2026-09-01", "2026-10-31"), blocks.Filters(),
                               "month")
    assert [(row.label, row.values["discharged"]) for row in table.rows] == [("2026-09", 1), ("2026-10", 4)]


def test_a_report_over_three_years_of_days_counts_the_same_records(session, month):
    """More than 500 days: SQLite refuses a compound SELECT of more than 500 terms (the day table once was one)."""
    table = service.run_report(session, "overdue", blocks.period("2024-11-01", "2027-10-31"), blocks.Filters(),
                               "month")
    months = {row.label: row.values["discharged"] for row in table.rows}
    assert (months["2026-09"], months["2026-10"]) == (1, 4)
    year = service.run_report(session, "overdue", blocks.period("2026-01-01", "2026-12-31"), blocks.Filters())
    assert table.totals.values["discharged"] == year.totals.values["discharged"]  # every record is of 2026


def test_copying_groups_requests_by_purpose_with_pages_and_net_fees(session, month):
    user = month.world.users["copy_clerk"]
    day = datetime(2026, 10, 12, 2, 0, tzinfo=UTC)
    session.add_all([
        CopyRequest(applicant_type="patient", applicant_name="甲", purpose="医保报销", pages=10, copies=2,
                    fee_fen=1000, paid_at=day, created_by_id=user.id, created_at=day),
        CopyRequest(applicant_type="patient", applicant_name="乙", purpose="医保报销", pages=5, copies=1,
                    fee_fen=500, paid_at=day, refunded_at=day, created_by_id=user.id, created_at=day),
        CopyRequest(applicant_type="police", applicant_name="丙", purpose="办案", pages=3, copies=1,
                    created_by_id=user.id, created_at=day)])
    session.commit()
    rows = _rows(service.run_report(session, "copying", OCTOBER, blocks.Filters()))
    assert rows["医保报销"] == {"copies": 2, "copies_paid": 2, "copies_refunded": 1, "copy_pages": 25,
                               "copy_fee": 10}
    assert rows["办案"]["copies"] == 1
    lines = list(service.fee_lines(session, OCTOBER))
    assert [line[3] for line in lines] == ["甲", "乙"] and lines[0][8] == 10.0
    assert service.fee_totals(session, OCTOBER)["net"] == 10.0


def test_every_built_in_report_opens_and_its_xlsx_reads_back_row_for_row(session, month):
    for key, report in service.REPORTS.items():
        table = service.run_report(session, key, OCTOBER, blocks.Filters())
        sheet = openpyxl.load_workbook(io.BytesIO(service.table_xlsx(table, report.name))).worksheets[0]
        rows = list(sheet.iter_rows(values_only=True))
        assert len(rows) == len(table.rows) + 2, key  # header, rows, 合计
        assert rows[-1][0] == "合计"


def test_a_grouping_the_subject_does_not_have_is_refused(session, month):
    with pytest.raises(Refusal, match="不能按"):
        service.run_report(session, "copying", OCTOBER, blocks.Filters(), "department")


def test_a_saved_definition_is_run_for_the_roles_it_is_shared_with_only(session, month):
    saved = service.save_report(session, ADMIN, "各科缺陷率", "", {"dimension": "department",
                                "measures": ["discharged", "defect_rate"], "chart": "line"}, ["qc"])
    session.commit()
    qc, clinician = month.world.users["qc"], month.world.users["clinician"]
    assert [item.name for item in service.visible_reports(session, qc, False)] == ["各科缺陷率"]
    assert service.visible_reports(session, clinician, False) == []
    table = service.run_saved(session, saved, OCTOBER)
    assert _rows(table)["心内科"] == {"discharged": 2, "defect_rate": 50.0}


def test_a_definition_naming_something_outside_the_whitelist_is_refused(session, month):
    with pytest.raises(Refusal, match="不在可选范围"):
        service.save_report(session, ADMIN, "坏的", "", {"dimension": "department",
                                                        "measures": ["count(*); drop table records"]}, [])
