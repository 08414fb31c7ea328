"""The borrowing JSON API and pages through the app: apply (one or several records), decide through
the approvals API with the same id, renew, return, revoke, the lists and their xlsx export, the
tracked views, and refusals that change nothing."""
from __future__ import annotations

import io

import openpyxl
import pytest
import sqlalchemy as sa
from world import PASSWORD

from bingan.access.accounts import create_user
from bingan.storage.db import session_factory
from bingan.storage.models import ApprovalRequest

TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.fixture
def head(web_engine, world) -> None:
    """The head of the respiratory ward, whose records the cardiology clinician may not see."""
    with session_factory(web_engine)() as session, session.begin():
        user = create_user(session, "u_head_resp", PASSWORD, ["medical_affairs"], full_name="呼吸内科主任",
                           department_code="0302", must_change_password=False)
        user.totp_secret = TOTP_SECRET  # a hospital-wide reader signs in with a second factor


@pytest.fixture
def signed(client_for):
    """One signed-in client per role (a second factor's code is accepted once)."""
    clients: dict[str, object] = {}
    return lambda role: clients.setdefault(role, client_for(role)) if role not in clients else clients[role]


def _api(client, method: str, url: str, **json):
    token = client.get("/api/v1/me").json()["csrf_token"]
    return client.request(method, url, json=json or None, headers={"X-CSRF-Token": token})


def _lent(signed, world, **body) -> tuple[object, int]:
    clinician = signed("clinician")
    answer = _api(clinician, "POST", "/api/v1/borrowing", record_ids=[world.records["other_department"].id],
                  days=5, purpose="病例讨论", reason="疑难病例讨论", **body)
    assert answer.status_code == 201, answer.text
    borrow_id = answer.json()["id"]
    for role in ("head_resp", "medical_affairs"):
        decided = _api(signed(role), "POST", f"/api/v1/approvals/{borrow_id}/decision", decision="approve",
                       opinion="同意")
        assert decided.status_code == 200, decided.text
    return clinician, borrow_id


def test_an_application_runs_through_its_flow_and_opens_the_record(signed, world, head):
    clinician, borrow_id = _lent(signed, world)
    record = world.records["other_department"]
    detail = clinician.get(f"/api/v1/borrowing/{borrow_id}").json()
    assert (detail["state"], detail["state_name"], detail["days"], detail["patient"]) == (
        "lent", "借阅中", 5, record.patient.name[0] + "*")
    assert detail["valid_until"].endswith("+08:00")
    assert clinician.get(f"/records/{record.id}").status_code == 200
    document = world.documents["other_department"][0]
    clinician.get(f"/documents/{document.id}")
    views = clinician.get(f"/api/v1/borrowing/{borrow_id}").json()["views"]
    assert {v["action"] for v in views} >= {"查阅"} and views[0]["client_ip"] == "127.0.0.1"
    page = clinician.get(f"/borrowing/{borrow_id}")
    assert page.status_code == 200 and "浏览内容跟踪" in page.text


def test_renewal_and_return_through_the_api(signed, world, head):
    clinician, borrow_id = _lent(signed, world)
    renewal = _api(clinician, "POST", f"/api/v1/borrowing/{borrow_id}/renew", days=3, reason="讨论延期")
    assert renewal.status_code == 201 and renewal.json()["status"] == "pending"
    _api(signed("medical_affairs"), "POST", f"/api/v1/approvals/{renewal.json()['id']}/decision",
         decision="approve", opinion="同意续借")
    assert clinician.get(f"/api/v1/borrowing/{borrow_id}").json()["days"] == 8
    returned = _api(clinician, "POST", f"/api/v1/borrowing/{borrow_id}/return")
    assert returned.status_code == 200 and returned.json()["state"] == "returned"
    assert clinician.get(f"/records/{world.records['other_department'].id}").status_code == 403
    again = _api(clinician, "POST", f"/api/v1/borrowing/{borrow_id}/return")
    assert again.status_code == 409 and "已归还" in again.json()["detail"]


def test_the_record_room_revokes_and_lists_and_exports_all(signed, world, head):
    _clinician, borrow_id = _lent(signed, world)
    archivist = signed("archivist")
    revoked = _api(archivist, "POST", f"/api/v1/borrowing/{borrow_id}/revoke", reason="患方投诉")
    assert revoked.json()["state_name"] == "已收回"
    listed = archivist.get("/api/v1/borrowing?box=all&state=revoked").json()
    assert [item["id"] for item in listed["items"]] == [borrow_id]
    export = archivist.get("/api/v1/borrowing/export.xlsx?box=all")
    sheet = openpyxl.load_workbook(io.BytesIO(export.content)).active
    assert [cell.value for cell in sheet[1]][:3] == ["借阅编号", "病案号", "住院次数"]
    assert sheet.cell(2, 10).value == "已收回"
    assert archivist.get("/borrowing?box=all").status_code == 200


@pytest.mark.parametrize(("role", "body", "status", "message"), [
    ("clinician", {"days": 90}, 400, "借阅天数应为"),
    ("clinician", {"purpose": "好奇"}, 400, "借阅用途应为"),
    ("clinician", {"state": "sealed"}, 409, "病案已封存"),
    ("nurse", {}, 403, "权限"),
])
def test_a_refused_application_changes_nothing(signed, world, web_engine, head, role, body, status, message):
    state = body.pop("state", "other_department")
    payload = {"record_ids": [world.records[state].id], "days": 7, "purpose": "科研", "reason": "课题", **body}
    answer = _api(signed(role), "POST", "/api/v1/borrowing", **payload)
    assert answer.status_code == status and message in answer.json()["detail"]
    with session_factory(web_engine)() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(ApprovalRequest)) == 0


def test_the_borrowing_search_shows_no_content(signed, world, head):
    clinician = signed("clinician")
    record = world.records["other_department"]
    found = clinician.get(f"/api/v1/borrowing/search?record_number={record.record_number}").json()
    assert found["items"] == [{"record_id": record.id, "record_number": record.record_number, "stay": 1,
                               "patient": record.patient.name[0] + "*", "department": "呼吸内科",
                               "discharged_on": found["items"][0]["discharged_on"], "can_view": False,
                               "open_borrowing": None}]
    page = clinician.get(f"/borrowing/apply?record_number={record.record_number}")
    assert page.status_code == 200 and "肺炎" not in page.text and record.patient.name not in page.text
