"""The approvals JSON API and pages: boxes, one request, decisions, withdrawal, attachments,
messages and the flow editor, through the app with signed-in users of the test hospital."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from web_helpers import csrf_of

from bingan.access.audit import Actor
from bingan.records.approvals import engine
from bingan.storage.db import session_factory
from bingan.storage.models import ApprovalAction, ApprovalFlow, ApprovalRequest, AuditEvent, Grant, User

TWO_STEPS = [
    {"name": "质控审核", "mode": "any", "approvers": [{"kind": "role", "value": "qc"}], "hours": 24},
    {"name": "医务处审批", "mode": "any", "approvers": [{"kind": "role", "value": "medical_affairs"}], "hours": 24},
]


@pytest.fixture
def borrowing(app, web_engine, world) -> int:
    """The clinician applies to borrow the cardiology record through a two-step flow."""
    with session_factory(web_engine)() as session, session.begin():
        session.add(ApprovalFlow(kind="borrow", name="两级借阅", position=1, match={}, steps=TWO_STEPS))
        session.flush()
        clinician = session.get(User, world.users["clinician"].id)
        request = engine.submit(session, Actor.of(clinician), clinician, "borrow",
                                session.get(type(world.records["normal"]), world.records["normal"].id),
                                "病例讨论需要查阅", {"days": 3})
        return request.id


def _api(client, method: str, url: str, **json):
    token = client.get("/api/v1/me").json()["csrf_token"]
    return client.request(method, url, json=json or None, headers={"X-CSRF-Token": token})


def test_the_todo_box_lists_what_waits_for_me_and_mine_lists_my_applications(client_for, borrowing):
    qc, clinician = client_for("qc"), client_for("clinician")
    todo = qc.get("/api/v1/approvals?box=todo").json()
    assert [item["id"] for item in todo["items"]] == [borrowing]
    assert todo["items"][0]["step_name"] == "质控审核" and "opinions" not in todo["items"][0]
    assert [item["status_name"] for item in clinician.get("/api/v1/approvals?box=mine").json()["items"]] == ["审批中"]
    assert clinician.get("/api/v1/approvals?box=todo").json()["items"] == []


def test_an_unknown_box_is_refused_in_chinese(client_for, borrowing):
    response = client_for("qc").get("/api/v1/approvals?box=all")
    assert response.status_code == 422 and "取值应为" in response.json()["detail"]


def test_a_decision_moves_the_request_and_both_sides_read_every_opinion(client_for, borrowing):
    qc, affairs, clinician = client_for("qc"), client_for("medical_affairs"), client_for("clinician")
    answer = _api(qc, "POST", f"/api/v1/approvals/{borrowing}/decision", decision="approve", opinion="资料齐全")
    assert answer.status_code == 200 and answer.json()["current_step"] == 2
    _api(affairs, "POST", f"/api/v1/approvals/{borrowing}/decision", decision="approve", opinion="同意借阅")
    for client in (qc, affairs, clinician):
        detail = client.get(f"/api/v1/approvals/{borrowing}").json()
        assert detail["status"] == "approved"
        assert [(o["step"], o["opinion"]) for o in detail["opinions"]] == [
            (None, "病例讨论需要查阅"), (1, "资料齐全"), (2, "同意借阅")]
        assert [s["state"] for s in detail["steps"]] == ["已通过", "已通过"]
    assert [item["id"] for item in qc.get("/api/v1/approvals?box=done").json()["items"]] == [borrowing]


def test_a_refused_decision_changes_nothing_and_answers_400_in_chinese(client_for, web_engine, borrowing):
    clinician = client_for("clinician")
    response = _api(clinician, "POST", f"/api/v1/approvals/{borrowing}/decision", decision="approve")
    assert response.status_code == 400 and response.json()["detail"] == "不能审批自己的申请"
    with session_factory(web_engine)() as session:
        actions = session.scalars(sa.select(ApprovalAction.action).where(ApprovalAction.request_id == borrowing))
        assert list(actions) == ["submit"]
        assert session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "approval.approve")) == 0


def test_a_decision_on_a_decided_request_is_a_409_conflict(client_for, borrowing):
    clinician, qc = client_for("clinician"), client_for("qc")
    assert _api(clinician, "POST", f"/api/v1/approvals/{borrowing}/withdraw").json()["status"] == "withdrawn"
    response = _api(qc, "POST", f"/api/v1/approvals/{borrowing}/decision", decision="approve")
    assert response.status_code == 409 and response.json()["detail"] == "该申请已撤回，不能再审批"


def test_a_return_to_the_applicant_and_the_resubmission(client_for, borrowing):
    qc, clinician = client_for("qc"), client_for("clinician")
    returned = _api(qc, "POST", f"/api/v1/approvals/{borrowing}/decision", decision="return",
                    opinion="请写明讨论日期", to_step=0)
    assert returned.json()["status"] == "returned"
    messages = clinician.get("/api/v1/messages").json()
    assert messages["unread"] == 1 and "退回" in messages["items"][0]["title"]
    again = _api(clinician, "POST", f"/api/v1/approvals/{borrowing}/resubmit", opinion="讨论日期 3 月 12 日")
    assert again.json()["status"] == "pending" and again.json()["current_step"] == 1


def test_someone_outside_the_request_cannot_read_it(client_for, borrowing):
    response = client_for("nurse").get(f"/api/v1/approvals/{borrowing}")
    assert response.status_code == 400 and "不是该申请的申请人或审批人" in response.json()["detail"]


def test_the_approved_borrowing_lets_the_applicant_open_the_record(client_for, web_engine, world, borrowing):
    qc, affairs = client_for("qc"), client_for("medical_affairs")
    _api(qc, "POST", f"/api/v1/approvals/{borrowing}/decision", decision="approve")
    _api(affairs, "POST", f"/api/v1/approvals/{borrowing}/decision", decision="approve")
    with session_factory(web_engine)() as session:
        grant = session.scalars(sa.select(Grant).where(Grant.source == "borrowing")).one()
        assert grant.user_id == world.users["clinician"].id and grant.record_id == world.records["normal"].id


def test_a_photo_attached_from_the_page_is_stored_encrypted_and_read_back_by_participants(
        client_for, borrowing, tmp_path):
    clinician, qc, nurse = client_for("clinician"), client_for("qc"), client_for("nurse")
    page = clinician.get(f"/approvals/{borrowing}")
    assert 'capture="environment"' in page.text
    photo = b"\xff\xd8\xff\xe0" + b"JFIF-scan-of-consent" * 50
    response = clinician.post("/approvals/attachments", data={"approval_id": str(borrowing),
                              "csrf_token": csrf_of(page.text)},
                              files={"file": ("知情同意书.jpg", photo, "image/jpeg")}, follow_redirects=False)
    assert response.status_code == 303
    attachment = qc.get(f"/api/v1/approvals/{borrowing}").json()["attachments"][0]
    assert attachment["filename"] == "知情同意书.jpg"
    assert qc.get(attachment["url"]).content == photo
    assert nurse.get(attachment["url"]).status_code == 400
    stored = b"".join(path.read_bytes() for path in tmp_path.rglob("*") if path.is_file())
    assert b"JFIF-scan-of-consent" * 3 not in stored


def test_the_pages_show_the_boxes_the_step_chain_and_the_decision_form(client_for, borrowing):
    qc = client_for("qc")
    listing = qc.get("/approvals?box=todo")
    assert f'href="/approvals/{borrowing}"' in listing.text
    detail = qc.get(f"/approvals/{borrowing}").text
    assert "第1步 质控审核" in detail and 'id="decision"' in detail and "病例讨论需要查阅" in detail
    form = qc.post(f"/approvals/{borrowing}/decision", data={"decision": "approve", "opinion": "同意",
                                                              "csrf_token": csrf_of(detail)}, follow_redirects=False)
    assert form.status_code == 303
    assert 'id="decision"' not in qc.get(f"/approvals/{borrowing}").text


def test_the_system_administrator_edits_a_flow_that_new_requests_follow(client_for, web_engine, world):
    admin = client_for("sysadmin")
    page = admin.get("/admin/flows")
    assert "科室审核 | 或签 | 科主任 | 24 | medical_affairs" in page.text  # the shipped borrowing flow
    response = admin.post("/admin/flows", data={
        "kind": "copy", "name": "复印两级", "position": "5", "steps": "病案室 | 会签 | 角色:archivist, 角色:qc | 8 |",
        "active": "true", "csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert response.status_code == 303
    with session_factory(web_engine)() as session:
        flow = session.scalars(sa.select(ApprovalFlow).where(ApprovalFlow.kind == "copy")).one()
        assert flow.steps[0]["mode"] == "all" and len(flow.steps[0]["approvers"]) == 2
        assert session.scalar(sa.select(AuditEvent.action).order_by(AuditEvent.id.desc()).limit(1)) == \
            "approval.flow_save"


def test_a_malformed_flow_is_refused_on_the_page_and_nothing_is_saved(client_for, web_engine):
    admin = client_for("sysadmin")
    with session_factory(web_engine)() as session:  # borrowing's flows ship as stored rows
        shipped = session.scalar(sa.select(sa.func.count()).select_from(ApprovalFlow))
    page = admin.get("/admin/flows")
    response = admin.post("/admin/flows", data={"kind": "copy", "name": "坏流程", "steps": "病案室 | 随便 | 科主任",
                                                "csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert response.status_code == 400 and "签批方式" in response.text
    with session_factory(web_engine)() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(ApprovalFlow)) == shipped
        assert session.scalar(sa.select(sa.func.count()).select_from(ApprovalRequest)) == 0


def test_a_clinician_cannot_open_the_flow_editor(client_for):
    assert client_for("clinician").get("/admin/flows").status_code == 403


def test_the_menu_shows_the_approvers_to_do_count_and_the_applicants_unread_messages(client_for, borrowing):
    qc, clinician = client_for("qc"), client_for("clinician")
    assert '待办审批 <span class="count">1</span>' in qc.get("/").text
    _api(qc, "POST", f"/api/v1/approvals/{borrowing}/decision", decision="reject", opinion="不符合规定")
    assert '待办审批' not in qc.get("/").text  # qc holds no 审批 right: the link shows while something waits
    home = clinician.get("/").text
    assert '消息 <span class="count">1</span>' in home
