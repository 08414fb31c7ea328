"""Online copy applications through the app: the patient app applies with its API token (holding
copy.online), the record room's queue (menu 复印打印 › 网上复印审核) shows it for approval or
rejection, the app pays online, the worker makes the certified copy, and the patient downloads it
without signing in until the link's downloads are used up; a refusal is a Chinese page."""
from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "records" / "release"))

from release_support import AGENT, run_queued_jobs

from bingan import broker
from bingan.records.release import online
from bingan.records.workflows import install


@pytest.fixture(autouse=True)
def quiet_broker(monkeypatch) -> None:
    install()
    monkeypatch.setattr(broker, "celery_app", broker.make_celery())


def _csrf(client) -> str:
    return client.get("/api/v1/me").json()["csrf_token"]


@pytest.fixture
def patient_app(app, client_for):
    secadmin = client_for("secadmin")
    made = secadmin.post("/api/v1/integration/tokens", json={"name": "患者服务应用", "permissions": ["copy.online"]},
                         headers={"X-CSRF-Token": _csrf(secadmin)})
    assert made.status_code == 201, made.text
    with TestClient(app, base_url="http://testserver", client=("127.0.0.1", 50010),
                    headers={"Authorization": f"Bearer {made.json()['token']}"}) as client:
        yield client


def _body(world, **changes) -> dict:
    record = world.records["normal"]
    return {"applicant": AGENT, "record": {"record_number": record.record_number, "patient_name": record.patient.name,
                                           "patient_id_number": record.patient.id_number},
            "package": "reimbursement", "purpose": "医保报销", **changes}


def test_the_patient_app_applies_the_record_room_approves_the_app_pays_and_the_patient_downloads(
        patient_app, client_for, world, web_engine):
    applied = patient_app.post("/api/v1/online-copy-requests", json=_body(world))
    assert applied.status_code == 201, applied.text
    request = applied.json()
    assert request["status"] == "pending_review" and request["fee_yuan"] == "6.50"
    assert request["download_url"].startswith(online.DOWNLOAD_PATH) and not request["download"]["ready"]

    clerk = client_for("copy_clerk")
    queue = clerk.get("/copy-online").text
    assert f'data-request="{request["id"]}"' in queue and "王小明" in queue and 'href="/copy-online"' in queue
    approved = clerk.post(f"/copy-online/{request['id']}/approve", data={"csrf_token": _csrf(clerk)},
                          follow_redirects=False)
    assert approved.status_code == 303

    paid = patient_app.post(f"/api/v1/online-copy-requests/{request['id']}/pay", json={"reference": "WX-0001"})
    assert paid.status_code == 202 and paid.json()["status"] == "paid"
    assert run_queued_jobs(web_engine) == ["done"]
    status = patient_app.get(f"/api/v1/online-copy-requests/{request['id']}").json()
    assert status["status"] == "printed" and status["download"]["ready"]

    patient = TestClient(patient_app.app, base_url="http://testserver", client=("10.1.2.3", 50011))
    for _ in range(online.MAX_DOWNLOADS):
        pdf = patient.get(request["download_url"])
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        assert pdf.headers["content-disposition"].startswith("attachment")
    used_up = patient.get(request["download_url"])
    assert used_up.status_code == 410 and "下载次数已用完" in used_up.text


def test_a_rejected_application_tells_the_app_why(patient_app, client_for, world):
    request = patient_app.post("/api/v1/online-copy-requests", json=_body(world)).json()
    clerk = client_for("copy_clerk")
    refused = clerk.post(f"/copy-online/{request['id']}/reject", data={"csrf_token": _csrf(clerk), "reason": ""},
                         follow_redirects=False)
    assert refused.status_code == 303 and "请填写驳回原因" in unquote(refused.headers["location"])
    clerk.post(f"/copy-online/{request['id']}/reject", data={"csrf_token": _csrf(clerk), "reason": "委托书不清晰"})
    status = patient_app.get(f"/api/v1/online-copy-requests/{request['id']}").json()
    assert status["status"] == "rejected" and status["review_reason"] == "委托书不清晰"
    assert 'id="online-empty"' in clerk.get("/copy-online").text


def test_a_record_not_named_in_full_is_not_found_and_a_bad_id_is_refused(patient_app, world):
    wrong = patient_app.post("/api/v1/online-copy-requests",
                             json=_body(world, record={**_body(world)["record"], "patient_name": "李秀英"}))
    assert wrong.status_code == 404 and "未找到与所填患者信息相符的病案" in wrong.json()["detail"]
    bad = patient_app.post("/api/v1/online-copy-requests",
                           json=_body(world, applicant={**AGENT, "id_number": "110105198001010017"}))
    assert bad.status_code == 400 and "校验位错误" in bad.json()["detail"]


def test_only_the_app_token_applies_online_and_a_bad_download_link_is_a_chinese_page(client_for, world):
    clerk = client_for("copy_clerk")
    answer = clerk.post("/api/v1/online-copy-requests", json=_body(world), headers={"X-CSRF-Token": _csrf(clerk)})
    assert answer.status_code == 403
    assert client_for("clinician").get("/copy-online").status_code == 403
    missing = client_for("anonymous").get(online.DOWNLOAD_PATH + "no-such-token")
    assert missing.status_code == 404 and "下载链接无效" in missing.text
