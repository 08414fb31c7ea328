"""API tokens (U1): the security administrator creates a scoped token (shown once), a hospital
statistics system reads QC results with it (audited as the token's service user), it reaches
nothing outside its permissions, and a revoked token is refused at once."""
from __future__ import annotations

import re

import sqlalchemy as sa
from fastapi.testclient import TestClient
from test_qc_api import _api, qc_record  # noqa: F401
from web_helpers import csrf_of

from bingan.storage.db import session_factory
from bingan.storage.models import AuditEvent
from bingan.storage.models.integration import ApiToken


def _statistics_token(client_for, permissions=("reports.view", "scope.all_departments")) -> tuple[TestClient, dict]:
    secadmin = client_for("secadmin")
    made = _api(secadmin, "POST", "/api/v1/integration/tokens",
                {"name": "病案统计系统", "permissions": list(permissions)})
    assert made.status_code == 201, made.text
    return secadmin, made.json()


def _system(app, token: str) -> TestClient:
    return TestClient(app, base_url="http://testserver", client=("127.0.0.1", 50009),
                      headers={"Authorization": f"Bearer {token}"})


def test_the_statistics_system_reads_passed_qc_results_with_its_token(app, client_for, qc_record,  # noqa: F811
                                                                       web_engine):
    qc = client_for("qc")
    assert _api(qc, "POST", f"/api/v1/qc/{qc_record['record']}/pass", {}).status_code == 200
    _secadmin, made = _statistics_token(client_for)
    assert made["token"].startswith("bgn_") and made["service_user"].startswith("api-")

    with _system(app, made["token"]) as system:
        answer = system.get("/api/v1/qc/results", params={"since": "2026-01-01 00:00"})
        assert answer.status_code == 200, answer.text
        [result] = answer.json()["results"]
        assert result["record_number"] == "0100001" and result["department"] == "心内科"
        assert result["result"] == "passed" and result["returns"] == 0 and result["finished_at"].endswith("+08:00")
        assert "name" not in result and "周志强" not in answer.text  # statistics get no patient names
        assert answer.json()["next_since"] == result["finished_at"]
        later = system.get("/api/v1/qc/results", params={"since": "2999-01-01"}).json()
        assert later == {"results": [], "next_since": None}
        assert system.get("/api/v1/qc/results", params={"since": "昨天"}).status_code == 400

    with session_factory(web_engine)() as session:
        audited = session.scalars(sa.select(AuditEvent).where(AuditEvent.object_type == "qc_results")).all()
        assert {event.username for event in audited} == {made["service_user"]}


def test_a_token_reaches_only_what_its_permissions_allow(app, client_for):
    _secadmin, made = _statistics_token(client_for)
    with _system(app, made["token"]) as system:
        assert system.get("/api/v1/qc/worklist").status_code == 403  # qc.review was not given
        assert system.get("/api/v1/integration/tokens").status_code == 403
        assert system.get("/qc", follow_redirects=False).status_code in (303, 307, 401)  # pages are for people
        assert system.post("/api/v1/integration/tokens", json={"name": "x", "permissions": ["reports.view"]}
                           ).status_code == 403


def test_a_token_never_holds_an_administrators_permission(client_for):
    secadmin = client_for("secadmin")
    refused = _api(secadmin, "POST", "/api/v1/integration/tokens", {"name": "越权", "permissions": ["users.manage"]})
    assert refused.status_code == 400 and "管理用户" in refused.json()["detail"]
    assert _api(client_for("qc"), "POST", "/api/v1/integration/tokens",
                {"name": "质控", "permissions": ["reports.view"]}).status_code == 403


def test_a_revoked_token_is_refused_at_once(app, client_for, web_engine):
    secadmin, made = _statistics_token(client_for)
    with _system(app, made["token"]) as system:
        assert system.get("/api/v1/qc/results", params={"since": "2026-01-01"}).status_code == 200
        revoked = _api(secadmin, "POST", f"/api/v1/integration/tokens/{made['id']}/revoke")
        assert revoked.status_code == 200 and revoked.json()["revoked_at"]
        again = system.get("/api/v1/qc/results", params={"since": "2026-01-01"})
        assert again.status_code == 401 and "吊销" in again.json()["detail"]
    listed = secadmin.get("/api/v1/integration/tokens").json()["tokens"]
    assert "token" not in listed[0] and listed[0]["prefix"] == made["token"][:12]
    with session_factory(web_engine)() as session:
        stored = session.get(ApiToken, made["id"])
        assert made["token"] not in (stored.token_hash, stored.prefix)  # only its hash is kept


def test_the_token_page_shows_a_new_token_once(client_for):
    secadmin = client_for("secadmin")
    form = secadmin.get("/admin/integration")
    assert form.status_code == 200
    created = secadmin.post("/admin/integration/tokens", data={
        "csrf_token": csrf_of(form.text), "name": "医务系统", "permissions": ["reports.view"]})
    token = re.search(r"bgn_[A-Za-z0-9_\-]{40,}", created.text)
    assert created.status_code == 200 and "只显示这一次" in created.text and token
    assert token.group(0) not in secadmin.get("/admin/integration").text
