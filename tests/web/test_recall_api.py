"""The recall JSON API and pages through the app: applying, the two-level decision through the
approvals API, the status the EMR reads, the recall page with its pinned versions, and the
printed-copies warning every reviewer sees."""
from __future__ import annotations

from web_helpers import csrf_of

from bingan.access.audit import Actor, record_event
from bingan.storage.db import session_factory


def _api(client, method: str, url: str, **json):
    token = client.get("/api/v1/me").json()["csrf_token"]
    return client.request(method, url, json=json, headers={"X-CSRF-Token": token})


def _apply(client, record_id: int, **body):
    return _api(client, "POST", f"/api/v1/records/{record_id}/recall",
                **{"reason": "出院诊断漏填并发症", "deadline_days": 5, **body})


def _approve(client, request_id: int):
    return _api(client, "POST", f"/api/v1/approvals/{request_id}/decision", decision="approve", opinion="同意")


def test_the_record_doctor_applies_and_the_request_runs_the_recall_flow(client_for, world):
    answer = _apply(client_for("clinician"), world.records["normal"].id)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["kind"] == "recall" and body["status"] == "pending" and body["step_name"] == "科室审核"
    assert body["payload"]["deadline_days"] == 5 and body["payload"]["printed_copies"] == []


def test_approval_by_head_then_record_room_recalls_the_record(client_for, world):
    record_id = world.records["normal"].id
    request_id = _apply(client_for("clinician"), record_id).json()["id"]
    assert _approve(client_for("medical_affairs"), request_id).json()["step_name"] == "病案室审批"
    assert _approve(client_for("archivist"), request_id).json()["status"] == "approved"
    nurse = client_for("nurse")
    status = nurse.get(f"/api/v1/records/{record_id}/status").json()
    assert status["status"] == "recalled" and status["status_name"] == "召回中" and status["sealed"] is False
    assert status["recall"]["state"] == "recalled" and status["recall"]["deadline"].endswith("+08:00")
    [recall] = nurse.get(f"/api/v1/records/{record_id}/recalls").json()["recalls"]
    [backup] = recall["backups"]
    assert backup["pinned_version"] == 1 and backup["changed"] is False
    assert nurse.get(backup["view_url"]).status_code == 200
    page = nurse.get(f"/records/{record_id}/recall").text
    assert "召回中" in page and "v1" in page and 'class="pinned"' in page


def test_who_may_not_apply_is_refused_and_nothing_is_made(client_for, world):
    assert _apply(client_for("nurse"), world.records["normal"].id).status_code == 403
    assert _apply(client_for("clinician"), world.records["other_department"].id).status_code == 403
    assert client_for("clinician").get("/api/v1/approvals?box=mine").json()["count"] == 0


def test_bad_input_gets_a_chinese_answer(client_for, world):
    clinician, record = client_for("clinician"), world.records["normal"]
    assert _apply(clinician, record.id, deadline_days=0).status_code == 422
    other_document = world.documents["other_department"][0].id
    refused = _apply(clinician, record.id, document_ids=[other_document])
    assert refused.status_code == 400 and "不属于该病案" in refused.json()["detail"]
    assert _apply(clinician, record.id, document_ids=[2**40]).status_code == 422


def test_a_second_application_conflicts(client_for, world):
    clinician = client_for("clinician")
    _apply(clinician, world.records["normal"].id)
    again = _apply(client_for("archivist"), world.records["normal"].id)
    assert again.status_code == 409 and "已有召回申请在审批中" in again.json()["detail"]


def test_a_sealed_record_tells_nothing(client_for, world):
    for role in ("clinician", "archivist", "medical_affairs"):
        client = client_for(role)
        assert client.get(f"/api/v1/records/{world.records['sealed'].id}/status").status_code == 403
        assert _apply(client, world.records["sealed"].id).status_code == 403


def test_every_reviewer_sees_the_printed_copies_warning(client_for, world, web_engine):
    record = world.records["normal"]
    with session_factory(web_engine)() as session, session.begin():
        record_event(session, Actor(world.users["copy_clerk"].id, "u_copy_clerk"), "print", object_type="document",
                     record_id=record.id, document_id=world.documents["normal"][0].id, page=1,
                     detail={"版本": 1, "为谁": "患者本人"})
    request_id = _apply(client_for("clinician"), record.id).json()["id"]
    reviewer = client_for("medical_affairs")
    page = reviewer.get(f"/approvals/{request_id}").text
    assert 'id="printed-warning"' in page and "患者本人" in page and "第1页" in page
    assert reviewer.get(f"/api/v1/records/{record.id}/status").json() | {"printed": True, "prints": 1} == \
        reviewer.get(f"/api/v1/records/{record.id}/status").json()


def test_the_form_applies_and_leads_to_the_request(client_for, world):
    clinician, record = client_for("clinician"), world.records["normal"]
    page = clinician.get(f"/records/{record.id}/recall").text
    assert 'id="recall-form"' in page
    answer = clinician.post(f"/records/{record.id}/recall", data={
        "csrf_token": csrf_of(page), "reason": "补充手术记录签名", "deadline_days": "3",
        "document_ids": str(world.documents["normal"][0].id)}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/approvals/")
    assert "需修改的文书：入院记录" in clinician.get(answer.headers["location"]).text
