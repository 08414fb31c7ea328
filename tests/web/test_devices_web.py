"""Collection devices (单机采集, B2–B3): the system administrator registers a device PC (its push
key shown once, rotated, revoked; its public key checked), the device's signed pushes land in
its collection log, and the log is found by address and time range, on the page and in the API."""
from __future__ import annotations

import base64
import hashlib

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from fastapi.testclient import TestClient
from web_helpers import csrf_headers, csrf_of

from bingan.clock import local
from bingan.ingest import devices
from bingan.storage.db import session_factory
from bingan.storage.models import utcnow
from bingan.storage.models.devices import Device

DEVICE_ADDRESS = "10.1.20.31"


@pytest.fixture
def device_key():
    return ed25519.Ed25519PrivateKey.generate()


def _public_pem(private) -> str:
    return private.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _register(client: TestClient, world, private, code: str = "ecg-cart-03") -> dict:
    body = {"code": code, "name": "心电图机（3号车）", "ip": DEVICE_ADDRESS, "kind": "ecg",
            "department_id": world.cardiology.id, "public_key": _public_pem(private)}
    made = client.post("/api/v1/devices", json=body, headers=csrf_headers(client))
    assert made.status_code == 201, made.text
    return made.json()


def _push(app, key: str, private, content: bytes = b"%PDF-1.4 ecg report", record_number: str = "0012345",
          address: str = DEVICE_ADDRESS):
    device_pc = TestClient(app, base_url="http://testserver", client=(address, 50123))
    document_id = hashlib.sha256(content).hexdigest()
    text = devices.signed_text(document_id, document_id, record_number, 1, "ECG")
    fields = {"record_number": record_number, "stay": "1", "source_document_id": document_id, "document_type": "ECG"}
    signature = base64.b64encode(private.sign(text)).decode()
    return device_pc.post("/api/v1/ingest", data=fields, files={"file": ("0012345_1_ECG.pdf", content)},
                          headers={"X-Api-Key": key, "X-Device-Signature": signature})


def test_a_registered_device_gets_its_push_key_shown_once(client_for, world, device_key):
    sysadmin = client_for("sysadmin")
    form = sysadmin.get("/admin/devices")
    assert form.status_code == 200 and "登记设备" in form.text
    made = sysadmin.post("/admin/devices", data={
        "csrf_token": csrf_of(form.text), "code": "ecg-cart-03", "name": "心电图机（3号车）", "ip": DEVICE_ADDRESS,
        "kind": "ecg", "department_id": str(world.cardiology.id), "public_key": _public_pem(device_key)})
    assert made.status_code == 200 and 'id="new-key"' in made.text
    key = made.text.split('id="new-key"')[1].split("<code>")[1].split("</code>")[0]
    assert key.startswith("bgk_")
    again = sysadmin.get("/admin/devices")
    assert key not in again.text and DEVICE_ADDRESS in again.text and "心内科" in again.text


def test_a_signed_push_is_logged_and_found_by_address_and_time(app, client_for, world, device_key):
    sysadmin = client_for("sysadmin")
    registered = _register(sysadmin, world, device_key)
    pushed = _push(app, registered["push_key"], device_key)
    assert pushed.status_code == 202, pushed.text
    today = local(utcnow()).date().isoformat()
    log = sysadmin.get(f"/api/v1/devices/{registered['id']}/log", params={"from": today, "to": today}).json()
    assert [(u["ip"], u["outcome"], u["item_id"]) for u in log["uploads"]] == [
        (DEVICE_ADDRESS, "accepted", pushed.json()["item_id"])]
    assert log["device"]["last_ip"] == DEVICE_ADDRESS
    assert len(sysadmin.get("/api/v1/devices/log", params={"ip": "10.1.20."}).json()["uploads"]) == 1
    assert sysadmin.get("/api/v1/devices/log", params={"ip": "10.9."}).json()["uploads"] == []
    tomorrow = sysadmin.get(f"/api/v1/devices/{registered['id']}/log", params={"from": "2099-01-01"}).json()
    assert tomorrow["uploads"] == []
    page = sysadmin.get("/admin/devices", params={"ip": DEVICE_ADDRESS, "since": today, "until": today})
    assert "0012345_1_ECG.pdf" in page.text and "已接收" in page.text


def test_a_rotated_key_replaces_the_old_and_a_revoked_key_opens_nothing(app, client_for, world, device_key):
    sysadmin = client_for("sysadmin")
    registered = _register(sysadmin, world, device_key)
    rotated = sysadmin.post(f"/api/v1/devices/{registered['id']}/key/rotate", headers=csrf_headers(sysadmin)).json()
    assert _push(app, registered["push_key"], device_key).json()["detail"] == "API 密钥无效"
    assert _push(app, rotated["push_key"], device_key).status_code == 202
    sysadmin.post(f"/api/v1/devices/{registered['id']}/key/revoke", headers=csrf_headers(sysadmin))
    assert _push(app, rotated["push_key"], device_key, b"%PDF-1.4 another").status_code == 401


def test_the_device_page_rotates_the_key_and_shows_it_once(client_for, world, device_key):
    sysadmin = client_for("sysadmin")
    registered = _register(sysadmin, world, device_key)
    page = sysadmin.get(f"/admin/devices/{registered['id']}")
    assert registered["fingerprint"] in page.text
    rotated = sysadmin.post(f"/admin/devices/{registered['id']}/key/rotate",
                            data={"csrf_token": csrf_of(page.text)})
    assert rotated.status_code == 200 and 'id="new-key"' in rotated.text


def test_an_upload_from_another_address_is_accepted_and_noted(app, client_for, world, device_key):
    sysadmin = client_for("sysadmin")
    registered = _register(sysadmin, world, device_key)
    assert _push(app, registered["push_key"], device_key, address="10.1.99.5").status_code == 202
    [upload] = sysadmin.get(f"/api/v1/devices/{registered['id']}/log").json()["uploads"]
    assert upload["outcome"] == "accepted" and upload["reason"] == f"来访地址与登记的 {DEVICE_ADDRESS} 不同"


def test_a_push_with_another_devices_signature_is_refused(app, client_for, world, device_key):
    sysadmin = client_for("sysadmin")
    registered = _register(sysadmin, world, device_key)
    refused = _push(app, registered["push_key"], ed25519.Ed25519PrivateKey.generate())
    assert refused.status_code == 401 and refused.json()["detail"].startswith("设备签名无效")
    log = sysadmin.get(f"/api/v1/devices/{registered['id']}/log").json()["uploads"]
    assert [(u["outcome"], u["item_id"]) for u in log] == [("refused", None)]


def test_an_unreadable_public_key_is_refused_and_nothing_is_saved(client_for, world, web_engine):
    sysadmin = client_for("sysadmin")
    form = sysadmin.get("/admin/devices")
    refused = sysadmin.post("/admin/devices", data={"csrf_token": csrf_of(form.text), "code": "ecg-cart-03",
                                                    "name": "心电图机", "public_key": "not a key"})
    assert refused.url.path == "/admin/devices" and "公钥无法识别" in refused.text
    with session_factory(web_engine)() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Device)) == 0


def test_a_code_already_used_by_a_source_is_refused(client_for, world, device_key):
    sysadmin = client_for("sysadmin")
    _register(sysadmin, world, device_key)
    again = sysadmin.post("/api/v1/devices", json={"code": "ecg-cart-03", "name": "另一台"},
                          headers=csrf_headers(sysadmin))
    assert again.status_code in (400, 409) and "已被" in again.json()["detail"]


def test_a_malformed_time_range_gets_a_chinese_error(client_for, world):
    sysadmin = client_for("sysadmin")
    answer = sysadmin.get("/api/v1/devices/log", params={"from": "昨天"})
    assert answer.status_code == 400 and "起始时间格式无效" in answer.json()["detail"]


def test_devices_are_the_system_administrators(client_for, world):
    clinician = client_for("clinician")
    assert clinician.get("/admin/devices").status_code == 403
    assert clinician.get("/api/v1/devices").status_code == 403
    assert client_for("sysadmin").get("/api/v1/devices/999999/log").status_code == 404
