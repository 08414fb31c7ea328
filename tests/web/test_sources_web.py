"""Sources on screen (系统设置 → 采集源) through the pages and the JSON API: the system administrator
sets a source up, tests its connection against a real peer, runs it, maps its codes, gives a push
system its key once, previews the next basic-data sync with names masked, and keeps the
record-number aliases; a mistake is answered in Chinese and changes nothing."""
from __future__ import annotations

import re
import socket
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from test_qc_api import _api
from web_helpers import csrf_of

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/peers as the "peers" package

from peers.emr import EmrState, make_app
from peers.loopback import Served

from bingan.storage.db import session_factory
from bingan.storage.models import CollectedItem, CollectionRound, Patient, Record, RecordNumberAlias, Source

PULL = {"name": "emr", "title": "电子病历系统", "kind": "emr", "transport": "http_pull",
        "periods": [{"days": [1, 2, 3, 4, 5], "start": "22:00", "end": "06:00"}], "collection_delay_hours": 6,
        "credentials": {"token": "emr-t0ken"}}


@pytest.fixture
def emr():
    state = EmrState()
    with Served(make_app(state)) as url:
        yield state, url


@pytest.fixture
def admin(client_for) -> TestClient:
    return client_for("sysadmin")


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_http_pull_source_is_created_tested_and_run_through_the_api(admin, emr):
    _state, url = emr
    made = _api(admin, "POST", "/api/v1/sources", {**PULL, "endpoint": url})
    assert made.status_code == 201, made.text
    source = made.json()
    assert source["credentials_set"] == ["token"] and "emr-t0ken" not in made.text
    assert source["periods"] == PULL["periods"] and source["visit_type"] == "inpatient"

    tested = _api(admin, "POST", f"/api/v1/sources/{source['id']}/test")
    assert tested.json() == {"ok": True, "message": "连接成功：文书变更列表接口应答正常（HTTP 200）"}
    run = _api(admin, "POST", f"/api/v1/sources/{source['id']}/run")
    assert run.status_code == 202 and run.json()["next_run_at"]

    read = admin.get(f"/api/v1/sources/{source['id']}").json()
    assert read["runs"] == [] and read["mappings"] == [] and "emr-t0ken" not in str(read)
    assert [s["name"] for s in admin.get("/api/v1/sources").json()["sources"]] == ["emr"]


def test_a_connection_test_against_a_closed_port_says_why_in_chinese(admin):
    made = _api(admin, "POST", "/api/v1/sources", {**PULL, "endpoint": f"http://127.0.0.1:{_closed_port()}/api"})
    tested = _api(admin, "POST", f"/api/v1/sources/{made.json()['id']}/test").json()
    assert tested["ok"] is False and tested["message"].startswith("连接失败：对方拒绝连接")


def test_a_folder_source_is_tested_by_its_folder(admin, tmp_path):
    share = tmp_path / "ecg-share"
    share.mkdir()
    (share / "0012345_1_C0201_A1.pdf").write_bytes(b"%PDF-1.4")
    made = _api(admin, "POST", "/api/v1/sources", {"name": "ecg", "transport": "folder", "endpoint": str(share)})
    assert _api(admin, "POST", f"/api/v1/sources/{made.json()['id']}/test").json() == {
        "ok": True, "message": "目录可访问，当前有 1 个待采集文件"}
    _api(admin, "PUT", f"/api/v1/sources/{made.json()['id']}", {"endpoint": str(share / "gone")})
    assert "共享目录不存在" in _api(admin, "POST", f"/api/v1/sources/{made.json()['id']}/test").json()["message"]


def test_put_changes_only_what_it_names_and_never_the_code(admin, emr):
    _state, url = emr
    source = _api(admin, "POST", "/api/v1/sources", {**PULL, "endpoint": url}).json()
    changed = _api(admin, "PUT", f"/api/v1/sources/{source['id']}",
                   {"name": "renamed", "recollect_days": 30, "visit_type": "outpatient", "enabled": False})
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["name"] == "emr" and body["recollect_days"] == 30 and body["visit_type"] == "outpatient"
    assert body["enabled"] is False and body["periods"] == PULL["periods"] and body["credentials_set"] == ["token"]
    refused = _api(admin, "PUT", f"/api/v1/sources/{source['id']}", {"endpoint": "emr.local"})
    assert refused.status_code == 400 and "地址格式不正确" in refused.json()["detail"]
    assert admin.get(f"/api/v1/sources/{source['id']}").json()["endpoint"] == url


def test_a_push_key_is_shown_once_and_works_until_revoked(admin, app):
    source = _api(admin, "POST", "/api/v1/sources", {"name": "lis", "kind": "lis", "transport": "http_push"}).json()
    issued = _api(admin, "POST", f"/api/v1/sources/{source['id']}/keys")
    assert issued.status_code == 201
    key = issued.json()["api_key"]
    assert key not in admin.get(f"/api/v1/sources/{source['id']}").text
    assert admin.get(f"/api/v1/sources/{source['id']}").json()["has_api_key"] is True
    with TestClient(app) as lis:
        assert lis.get("/api/v1/ingest/items/1", headers={"X-Api-Key": key}).status_code == 404  # known key
        _api(admin, "POST", f"/api/v1/sources/{source['id']}/keys/revoke")
        assert lis.get("/api/v1/ingest/items/1", headers={"X-Api-Key": key}).status_code == 401


def test_mapping_an_unmapped_code_queues_its_failed_items(admin, emr, web_engine):
    _state, url = emr
    source = _api(admin, "POST", "/api/v1/sources", {**PULL, "endpoint": url}).json()
    with session_factory(web_engine)() as session, session.begin():
        session.add(CollectedItem(source_id=source["id"], source_document_id="D1", revision="r1",
                                  record_number="0000001", document_type_code="BL01", title="病程记录",
                                  state="failed", failure_code="type_unknown"))
    assert admin.get(f"/api/v1/sources/{source['id']}").json()["unmapped"] == [
        {"code": "BL01", "items": 1, "title": "病程记录"}]
    page = admin.get(f"/admin/sources/{source['id']}")
    assert "BL01" in page.text and 'id="unmapped"' in page.text
    with session_factory(web_engine)() as session:
        type_id = session.scalar(sa.text("select id from document_types where code = 'C0302'"))
    form = {"source_code": "BL01", "document_type_id": str(type_id), "csrf_token": csrf_of(page.text)}
    mapped = admin.post(f"/admin/sources/{source['id']}/mappings", follow_redirects=True, data=form)
    assert "1 个因此失败的采集项已重新排队" in mapped.text and 'id="unmapped"' not in mapped.text


def test_the_source_form_keeps_what_was_typed_and_says_what_is_wrong(admin):
    form = admin.get("/admin/sources/new")
    answer = admin.post("/admin/sources", data={"name": "emr", "title": "电子病历系统", "transport": "ftp",
                                                "endpoint": "10.0.0.5", "periods": "1-5 22:00-06:00",
                                                "enabled": "on", "csrf_token": csrf_of(form.text)})
    assert answer.status_code == 400 and "ftp://主机:21/目录" in answer.text
    assert 'value="电子病历系统"' in answer.text and "1-5 22:00-06:00" in answer.text
    assert admin.get("/api/v1/sources").json()["sources"] == []


def test_a_source_is_created_and_edited_on_its_page(admin, emr):
    _state, url = emr
    form = admin.get("/admin/sources/new")
    created = admin.post("/admin/sources", follow_redirects=True, data={
        "name": "emr", "title": "电子病历系统", "kind": "emr", "transport": "http_pull", "endpoint": url,
        "periods": "每天 00:00-24:00", "interval_minutes": "10", "enabled": "on", "password": "p",
        "username": "bingan", "csrf_token": csrf_of(form.text)})
    assert created.status_code == 200 and "采集源已创建" in created.text and "已设置：用户名、密码" in created.text
    source_id = int(re.search(r"/admin/sources/(\d+)/test", created.text).group(1))
    saved = admin.post(f"/admin/sources/{source_id}", follow_redirects=True, data={
        "title": "电子病历", "kind": "emr", "transport": "http_pull", "endpoint": url, "periods": "1-5 08:00-18:00",
        "interval_minutes": "abc", "csrf_token": csrf_of(created.text)})
    assert saved.status_code == 400 and "采集间隔须为非负整数" in saved.text
    tested = admin.post(f"/admin/sources/{source_id}/test", data={"csrf_token": csrf_of(created.text)})
    assert 'id="probe-result" class="good"' in tested.text and "连接成功" in tested.text
    assert admin.get("/admin/sources").text.count("电子病历系统") == 1


def test_the_basic_data_preview_maps_the_next_sync_masks_names_and_writes_nothing(admin, emr, web_engine):
    state, url = emr
    state.basic["patients"] = [{"BAH": "0099001", "XM": "欧阳娜娜", "XB": "F"}]
    state.basic["stays"] = [{"BAH": "0099001", "ZYCS": 1, "JZLX": "门诊"}]
    source = _api(admin, "POST", "/api/v1/sources", {"name": "his", "transport": "basic_data", "endpoint": url}).json()
    fields = {"patients": {"record_number": "BAH", "name": "XM", "sex": "XB"},
              "stays": {"record_number": "BAH", "stay": "ZYCS", "visit_type": "JZLX"}}
    assert _api(admin, "PUT", f"/api/v1/sources/{source['id']}/fields", {"field_mapping": fields}).status_code == 200
    preview = admin.get(f"/api/v1/sources/{source['id']}/preview").json()["entities"]
    patients = next(p for p in preview if p["entity"] == "patients")
    assert patients["total"] == 1 and patients["rows"][0]["name"] == "欧***" and patients["rows"][0]["sex"] == "F"
    stays = next(p for p in preview if p["entity"] == "stays")
    assert stays["rows"][0]["visit_type"] == "门诊" and stays["rows"][0]["stay"] == "1"
    assert "欧阳娜娜" not in admin.get(f"/admin/sources/{source['id']}/preview").text
    with session_factory(web_engine)() as session:
        assert session.scalar(sa.text("select count(*) from patients where record_number = '0099001'")) == 0


def test_record_number_aliases_are_kept_on_their_page(admin, world):
    page = admin.get("/admin/record-aliases")
    added = admin.post("/admin/record-aliases", follow_redirects=True, data={
        "alias": "ZY2026001", "record_number": world.records["normal"].record_number, "kind": "inpatient",
        "csrf_token": csrf_of(page.text)})
    assert "“ZY2026001”已对照到病案号" in added.text and "住院号" in added.text
    refused = admin.post("/admin/record-aliases", follow_redirects=True, data={
        "alias": world.records["sealed"].record_number, "record_number": world.records["normal"].record_number,
        "kind": "old", "csrf_token": csrf_of(page.text)})
    assert "本身是一个病案号" in refused.text
    listed = admin.get("/api/v1/record-aliases", params={"q": "ZY2026001"}).json()
    assert listed["total"] == 1 and listed["aliases"][0]["kind"] == "inpatient"


def test_aliases_sync_from_a_basic_data_source(admin, emr, web_engine):
    state, url = emr
    state.basic["aliases"] = [{"alias": "ZY77", "record_number": "0000001"}]
    source = _api(admin, "POST", "/api/v1/sources", {"name": "his", "transport": "basic_data", "endpoint": url}).json()
    synced = _api(admin, "POST", "/api/v1/record-aliases/sync", {"source_id": source["id"]})
    assert synced.json() == {"saved": 1, "refused": []}
    with session_factory(web_engine)() as session:
        assert session.scalar(sa.select(RecordNumberAlias.record_number).where(RecordNumberAlias.alias == "ZY77")) \
            == "0000001"


def test_the_emr_completion_event_starts_a_round_across_the_pull_sources(admin, app, emr, web_engine):
    _state, url = emr
    _api(admin, "POST", "/api/v1/sources", {**PULL, "endpoint": url, "collection_delay_hours": 0})
    push = _api(admin, "POST", "/api/v1/sources", {"name": "emr_events", "transport": "http_push"}).json()
    key = _api(admin, "POST", f"/api/v1/sources/{push['id']}/keys").json()["api_key"]
    with session_factory(web_engine)() as session, session.begin():
        patient = Patient(record_number="0099002", name="孙丽", sex="F")
        record = Record(patient=patient, record_number="0099002", stay_number=1)
        session.add_all([patient, record])
        session.flush()
        record_id = record.id
    with TestClient(app) as emr_system:
        answer = emr_system.post("/api/v1/ingest/events", headers={"X-Api-Key": key}, json={
            "event": "record_complete", "record_number": "0099002", "stay": 1})
    assert answer.status_code == 200, answer.text
    assert [r["source"] for r in answer.json()["collection"]] == ["emr"]
    with session_factory(web_engine)() as session:
        assert session.scalar(sa.select(CollectionRound.record_id)) == record_id


def test_only_the_system_administrator_edits_sources(client_for, web_engine):
    for role in ("archivist", "secadmin", "auditor"):
        client = client_for(role)
        assert client.get("/admin/sources").status_code == 403
        assert _api(client, "POST", "/api/v1/sources", {"name": "x", "transport": "http_push"}).status_code == 403
    with session_factory(web_engine)() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Source)) == 0
