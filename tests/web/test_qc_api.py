"""The archive QC JSON API and pages through the app, with signed-in users of the test hospital:
worklist, comments, return to the record's doctors, resubmission back to the same reviewer, pass
to archive, batch pass, the owners' list and the QC history export."""
from __future__ import annotations

import io
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from web_helpers import csrf_of, sign_in

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "access"))

from world import PASSWORD, add_pdf_document

from bingan.access.accounts import create_user
from bingan.records import lifecycle
from bingan.storage.db import session_factory
from bingan.storage.models import AuditEvent, Document, Message, Patient, Record
from bingan.storage.models.completeness import CheckRun


@pytest.fixture
def qc_record(web_engine, world) -> dict:
    """A submitted cardiology record with a three-page 入院记录 and a passed self-check; its
    attending doctor 李主任 has an account."""
    with session_factory(web_engine)() as session, session.begin():
        create_user(session, "dr_li", PASSWORD, ["clinician"], full_name="李主任", department_code="0301",
                    must_change_password=False)
        record = Record(patient=Patient(record_number="0100001", name="周志强", sex="M"), record_number="0100001",
                        stay_number=1, campus_id=world.cardiology.campus_id,
                        admitted_at=datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
                        discharged_at=datetime(2026, 11, 30, 2, 0, tzinfo=UTC),
                        admission_department_id=world.cardiology.id, discharge_department_id=world.cardiology.id,
                        attending_doctor="李主任")
        session.add(record)
        session.flush()
        for status in ("awaiting", "submitted"):
            lifecycle.move(session, lifecycle.SYSTEM, record, status, "测试")
        document = add_pdf_document(session, record, "入院记录")
        session.add(CheckRun(record_id=record.id, trigger="submit", passed=True))
        return {"record": record.id, "document": document.id}


@pytest.fixture
def doctor(app, qc_record) -> TestClient:
    client = TestClient(app, base_url="http://testserver", client=("127.0.0.1", 50001))
    assert sign_in(client, "dr_li").status_code == 303
    yield client
    client.close()


def _api(client, method: str, url: str, json: dict | None = None):
    token = client.get("/api/v1/me").json()["csrf_token"]
    return client.request(method, url, json=json, headers={"X-CSRF-Token": token})


def _comment(client, qc_record, **fields):
    body = {"document_id": qc_record["document"], "page": 2, "type": "medical", "text": "主诉与现病史不符", **fields}
    return _api(client, "POST", f"/api/v1/qc/{qc_record['record']}/comments", body)


def test_the_worklist_shows_the_row_facts_and_the_quick_filters(client_for, qc_record):
    qc = client_for("qc")
    answer = qc.get("/api/v1/qc/worklist").json()
    row = answer["items"][0]
    assert answer["total"] == 1 and row["record_number"] == "0100001" and row["department"] == "心内科"
    assert (row["discharged_on"], row["deadline"], row["deadline_days"]) == ("2026-11-30", "2026-12-03", 3)
    assert row["self_check"]["passed"] and row["returned_times"] == 0 and row["status_name"] == "待质控"
    assert qc.get("/api/v1/qc/worklist?filter=death").json()["total"] == 0
    bad = qc.get("/api/v1/qc/worklist?filter=vip")
    assert bad.status_code == 422 and "取值应为" in bad.json()["detail"]


def test_the_worklist_is_for_quality_controllers_only(client_for, qc_record):
    assert client_for("clinician").get("/api/v1/qc/worklist").status_code == 403


def test_a_comment_on_a_page_that_does_not_exist_is_refused_in_chinese(client_for, qc_record):
    answer = _comment(client_for("qc"), qc_record, page=9)
    assert answer.status_code == 400 and answer.json()["detail"] == "第9页不存在（该文书共3页）"


def test_a_comment_with_an_unknown_type_is_refused(client_for, qc_record):
    assert _comment(client_for("qc"), qc_record, type="legal").status_code == 422


def test_medical_return_resubmission_and_pass_from_submitted_to_archived(client_for, doctor, web_engine, qc_record):
    qc, record = client_for("qc"), qc_record["record"]
    created = _comment(qc, qc_record)
    assert created.status_code == 201 and created.json()["type_name"] == "医疗"
    returned = _api(qc, "POST", f"/api/v1/qc/{record}/return")
    assert returned.status_code == 200 and returned.json()["status"] == "returned"
    assert "李主任" in returned.json()["open_return"]["owners"]
    assert doctor.get("/api/v1/qc/returned").json()["count"] == 1
    assert _api(doctor, "POST", f"/api/v1/records/{record}/resubmit", {"replies": []}).status_code == 400
    reply = {"replies": [{"comment_id": created.json()["id"], "text": "已按现病史修改主诉"}]}
    resubmitted = _api(doctor, "POST", f"/api/v1/records/{record}/resubmit", reply)
    assert resubmitted.status_code == 200 and resubmitted.json()["status"] == "submitted"
    assert resubmitted.json()["review"]["assigned_to"] == "测试qc"
    assert [item["record_id"] for item in qc.get("/api/v1/qc/worklist?filter=mine").json()["items"]] == [record]
    assert qc.get("/api/v1/qc/worklist?filter=reworked").json()["items"][0]["returned_times"] == 1
    passed = _api(qc, "POST", f"/api/v1/qc/{record}/pass", {})
    assert passed.status_code == 200 and passed.json()["archived"] and passed.json()["archived_at"]
    with session_factory(web_engine)() as session:
        assert session.get(Record, record).status == "archived"
        actions = session.scalars(sa.select(AuditEvent.action).where(
            AuditEvent.record_id == record, AuditEvent.action.like("qc.%")).order_by(AuditEvent.id)).all()
        assert actions == ["qc.take", "qc.comment", "qc.return", "qc.reply", "qc.resubmit", "qc.pass"]
        assert session.scalar(sa.select(sa.func.count()).select_from(Message).where(Message.kind == "resubmit")) == 1


def test_pass_on_an_archived_record_is_a_409_conflict(client_for, world):
    answer = _api(client_for("qc"), "POST", f"/api/v1/qc/{world.records['normal'].id}/pass", {})
    assert answer.status_code == 409 and "已归档" in answer.json()["detail"]


def test_batch_pass_answers_per_record(client_for, world, qc_record):
    answer = _api(client_for("archivist"), "POST", "/api/v1/qc/batch-pass",
                  {"record_ids": [qc_record["record"], world.records["normal"].id]})
    results = answer.json()["results"]
    assert answer.status_code == 200 and answer.json()["passed"] == 1
    assert [(r["ok"], r["message"][:4]) for r in results] == [(True, "已归档"), (False, "病案当前")]


def test_the_qc_screen_shows_documents_the_page_and_the_comment_form(client_for, qc_record):
    qc = client_for("qc")
    page = qc.get(f"/qc/{qc_record['record']}?doc={qc_record['document']}&page=2")
    assert page.status_code == 200
    assert "入院记录" in page.text and f"/documents/{qc_record['document']}/pages/2/image" in page.text
    assert 'id="qc-comment-form"' in page.text and 'id="qc-take"' in page.text


def test_the_form_flow_and_the_owners_reply_page(client_for, doctor, qc_record):
    qc, record = client_for("qc"), qc_record["record"]
    screen = qc.get(f"/qc/{record}")
    qc.post(f"/qc/{record}/comments", data={"csrf_token": csrf_of(screen.text), "document_id": qc_record["document"],
                                            "page": 1, "kind": "nursing", "text": "体温单未签名"})
    qc.post(f"/qc/{record}/comments", data={"csrf_token": csrf_of(screen.text), "document_id": qc_record["document"],
                                            "page": 2, "kind": "medical", "text": "缺主治医师签名"})
    assert qc.post(f"/qc/{record}/return", data={"csrf_token": csrf_of(screen.text)},
                   follow_redirects=False).status_code == 303
    listing = doctor.get("/qc/returned")
    assert "0100001" in listing.text
    form = doctor.get(f"/qc/returned/{record}")
    assert "缺主治医师签名" in form.text and "体温单未签名" in form.text


def test_the_history_exports_to_xlsx_with_an_audit_event(client_for, web_engine, qc_record):
    qc = client_for("qc")
    _api(qc, "POST", f"/api/v1/qc/{qc_record['record']}/pass", {})
    assert "0100001" in qc.get("/qc/history?outcome=passed").text
    export = qc.get("/qc/history.xlsx?outcome=passed")
    sheet = load_workbook(io.BytesIO(export.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "病案号" and rows[1][0] == "0100001" and rows[1][6] == "已通过"
    with session_factory(web_engine)() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
            AuditEvent.object_type == "qc_history", AuditEvent.action == "export")) == 1


def test_documents_of_the_record_keep_their_order_in_the_json_view(client_for, web_engine, qc_record):
    with session_factory(web_engine)() as session, session.begin():
        add_pdf_document(session, session.get(Record, qc_record["record"]), "出院记录")
    view = client_for("qc").get(f"/api/v1/qc/{qc_record['record']}").json()
    assert [d["name"] for d in view["documents"]] == ["入院记录", "出院记录"]
    with session_factory(web_engine)() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Document)) >= 2
