"""The archive-rate report through the app (JSON, page, xlsx) and the calendar administration with
its warning on the administrator's home page (December 2026: no arrangement for 2027 yet)."""
from __future__ import annotations

import io
from datetime import UTC, datetime

import openpyxl
import pytest
from web_helpers import csrf_of

from bingan.storage.db import session_factory
from bingan.storage.models import Record


@pytest.fixture
def submitted(app, web_engine, world):
    """The world's cardiology record, discharged 2026-03-10 (Tuesday), submitted on Friday 03-13:
    within the 3-day deadline, not within 2 working days."""
    with session_factory(web_engine)() as session, session.begin():
        record = session.get(Record, world.records["normal"].id)
        record.submitted_at = datetime(2026, 3, 13, 2, 0, tzinfo=UTC)
    return world


def test_the_api_answers_rows_and_totals(client_for, submitted):
    answer = client_for("qc").get("/api/v1/reports/archive-rate?from=2026-03&to=2026-03&basis=emr")
    assert answer.status_code == 200, answer.text
    cardiology = next(row for row in answer.json()["rows"] if row["department"] == "心内科")
    assert cardiology["month"] == "2026-03" and cardiology["archived_within_deadline"] == 1
    assert cardiology["archived_within_2_days"] == 0
    assert answer.json()["totals"]["discharged"] == len(submitted.records)


def test_a_bad_month_is_a_400_in_chinese(client_for, submitted):
    answer = client_for("qc").get("/api/v1/reports/archive-rate?from=2026-13&to=2026-03")
    assert answer.status_code == 400 and "YYYY-MM" in answer.json()["detail"]


def test_a_clinician_may_not_read_the_report(client_for, submitted):
    assert client_for("clinician").get("/api/v1/reports/archive-rate?from=2026-03&to=2026-03").status_code == 403


def test_the_page_draws_the_chart_and_the_table_and_exports_xlsx(client_for, submitted):
    archivist = client_for("archivist")
    page = archivist.get("/reports/archive-rate?from=2026-03&to=2026-03&basis=emr")
    assert page.status_code == 200 and 'id="archive-rate-chart"' in page.text and "心内科" in page.text
    export = archivist.get("/reports/archive-rate.xlsx?from=2026-03&to=2026-03&basis=emr")
    sheet = openpyxl.load_workbook(io.BytesIO(export.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("出院月份", "科室", "出院病历数") and rows[-1][:2] == ("合计", "全院")


def test_the_administrator_is_warned_about_2027_until_it_is_confirmed(client_for, submitted):
    admin = client_for("sysadmin")
    assert "节假日表缺少 2027 年的安排" in admin.get("/?home=1").text
    token = csrf_of(admin.get("/admin/calendar?year=2027").text)
    admin.post("/admin/calendar/days", data={"day": "2027-01-01", "kind": "holiday", "name": "元旦",
                                            "csrf_token": token})
    answer = admin.post("/admin/calendar/years", data={"year": "2027", "confirmed": "true", "csrf_token": token},
                        follow_redirects=False)
    assert answer.status_code == 303
    assert "calendar-warning" not in admin.get("/?home=1").text
    assert "元旦" in admin.get("/admin/calendar?year=2027").text


def test_a_make_up_workday_on_a_weekday_is_refused_with_the_reason(client_for, submitted):
    admin = client_for("sysadmin")
    token = csrf_of(admin.get("/admin/calendar").text)
    answer = admin.post("/admin/calendar/days", data={"day": "2027-01-04", "kind": "workday", "csrf_token": token})
    assert answer.status_code == 400 and "本来就上班" in answer.text


def test_deadlines_are_edited_on_the_calendar_page(client_for, submitted):
    admin = client_for("sysadmin")
    token = csrf_of(admin.get("/admin/calendar").text)
    admin.post("/admin/calendar/deadlines", data={"normal": "4", "death": "5", "special": "7", "csrf_token": token})
    assert 'name="normal" value="4"' in admin.get("/admin/calendar").text
