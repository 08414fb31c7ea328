"""Facets and results (issue 10 item 5): facets say what they count and count records; a facet
click puts its readable name into the query once; the 住院号 and the campus show on results and
the record page, and the 住院号 finds its record."""
from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from world import build_world

from bingan.storage.db import session_factory


@pytest.fixture
def world(web_engine):
    """The test hospital (each record: one three-page document); the normal record's stay has 住院号 ZY2026001."""
    with session_factory(web_engine)() as session, session.begin():
        built = build_world(session)
        built.records["normal"].inpatient_number = "ZY2026001"
    return built


def search(client, **params) -> str:
    return client.get("/search", params=params).text


def facet_links(page: str) -> dict[str, str]:
    """Facet text → the query its link asks for."""
    aside = page[page.index('class="facets'):page.index("</aside>")]
    return {unescape(text): parse_qs(urlsplit(unescape(href)).query).get("q", [""])[0]
            for href, text in re.findall(r'href="([^"]+)">([^<]+)</a>', aside)}


def test_facets_are_labelled_by_what_they_are(client_for):
    page = search(client_for("clinician"), q="肺炎")
    assert "<h3>文书类别</h3>" in page and "<h3>病案类型</h3>" in page and "病案分类" not in page


def test_facet_counts_are_records_as_the_headline(client_for):
    page = search(client_for("clinician"), q="病案号:0000001")  # all three pages of one record
    assert "共 1 份病案，3 页命中" in page
    assert facet_links(page) and all(text.endswith("（1）") for text in facet_links(page))


def test_a_facet_click_puts_the_readable_name_in_the_query(client_for):
    links = facet_links(search(client_for("clinician"), q="肺炎"))
    assert links["心内科（1）"] == "肺炎 科室:心内科"  # the clinician's own department
    assert links["普通（2）"] == "肺炎 病案类型:普通"  # and a record granted from another


def test_a_facet_already_in_the_query_is_not_added_again(client_for):
    links = facet_links(search(client_for("clinician"), q="肺炎 科室:心内科"))
    assert links["心内科（1）"] == "肺炎"  # the chosen facet's link takes it out again


def test_the_readable_facet_query_finds_the_same_records(client_for):
    clinician = client_for("clinician")
    assert "共 1 份病案" in search(clinician, q="肺炎 科室:心内科")
    assert "共 2 份病案" in search(clinician, q="肺炎 病案类型:普通")


def test_a_result_shows_the_inpatient_number_and_campus(client_for):
    page = search(client_for("clinician"), q="病案号:0000001")
    assert '住院号 <span class="inpatient-number">ZY2026001</span>' in page and "本院" in page


@pytest.mark.parametrize("query", ["住院号:ZY2026001", "ZY2026001", "inpatient:zy2026001"])
def test_the_inpatient_number_finds_its_record(client_for, query):
    assert re.findall(r'class="record-link">(\d+) ·', search(client_for("clinician"), q=query)) == ["0000001"]


def test_the_record_page_shows_the_inpatient_number_and_campus(client_for, world):
    page = client_for("clinician").get(f"/records/{world.records['normal'].id}").text
    assert "住院号：ZY2026001" in page and "院区：本院" in page
