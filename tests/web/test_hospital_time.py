"""Dates in the hospital's time (BINGAN_TIME_ZONE, default Asia/Shanghai): a patient discharged at
07:30 on 1 March, Beijing time, is a 1 March discharge on every page, filter, API answer and export."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from web_helpers import csrf_of
from world import build_world

from bingan import clock
from bingan.storage.db import session_factory

EARLY_MORNING = datetime(2026, 2, 28, 23, 30, tzinfo=UTC)  # 2026-03-01 07:30 Beijing
NEW_YEAR = datetime(2025, 12, 31, 17, 0, tzinfo=UTC)  # 2026-01-01 01:00 Beijing


@pytest.fixture
def world(web_engine):
    """The test hospital, its normal record (0000001) discharged early on 1 March, Beijing time."""
    with session_factory(web_engine)() as session, session.begin():
        built = build_world(session)
        built.records["normal"].admitted_at = NEW_YEAR
        built.records["normal"].discharged_at = EARLY_MORNING
    return built


def hit_numbers(client, **params) -> list[str]:
    return re.findall(r'class="record-link">(\d+) ·', client.get("/search", params=params).text)


def test_a_month_filter_finds_a_discharge_early_on_its_first_day(client_for):
    assert "0000001" in hit_numbers(client_for("clinician"), q="肺炎 出院:2026-03")


def test_the_search_forms_date_fields_are_the_hospitals_days(client_for):
    clinician = client_for("clinician")
    assert "0000001" in hit_numbers(clinician, q="肺炎", **{"from": "2026-03-01", "to": "2026-03-01"})
    assert "0000001" not in hit_numbers(clinician, q="肺炎", **{"from": "2026-02-01", "to": "2026-02-28"})


def test_a_search_result_shows_the_hospitals_discharge_day(client_for):
    page = client_for("clinician").get("/search", params={"q": "病案号:0000001"}).text
    assert "出院 2026-03-01" in page


def test_the_admission_year_boundary_is_the_hospitals(client_for):
    page = client_for("clinician").get("/search", params={"q": "病案号:0000001 入院:2026"}).text
    assert 'class="record-link">0000001' in page


def test_api_datetimes_carry_the_hospitals_offset(client_for, world):
    summary = client_for("clinician").get(f"/api/v1/records/{world.records['normal'].id}").json()
    assert summary["discharged_at"] == "2026-03-01T07:30:00+08:00"
    assert summary["admitted_at"] == "2026-01-01T01:00:00+08:00"


def test_api_search_gives_the_hospitals_discharge_day(client_for):
    found = client_for("clinician").get("/api/v1/search", params={"q": "病案号:0000001"}).json()
    assert [r["discharged_at"] for r in found["records"]] == ["2026-03-01"]


def test_api_audit_times_carry_the_offset(client_for):
    events = client_for("auditor").get("/api/v1/audit", params={"action": "login"}).json()["events"]
    assert events and all(re.search(r"\+08:00$", e["at"]) for e in events)


def _stamp_near_now(name: str, prefix: str) -> bool:
    """The file name's time is the hospital's present minute (or the one just before)."""
    now = clock.now()
    stamps = {f"{prefix}-{moment:%Y%m%d-%H%M}.xlsx" for moment in (now, now - timedelta(minutes=1))}
    return name in stamps


def test_the_audit_export_is_named_in_the_hospitals_time(client_for):
    export = client_for("auditor").get("/admin/audit/export.xlsx")
    name = re.search(r'filename="([^"]+)"', export.headers["content-disposition"])[1]
    assert _stamp_near_now(name, "audit")


def test_the_lookup_export_is_named_in_the_hospitals_time(client_for):
    archivist = client_for("archivist")
    token = csrf_of(archivist.get("/lookup").text)
    export = archivist.post("/lookup/export", data={"text": "0000001", "csrf_token": token})
    name = re.search(r'filename="([^"]+)"', export.headers["content-disposition"])[1]
    assert _stamp_near_now(name, "lookup")
