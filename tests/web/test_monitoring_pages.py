"""The monitoring pages and API (采集监控) and the big screen as the record room and the system
administrator see them (issue 17, D1–D4)."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from web_helpers import csrf_headers, csrf_of

from bingan.storage.db import session_factory
from bingan.storage.models import CollectedItem, Source
from bingan.web.app import REPO_ROOT


@pytest.fixture
def lis(web_engine) -> dict[str, int]:
    """A source with one delivered report and two failed ones (a network failure, an unmapped type)."""
    with session_factory(web_engine)() as session, session.begin():
        source = Source(name="lis", title="检验系统", transport="http_pull", endpoint="http://127.0.0.1:9/api")
        session.add(source)
        session.flush()
        items = [CollectedItem(source_id=source.id, source_document_id=f"r{n}", record_number="0000001",
                               title="血常规", state=state, failure_code=code, failure_reason=reason,
                               resume_state="pending" if state == "failed" else "")
                 for n, (state, code, reason) in enumerate([("indexed", "", ""), ("failed", "net", "来源系统无法连接"),
                                                            ("failed", "type", "文书类型未对照")])]
        session.add_all(items)
        session.flush()
        return {"source": source.id, "net": items[1].id, "type": items[2].id}


def _state(web_engine, item_id: int) -> str:
    with session_factory(web_engine)() as session:
        return session.get(CollectedItem, item_id).state


def test_the_overview_lists_each_source_with_what_it_delivered_and_what_failed(client_for, lis):
    page = client_for("archivist").get("/monitoring")
    assert page.status_code == 200
    row = next(row for row in re.findall(r'<tr class="status-[^"]+">.*?</tr>', page.text, re.S) if "检验系统" in row)
    assert f"/monitoring/sources/{lis['source']}" in row
    assert [int(n) for n in re.findall(r"<td[^>]*>(\d+)</td>", row)] == [3, 1, 1, 0, 2]
    assert "没有采集进程的心跳" in page.text


def test_a_source_page_shows_failures_by_reason_runs_and_the_up_down_strip(client_for, lis):
    page = client_for("archivist").get(f"/monitoring/sources/{lis['source']}?window=7d")
    assert page.status_code == 200
    for text in ("来源系统无法连接", "文书类型未对照", "全部重试", "采集批次", "近24小时可达性", "0000001"):
        assert text in page.text
    assert page.text.count('class="cell none"') == 24


def test_the_system_administrator_sees_failures_without_record_numbers(client_for, lis):
    sysadmin = client_for("sysadmin")
    page = sysadmin.get(f"/monitoring/sources/{lis['source']}")
    assert page.status_code == 200 and "文书类型未对照" in page.text and "0000001" not in page.text
    detail = sysadmin.get(f"/api/v1/monitoring/sources/{lis['source']}").json()
    assert {item["record_number"] for item in detail["failed_items"]} == {None}


def test_retrying_one_failed_item_from_the_page(client_for, lis, web_engine):
    archivist = client_for("archivist")
    page = archivist.get(f"/monitoring/sources/{lis['source']}")
    answer = archivist.post(f"/monitoring/sources/{lis['source']}/retry",
                            data={"item_id": lis["net"], "csrf_token": csrf_of(page.text)}, follow_redirects=True)
    assert "已将 1 个失败项重新排队" in answer.text
    assert (_state(web_engine, lis["net"]), _state(web_engine, lis["type"])) == ("pending", "failed")


def test_retrying_a_reason_through_the_api(client_for, lis, web_engine):
    archivist = client_for("archivist")
    answer = archivist.post(f"/api/v1/monitoring/sources/{lis['source']}/retry", json={"failure_code": "type"},
                            headers=csrf_headers(archivist))
    assert answer.json() == {"retried": 1} and _state(web_engine, lis["type"]) == "pending"
    again = archivist.post(f"/api/v1/monitoring/sources/{lis['source']}/retry", json={"failure_code": "type"},
                           headers=csrf_headers(archivist))
    assert again.status_code == 400 and "没有可重试的失败项" in again.json()["detail"]


def test_the_sources_api_answers_each_sources_health(client_for, lis):
    answer = client_for("archivist").get("/api/v1/monitoring/sources?window=30d").json()
    source = next(row for row in answer["sources"] if row["id"] == lis["source"])
    assert (source["expected"], source["uploaded"], source["failed"], source["status"]) == (3, 1, 2, "正常")
    assert answer["window"] == "30d" and answer["workers"] == []


def test_an_unknown_source_is_404_and_a_bad_window_is_refused(client_for, lis):
    archivist = client_for("archivist")
    assert archivist.get("/api/v1/monitoring/sources/999999").status_code == 404
    assert archivist.get("/api/v1/monitoring/sources?window=year").status_code == 422


def test_monitoring_is_refused_to_clinicians(client_for, lis):
    clinician = client_for("clinician")
    assert clinician.get("/monitoring").status_code == 403
    assert clinician.get("/api/v1/monitoring/sources").status_code == 403
    assert clinician.get("/bigscreen").status_code == 403


def test_the_big_screen_page_loads_echarts_and_its_own_script_and_nothing_inline(client_for):
    page = client_for("archivist").get("/bigscreen")
    assert page.status_code == 200
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page.text, re.S)
    assert [attributes.split('"')[1] for attributes, _ in scripts] == [
        "/vendor/echarts/dist/echarts.min.js", "/static/bigscreen.js"]
    assert all(body.strip() == "" for _, body in scripts) and " style=" not in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]


@pytest.mark.skipif(not (REPO_ROOT / "node_modules" / "echarts").is_dir(), reason="npm install not run")
def test_echarts_is_served_from_npm_and_nothing_else_of_its_package(client_for):
    archivist = client_for("archivist")
    assert archivist.get("/vendor/echarts/dist/echarts.min.js").status_code == 200
    assert archivist.get("/vendor/echarts/package.json").status_code == 404


def test_the_big_screen_data_names_no_patient(client_for, lis, web_engine):
    with session_factory(web_engine)() as session:
        numbers = set(session.scalars(sa.text("SELECT record_number FROM records")))
        names = set(session.scalars(sa.text("SELECT name FROM patients")))
    answer = client_for("archivist").get("/api/v1/monitoring/bigscreen")
    assert answer.status_code == 200
    data = answer.json()
    assert data["totals"]["failed_waiting"] == 2 and data["collected_per_day"][-1]["count"] == 3
    assert {"name": "检验系统", "kind": "来源", "up": True, "status": "正常"} in data["services"]
    assert not any(value in answer.text for value in numbers | names | {"0000001"})
