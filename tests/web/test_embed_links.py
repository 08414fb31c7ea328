"""Signed embed links (W1–W3): a doctor's workstation opens archive QC for its signed-in member
of staff; the page may be framed by the system's origins only; a replayed, expired, forged or
unknown-staff link is refused with a Chinese page (audited), and nothing else becomes framable."""
from __future__ import annotations

import secrets
import time

import pytest
import sqlalchemy as sa
from test_qc_api import _api, qc_record  # noqa: F401

from bingan.access.embed import signature
from bingan.storage.db import session_factory
from bingan.storage.models import AuditEvent, User

ORIGIN = "https://emr.hospital.local"


@pytest.fixture
def emr_secret(client_for, web_engine) -> str:
    made = _api(client_for("secadmin"), "POST", "/api/v1/integration/systems",
                {"code": "emr_doctor", "name": "医生工作站", "origins": [ORIGIN]})
    assert made.status_code == 201, made.text
    with session_factory(web_engine)() as session, session.begin():
        session.scalars(sa.select(User).where(User.username == "u_qc")).one().staff_number = "Q0042"
    return made.json()["secret"]


def link(secret: str, **overrides: str) -> dict:
    params = {"system": "emr_doctor", "staff": "Q0042", "target": "qc", "expires": str(int(time.time()) + 300),
              "nonce": secrets.token_hex(8), **overrides}
    return {**params, "sign": signature(secret, params)}


def test_a_signed_link_opens_qc_for_that_user_framable_by_the_system_only(app, emr_secret):
    from fastapi.testclient import TestClient

    with TestClient(app, base_url="http://testserver", client=("127.0.0.1", 50010)) as browser:
        opened = browser.get("/embed", params=link(emr_secret), follow_redirects=False)
        assert opened.status_code == 303 and opened.headers["location"] == "/qc"
        page = browser.get("/qc")
        assert page.status_code == 200 and "测试qc" in page.text
        policy = page.headers["content-security-policy"]
        assert f"frame-ancestors 'self' {ORIGIN}" in policy and "x-frame-options" not in page.headers


def test_a_replayed_link_is_refused_with_a_chinese_page(app, emr_secret, web_engine):
    from fastapi.testclient import TestClient

    params = link(emr_secret)
    with TestClient(app, base_url="http://testserver", client=("127.0.0.1", 50011)) as first:
        assert first.get("/embed", params=params, follow_redirects=False).status_code == 303
    with TestClient(app, base_url="http://testserver", client=("127.0.0.1", 50012)) as second:
        replay = second.get("/embed", params=params, follow_redirects=False)
        assert replay.status_code == 403 and "已使用过" in replay.text
        assert f"frame-ancestors 'self' {ORIGIN}" in replay.headers["content-security-policy"]  # shown in the frame
        assert "frame-ancestors 'none'" in second.get("/login").headers["content-security-policy"]
    with session_factory(web_engine)() as session:
        refused = session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "embed_refused")).one()
        assert refused.result == "denied" and "已使用过" in refused.detail["原因"]


@pytest.mark.parametrize(("change", "reason"), [
    ({"expires": str(int(time.time()) - 5)}, "已过期"),
    ({"expires": str(int(time.time()) + 86400)}, "有效期过长"),
    ({"staff": "NOBODY"}, "没有唯一对应的用户"),
    ({"target": "admin"}, "目标页面无效"),
])
def test_a_link_that_is_expired_or_names_no_one_is_refused(app, client_for, emr_secret, change, reason):
    answer = client_for("anonymous").get("/embed", params=link(emr_secret, **change), follow_redirects=False)
    assert answer.status_code == 403 and reason in answer.text


def test_a_forged_link_is_refused(client_for, emr_secret):
    params = link(emr_secret)
    params["staff"] = "A0001"  # changed after signing
    answer = client_for("anonymous").get("/embed", params=params, follow_redirects=False)
    assert answer.status_code == 403 and "签名不正确" in answer.text
    forged = link("not-the-secret")
    assert "签名不正确" in client_for("anonymous").get("/embed", params=forged, follow_redirects=False).text


def test_a_record_link_opens_that_record(client_for, emr_secret, qc_record):  # noqa: F811
    answer = client_for("anonymous").get("/embed", params=link(emr_secret, target="record", record="0100001",
                                                                stay="1"), follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == f"/records/{qc_record['record']}"
