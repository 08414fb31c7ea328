"""Dates in the hospital's time (Asia/Shanghai by default): a discharge at 07:30 Beijing time on
1 March is a March discharge in date filters, the year facet and the hit, at every boundary."""
from __future__ import annotations

from datetime import date, datetime

import pytest

from bingan.config import reset_settings
from bingan.search.checking import Reference
from bingan.search.port import PageDoc, Scope, SearchIndex

EVERYONE = Scope(all_departments=True)


def discharged(rid: int, utc: datetime) -> PageDoc:
    """A page whose record left hospital at the naive UTC moment ``utc``, as the database returns it."""
    return PageDoc(record_id=rid, record_number=f"{rid:07d}", stay=1, document_id=rid, version_id=rid, page=1,
                   text="出院诊断：肺炎", department="0302", category="BC", category_name="病程记录",
                   admitted_at=datetime(utc.year - 1, 6, 1), discharged_at=utc)


DOCS = [
    discharged(1, datetime(2025, 2, 28, 15, 59)),  # 28 Feb 23:59 Beijing
    discharged(2, datetime(2025, 2, 28, 16, 0)),  # 1 Mar 00:00 Beijing
    discharged(3, datetime(2025, 2, 28, 23, 30)),  # 1 Mar 07:30 Beijing
    discharged(4, datetime(2025, 3, 31, 15, 59)),  # 31 Mar 23:59 Beijing
    discharged(5, datetime(2025, 3, 31, 16, 0)),  # 1 Apr 00:00 Beijing
    discharged(6, datetime(2024, 12, 31, 15, 59)),  # 31 Dec 2024 23:59 Beijing
    discharged(7, datetime(2024, 12, 31, 16, 0)),  # 1 Jan 2025 00:00 Beijing
]


@pytest.fixture
def index(make_index) -> SearchIndex:
    return make_index(DOCS)


def found(index: SearchIndex, query: str) -> set[int]:
    return {r.record_id for r in index.search(query, EVERYONE, limit=50, group_by_record=True).records}


@pytest.mark.parametrize(("query", "records"), [
    ("出院:2025-02-28", {1}),
    ("出院:2025-03-01", {2, 3}),
    ("出院:2025-03", {2, 3, 4}),
    ("出院:2025-04", {5}),
    ("出院:2024", {6}),
    ("出院:2025", {1, 2, 3, 4, 5, 7}),
    ("出院:2025-01-01", {7}),
    ("出院:2025-03-01..2025-03-31", {2, 3, 4}),
    ("出院:>=2025-03-01", {2, 3, 4, 5}),
    ("出院:<2025-03-01", {1, 6, 7}),
    ("年份:2025", {1, 2, 3, 4, 5, 7}),
    ("年份:2024", {6}),
])
def test_date_filters_take_the_hospitals_day_month_and_year(index, query, records):
    assert found(index, f"肺炎 {query}") == records


@pytest.mark.parametrize(("query", "records"), [("出院:2025-03", {2, 3, 4}), ("年份:2025", {1, 2, 3, 4, 5, 7})])
def test_the_brute_force_checker_reads_dates_as_the_index_does(query, records):
    pages = Reference(DOCS).search(query, EVERYONE)
    assert {d.record_id for d in DOCS if d.doc_id in pages} == records


def test_a_hit_shows_the_hospitals_discharge_day(index):
    result = index.search("肺炎", EVERYONE, limit=50, group_by_record=True)
    hits = {r.record_id: r.discharged_at for r in result.records}
    assert hits[3] == date(2025, 3, 1) and hits[1] == date(2025, 2, 28) and hits[7] == date(2025, 1, 1)


def test_the_year_facet_counts_the_hospitals_year(index):
    years = dict(index.search("肺炎", EVERYONE, limit=1, facets=True).facets["year"])
    assert years == {"2025": 6, "2024": 1}


def test_another_time_zone_setting_moves_the_boundary(make_index, monkeypatch):
    monkeypatch.setenv("BINGAN_TIME_ZONE", "Europe/London")
    reset_settings()
    try:
        london = make_index(DOCS)
        assert found(london, "肺炎 出院:2025-03") == {4, 5}
    finally:
        monkeypatch.delenv("BINGAN_TIME_ZONE")
        reset_settings()
