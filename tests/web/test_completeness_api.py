"""Completeness through the app: submission and its refusal, the self-check report, marks, the
EMR's completion event, the rules and mapping pages — as the test hospital's users."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "records" / "completeness"))

from completeness_support import ORDINARY, make_record

from bingan.ingest.secrets import hash_api_key
from bingan.storage.db import session_factory
from bingan.storage.models import Category, CollectedItem, DocumentType, DocumentTypeAlias, Record, Source

API_KEY = "emr-test-key-0123456789"


def _api(client, method: str, url: str, json: dict | None = None):
    token = client.get("/api/v1/me").json()["csrf_token"]
    return client.request(method, url, json=json, headers={"X-CSRF-Token": token})


@pytest.fixture
def records(web_engine, world) -> dict[str, int]:
    """Two awaiting cardiology stays: one complete, one without its discharge record."""
    with session_factory(web_engine)() as session, session.begin():
        complete = make_record(session, "0100001")
        incomplete = make_record(session, "0100002", documents=tuple(d for d in ORDINARY if d != "出院记录"))
        return {"complete": complete.id, "incomplete": incomplete.id}


def _status(web_engine, record_id: int) -> str:
    with session_factory(web_engine)() as session:
        return session.get(Record, record_id).status


def test_the_clinician_submits_a_complete_record_for_archiving(client_for, records, web_engine):
    response = _api(client_for("clinician"), "POST", f"/api/v1/records/{records['complete']}/submit")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "submitted" and body["checks"]["passed"] and body["checks"]["findings"] == []
    assert _status(web_engine, records["complete"]) == "submitted"


def test_an_incomplete_record_is_refused_with_its_findings_which_stay_stored(client_for, records, web_engine):
    clinician = client_for("clinician")
    response = _api(clinician, "POST", f"/api/v1/records/{records['incomplete']}/submit")
    assert response.status_code == 409
    assert response.json()["detail"] == "不能提交归档：系统自检发现 1 项问题：缺少出院记录"
    assert response.json()["checks"]["findings"] == [
        {"check": "completeness", "severity": "error", "message": "缺少出院记录", "document_id": None, "page": None}]
    assert _status(web_engine, records["incomplete"]) == "awaiting"
    stored = clinician.get(f"/api/v1/records/{records['incomplete']}/checks").json()
    assert stored["run_at"] == response.json()["checks"]["run_at"] and stored["passed"] is False


def test_the_checks_run_once_when_a_record_has_none_and_times_carry_the_hospital_offset(client_for, records):
    report = client_for("archivist").get(f"/api/v1/records/{records['complete']}/checks").json()
    assert report["record_id"] == records["complete"] and report["passed"] is True
    assert report["run_at"].endswith("+08:00")


def test_a_clinician_marks_a_missing_item_and_the_record_room_closes_it(client_for, records, web_engine):
    clinician, archivist = client_for("clinician"), client_for("archivist")
    with session_factory(web_engine)() as session:
        discharge = session.scalar(sa.select(DocumentType.id).where(DocumentType.name == "出院记录"))
    created = _api(clinician, "POST", f"/api/v1/records/{records['incomplete']}/marks",
                   {"kind": "missing", "document_type": discharge, "reason": "主任外出未签",
                    "expected_date": "2099-01-05"})
    assert created.status_code == 201, created.text
    assert created.json()["what"] == "出院记录" and created.json()["state"] == "open"
    submitted = _api(clinician, "POST", f"/api/v1/records/{records['incomplete']}/submit")
    assert submitted.status_code == 200 and [f["severity"] for f in submitted.json()["checks"]["findings"]] == \
        ["warning", "warning"]
    closed = _api(archivist, "POST", f"/api/v1/marks/{created.json()['id']}/close", {"note": "已补收出院记录"})
    assert closed.json()["state"] == "closed" and closed.json()["closed_by"] == "u_archivist"
    listed = clinician.get(f"/api/v1/records/{records['incomplete']}/marks").json()["items"]
    assert [(m["kind"], m["state"]) for m in listed] == [("missing", "closed")]


def test_a_special_mark_outside_the_dictionary_is_refused_in_chinese(client_for, records):
    response = _api(client_for("clinician"), "POST", f"/api/v1/records/{records['complete']}/marks",
                    {"kind": "special", "special_kind": "随便写的", "reason": "x"})
    assert response.status_code == 400 and "特殊病案类型" in response.json()["detail"]


def test_marks_outside_the_users_departments_are_refused(client_for, world):
    other = world.records["other_department"].id
    response = _api(client_for("clinician"), "POST", f"/api/v1/records/{other}/marks",
                    {"kind": "special", "special_kind": "医疗纠纷", "reason": "x"})
    assert response.status_code == 403


def test_closing_a_mark_that_does_not_exist_is_404(client_for):
    assert _api(client_for("archivist"), "POST", "/api/v1/marks/999999/close", {"note": "x"}).status_code == 404


@pytest.fixture
def emr(web_engine) -> str:
    with session_factory(web_engine)() as session, session.begin():
        session.add(Source(name="EMR", title="电子病历系统", kind="emr", api_key_hash=hash_api_key(API_KEY)))
    return API_KEY


def test_the_emr_completion_event_submits_the_record_as_the_system(app, records, emr, web_engine):
    from fastapi.testclient import TestClient

    with TestClient(app) as machine:
        response = machine.post("/api/v1/ingest/events", headers={"X-Api-Key": emr},
                                json={"event": "record_complete", "record_number": "0100002", "stay": 1})
        assert response.status_code == 200, response.text
        assert response.json()["submitted"] is False and response.json()["status"] == "awaiting"
        assert response.json()["checks"]["findings"][0]["message"] == "缺少出院记录"
        done = machine.post("/api/v1/ingest/events", headers={"X-Api-Key": emr},
                            json={"event": "record_complete", "record_number": "0100001", "stay": 1})
        assert done.json()["submitted"] is True and _status(web_engine, records["complete"]) == "submitted"
        unknown = machine.post("/api/v1/ingest/events", headers={"X-Api-Key": emr},
                               json={"event": "record_complete", "record_number": "9999999", "stay": 1})
        assert unknown.status_code == 404 and "9999999" in unknown.json()["detail"]
        assert machine.post("/api/v1/ingest/events", json={"event": "record_complete", "record_number": "0100001",
                                                            "stay": 1}).status_code == 401


def test_the_record_room_maps_a_local_name_collection_met(client_for, emr, web_engine):
    with session_factory(web_engine)() as session, session.begin():
        source = session.scalars(sa.select(Source)).one()
        session.add(CollectedItem(source_id=source.id, source_document_id="X1", record_number="0000001",
                                  document_type_code="大病历", state="failed", failure_code="type_unknown"))
        admission = session.scalar(sa.select(DocumentType.id).where(DocumentType.name == "入院记录"))
    archivist = client_for("archivist")
    page = archivist.get("/admin/document-types")
    assert page.status_code == 200 and "大病历" in page.text
    token = archivist.get("/api/v1/me").json()["csrf_token"]
    mapped = archivist.post("/admin/document-types/aliases", data={
        "csrf_token": token, "alias": "大病历", "document_type_id": admission, "source_system": "EMR"},
        follow_redirects=False)
    assert mapped.status_code == 303 and "error" not in mapped.headers["location"]
    assert "采集到的文书名称均已对照" in archivist.get("/admin/document-types").text
    with session_factory(web_engine)() as session:
        assert session.scalars(sa.select(DocumentTypeAlias.alias)).all() == ["大病历"]
    assert client_for("clinician").get("/admin/document-types").status_code == 403


def test_the_rules_page_lists_the_default_rules_for_the_record_room(client_for):
    page = client_for("archivist").get("/admin/completeness")
    assert page.status_code == 200
    assert "24小时内入出院记录" in page.text and "医疗纠纷" in page.text


def test_the_checks_page_shows_the_refusal_reason_and_the_record_page_loads_the_panel(client_for, records):
    clinician = client_for("clinician")
    record_id = records["incomplete"]
    assert f'hx-get="/records/{record_id}/completeness"' in clinician.get(f"/records/{record_id}").text
    token = clinician.get("/api/v1/me").json()["csrf_token"]
    refused = clinician.post(f"/records/{record_id}/submit", data={"csrf_token": token})
    assert refused.status_code == 200 and "缺少出院记录" in refused.text and 'id="submit-record"' in refused.text
    panel = clinician.get(f"/records/{record_id}/completeness").text
    assert "自检未通过" in panel and "提交归档" in panel
    assert 'id="submit-record"' not in client_for("qc").get(f"/records/{record_id}/checks").text


def test_the_record_room_sets_a_categorys_visit_scope_on_the_mapping_page_and_through_the_api(client_for, web_engine):
    with session_factory(web_engine)() as session:
        chart = session.scalars(sa.select(Category).where(Category.name == "体温单")).one()
        lung = session.scalar(sa.select(DocumentType.id).where(DocumentType.name == "肺功能报告"))
    archivist = client_for("archivist")
    page = archivist.get("/admin/document-types")
    assert page.status_code == 200 and 'id="visit-scopes"' in page.text and "仅门诊" in page.text
    token = archivist.get("/api/v1/me").json()["csrf_token"]
    saved = archivist.post("/admin/document-types/visit-scopes", data={
        "csrf_token": token, "kind": "category", "item_id": chart.id, "visit_scope": "inpatient"},
        follow_redirects=False)
    assert saved.status_code == 303 and "error" not in saved.headers["location"]
    wrong = archivist.post("/admin/document-types/visit-scopes", data={
        "csrf_token": token, "kind": "category", "item_id": chart.id, "visit_scope": "emergency"},
        follow_redirects=False)
    assert "error" in wrong.headers["location"]
    changed = _api(archivist, "PUT", f"/api/v1/visit-scopes/document_type/{lung}", {"visit_scope": "outpatient"})
    assert changed.status_code == 200 and changed.json()["visit_scope"] == "outpatient"
    listed = _api(archivist, "GET", "/api/v1/visit-scopes").json()
    assert {"code": chart.code, "visit_scope": "inpatient"}.items() <= next(
        c for c in listed["category"] if c["id"] == chart.id).items()
    with session_factory(web_engine)() as session:
        assert session.get(Category, chart.id).visit_scope == "inpatient"
    assert _api(client_for("clinician"), "PUT", f"/api/v1/visit-scopes/category/{chart.id}",
                {"visit_scope": "both"}).status_code == 403
