"""The authorisation matrix: every route of the app × every role × every record state.

The expected answers are written from the role defaults and the record states, not computed by
the gate, so a change in the gate or a route without a guard shows up here.
"""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from web_helpers import csrf_of
from world import ROLES, STATES

from bingan.access.permissions import ROLE_DEFAULTS
from bingan.web.routes import route_table

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
SKIP = {("POST", "/logout")}  # ends the shared session; covered in test_login
ALL_DEPARTMENTS = {role for role, perms in ROLE_DEFAULTS.items() if "scope.all_departments" in perms}


def expected_allowed(role: str, state: str, action: str) -> bool:
    if state in {"sealed", "confidential", "restricted_tag"}:
        return False
    if state == "granted" and role == "clinician" and action in {"view", "print"}:
        return True
    if f"record.{action}" not in ROLE_DEFAULTS[role]:
        return False
    return state == "normal" or role in ALL_DEPARTMENTS


def test_every_route_declares_a_rule(app):
    undeclared = [f"{r.methods} {r.path}" for r in route_table(app) if r.kind == "undeclared"]
    assert undeclared == []


def _url(rule, world, state: str) -> str:
    record = world.records[state]
    document = world.documents[state][0]
    return (rule.path.replace("{record_id}", str(record.id)).replace("{document_id}", str(document.id))
            .replace("{number}", "1").replace("{item_id}", "999999").replace("{approval_id}", "999999")
            .replace("{attachment_id}", "999999").replace("{message_id}", "999999").replace("{flow_id}", "999999"))


def _call(client: TestClient, method: str, url: str, token: str):
    headers = {"X-CSRF-Token": token} if method in UNSAFE else {}
    if method == "PUT":
        return client.put(url, json={"on": True}, headers=headers, follow_redirects=False)
    if method == "PATCH":
        return client.patch(url, json={}, headers=headers, follow_redirects=False)
    if method == "DELETE":
        return client.delete(url, headers=headers, follow_redirects=False)
    if method == "POST":
        return client.post(url, data={}, headers=headers, follow_redirects=False)
    return client.get(url, follow_redirects=False)


@pytest.fixture
def role_clients(client_for):
    clients = {role: client_for(role) for role in ROLES}
    tokens = {role: csrf_of(client.get("/settings").text) for role, client in clients.items()}
    return clients, tokens


def _cases(app):
    for rule in route_table(app):
        for method in rule.methods:
            if method == "HEAD" or (method, rule.path) in SKIP or rule.kind == "framework":
                continue
            yield rule, method


def test_matrix_of_routes_roles_and_record_states(app, world, role_clients):
    clients, tokens = role_clients
    anonymous = TestClient(app)
    failures = []
    for rule, method in _cases(app):
        states = STATES if rule.kind in {"record", "document"} else ("normal",)
        for state in states:
            url = _url(rule, world, state)
            failures += _check_anonymous(anonymous, rule, method, url)
            for role in ROLES:
                response = _call(clients[role], method, url, tokens[role])
                problem = _judge(rule, role, state, response.status_code)
                if problem:
                    failures.append(f"{method} {url} as {role} ({state}): {problem}")
    assert failures == [], "\n".join(failures)


def _judge(rule, role: str, state: str, status: int) -> str:
    if status >= 500:
        return f"server error {status}"
    if rule.kind == "public":
        return "refused with 403" if status == 403 else ""  # /login answers 401 to bad credentials
    if rule.kind in {"pending", "self"}:
        return f"refused with {status}" if status in (401, 403) else ""
    if rule.kind == "apikey":
        return "" if status in (401, 403, 422) else f"machine route answered {status} without a key"
    allowed = rule.detail in ROLE_DEFAULTS[role] if rule.kind == "perm" else expected_allowed(role, state, rule.detail)
    if allowed and status in (401, 403):
        return f"expected allowed, got {status}"
    if not allowed and status != 403:
        return f"expected 403, got {status}"
    return ""


def _check_anonymous(client: TestClient, rule, method: str, url: str) -> list[str]:
    if rule.kind == "public":
        return []
    token = csrf_of(client.get("/login").text)
    response = _call(client, method, url, token)
    if rule.kind == "apikey":
        return [] if response.status_code in (401, 403, 422) else [f"{method} {url} anonymous: {response.status_code}"]
    redirected = response.status_code == 303 and response.headers["location"].startswith("/login")
    if redirected or response.status_code == 401:
        return []
    return [f"{method} {url} anonymous: expected login, got {response.status_code}"]


def test_every_unsafe_route_needs_the_csrf_token(app, role_clients):
    clients, _ = role_clients
    archivist = clients["archivist"]
    for rule, method in _cases(app):
        if method not in UNSAFE or rule.kind == "apikey":
            continue
        url = (rule.path.replace("{record_id}", "1").replace("{document_id}", "1").replace("{number}", "1")
               .replace("{item_id}", "1").replace("{approval_id}", "1").replace("{attachment_id}", "1")
               .replace("{message_id}", "1").replace("{flow_id}", "1"))
        response = archivist.request(method, url, data={}, follow_redirects=False)
        assert response.status_code == 403 and "CSRF" in response.text, f"{method} {url}"
