"""The sealing JSON API and pages through the app with signed-in users of the test hospital:
apply (201 with the request), decide through the approval engine, the signed package and the
seal list for seal managers only, the register, unsealing, and Chinese refusals."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "records" / "sealing"))

from sealing_support import PARTIES, PATIENT_ID, api_call, build_packages, seal_head, seal_through_api
from web_helpers import csrf_of

from bingan import broker
from bingan.formats.pades import attached_files
from bingan.storage.db import session_factory
from bingan.storage.models import AuditEvent, Record
from bingan.storage.models.sealing import Seal


@pytest.fixture(autouse=True)
def quiet_broker(monkeypatch) -> None:
    monkeypatch.setattr(broker, "celery_app", broker.make_celery())


@pytest.fixture
def client_for(client_for):
    """One signed-in client per role and test (a second sign-in would replay the TOTP code)."""
    clients: dict = {}

    def one(role: str):
        if role not in clients:
            clients[role] = client_for(role)
        return clients[role]
    return one


@pytest.fixture
def second_seal_manager(web_engine, world) -> None:
    with session_factory(web_engine)() as session, session.begin():
        seal_head(session)


@pytest.fixture
def sealed(client_for, web_engine, world) -> int:
    seal_through_api(client_for, world.records["normal"].id)
    assert build_packages(web_engine) == ["done"]
    return world.records["normal"].id


def test_applying_answers_201_with_the_request_and_the_approval_seals_the_record(client_for, web_engine, world):
    record_id = world.records["normal"].id
    request_id = seal_through_api(client_for, record_id)
    detail = client_for("medical_affairs").get(f"/api/v1/approvals/{request_id}").json()
    assert detail["kind"] == "seal" and detail["status"] == "approved"
    assert detail["record_number"] == "（已封存病案）" and PATIENT_ID not in str(detail)
    with session_factory(web_engine)() as session:
        assert session.get(Record, record_id).sealed
        assert session.scalars(sa.select(Seal)).one().package_status == "pending"


@pytest.mark.parametrize(("body", "status", "message"), [
    ({"reason": "纠纷", "parties": [{"role": "patient", "name": "王建国", "id_number": "110105194912310021"}]},
     400, "校验位错误"),
    ({"reason": "", "parties": PARTIES}, 400, "请填写封存原因"),
    ({"reason": "纠纷", "parties": PARTIES, "scope": "documents"}, 400, "请选择要封存的文书"),
    ({"reason": "纠纷", "parties": PARTIES, "scope": "partly"}, 400, "封存范围应为"),
    ({"reason": "纠纷", "parties": [{"type": "患者", "name": "王建国", "id_card": "110105194912310021"}]},
     400, "患者本人“王建国”的身份证号码校验位错误"),
])
def test_bad_applications_are_refused_in_chinese(client_for, world, body, status, message):
    response = api_call(client_for("medical_affairs"), "POST",
                        f"/api/v1/records/{world.records['normal'].id}/seal", **body)
    assert response.status_code == status and message in response.json()["detail"]


def test_only_holders_of_seal_apply_may_apply(client_for, world):
    response = api_call(client_for("archivist"), "POST", f"/api/v1/records/{world.records['normal'].id}/seal",
                        reason="纠纷", parties=PARTIES)
    assert response.status_code == 403


def test_seal_managers_download_the_signed_package_and_print_the_seal_list(client_for, web_engine, sealed):
    affairs = client_for("medical_affairs")
    package = affairs.get(f"/api/v1/records/{sealed}/seal-package")
    assert package.status_code == 200 and package.headers["content-type"] == "application/pdf"
    assert "manifest.json" in attached_files(package.content)
    listing = affairs.get(f"/api/v1/records/{sealed}/seal-list")
    assert listing.status_code == 200 and listing.content.startswith(b"%PDF")
    with session_factory(web_engine)() as session:
        actions = set(session.scalars(sa.select(AuditEvent.action).where(AuditEvent.record_id == sealed)))
    assert {"seal.package_download", "seal.list_print"} <= actions


@pytest.mark.parametrize("role", ["archivist", "qc", "clinician", "auditor"])
def test_nobody_else_opens_the_package_or_the_seal_list(client_for, sealed, role):
    client = client_for(role)
    assert client.get(f"/api/v1/records/{sealed}/seal-package").status_code == 403
    assert client.get(f"/api/v1/records/{sealed}/seal-list").status_code == 403


def test_the_register_and_the_seal_page_show_the_package_to_seal_managers(client_for, sealed):
    affairs = client_for("medical_affairs")
    [row] = affairs.get("/api/v1/seals").json()["items"]
    assert row["package"]["status"] == "ready" and row["parties"][0]["id_number"] == "110105********002X"
    page = affairs.get(f"/sealing/{row['id']}")
    assert 'id="download-package"' in page.text and 'id="unseal-form"' in page.text
    assert affairs.get("/sealing").status_code == 200
    assert client_for("archivist").get("/api/v1/seals").status_code == 403


def test_the_certificate_for_verifiers_is_the_package_signer(client_for, sealed):
    pem = client_for("medical_affairs").get("/api/v1/seal-certificate")
    assert pem.status_code == 200 and pem.text.startswith("-----BEGIN CERTIFICATE-----")


def test_unsealing_through_the_api_and_another_seal_manager(client_for, web_engine, second_seal_manager, sealed):
    applied = api_call(client_for("medical_affairs"), "POST", f"/api/v1/records/{sealed}/unseal",
                       reason="纠纷已调解结束", parties=[])
    assert applied.status_code == 201 and applied.json()["kind"] == "unseal"
    decided = api_call(client_for("seal_head"), "POST", f"/api/v1/approvals/{applied.json()['id']}/decision",
                       decision="approve", opinion="同意解封")
    assert decided.json()["status"] == "approved"
    assert client_for("archivist").get(f"/records/{sealed}").status_code == 200


def test_the_application_form_on_the_record_page(client_for, world):
    affairs = client_for("medical_affairs")
    record_id = world.records["normal"].id
    assert f'href="/records/{record_id}/seal"' in affairs.get(f"/records/{record_id}").text
    form = affairs.get(f"/records/{record_id}/seal")
    response = affairs.post(f"/records/{record_id}/seal", data={
        "csrf_token": csrf_of(form.text), "reason": "患方申请封存", "scope": "record",
        "party_role": ["patient", "staff"], "party_name": ["王建国", ""], "party_id": [PATIENT_ID, ""],
        "party_org": ["", ""], "party_relation": ["", ""]}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/approvals/")
