"""The authorisation matrix: every route of the app × every role × every record state.

The expected answers are written from the role defaults and the record states, not computed by
the gate, so a change in the gate or a route without a guard shows up here.
"""
from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from web_helpers import csrf_of, sign_in
from world import PASSWORD, ROLES, STATES

from bingan.access.accounts import create_user
from bingan.access.permissions import ACTION_RULES, ROLE_DEFAULTS
from bingan.storage.db import session_factory
from bingan.web.routes import route_table

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
SKIP = {("POST", "/logout")}  # ends the shared session; covered in test_login
# Path parameters other than the world's record and document: ids of rows that do not exist.
PARAMETER = re.compile(r"\{(\w+)\}")
ALL_DEPARTMENTS = {role for role, perms in ROLE_DEFAULTS.items() if "scope.all_departments" in perms}


def expected_allowed(role: str, state: str, action: str) -> bool:
    """From the role defaults and the action's rule as data (ACTION_RULES): its permission, whether
    it needs the record within the user's scope (applying to borrow does not), whether it is
    allowed while sealed (applying to unseal, the seal manager's list and package)."""
    rule = ACTION_RULES[action]
    if rule.permission not in ROLE_DEFAULTS[role]:
        return state == "granted" and role == "clinician" and action in {"view", "print"}  # the world's grant
    if state == "sealed":
        return rule.while_sealed
    if not rule.department_scope:
        return True
    if state in {"confidential", "restricted_tag"}:
        return False
    return state == "normal" or role in ALL_DEPARTMENTS or (state == "granted" and role == "clinician"
                                                             and action in {"view", "print"})


def test_every_route_declares_a_rule(app):
    undeclared = [f"{r.methods} {r.path}" for r in route_table(app) if r.kind == "undeclared"]
    assert undeclared == []


def _url(rule, world, state: str) -> str:
    record = world.records[state]
    document = world.documents[state][0]
    path = rule.path.replace("{record_id}", str(record.id)).replace("{document_id}", str(document.id))
    return PARAMETER.sub(lambda match: "1" if match.group(1) == "number" else "999999", path)


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


def _states(rule) -> tuple[str, ...]:
    return STATES if rule.kind in {"record", "document"} else ("normal",)


@pytest.mark.parametrize("role", ROLES)
def test_matrix_of_routes_and_record_states_for_each_role(app, world, client_for, role):
    """One role per test, so the matrix (some 15,000 requests) spreads over the test processes."""
    client = client_for(role)
    token = csrf_of(client.get("/settings").text)
    failures = []
    for rule, method in _cases(app):
        for state in _states(rule):
            url = _url(rule, world, state)
            problem = _judge(rule, role, state, _call(client, method, url, token).status_code)
            if problem:
                failures.append(f"{method} {url} as {role} ({state}): {problem}")
    assert failures == [], "\n".join(failures)


KIOSK = "/kiosk"


def test_the_kiosk_account_reaches_the_kiosk_and_nothing_else(app, world, web_engine, client_for):
    """The row of the built-in role 自助机 (copy.kiosk only): its routes answer (a screen, or the
    start screen again when no patient is at the kiosk), "/" sends it to the kiosk, every other
    signed-in route refuses it — with its permission alone as with the permissions of another role."""
    with session_factory(web_engine)() as session, session.begin():
        create_user(session, "u_kiosk", PASSWORD, ["kiosk"], full_name="自助机", must_change_password=False)
        create_user(session, "u_kiosk_nurse", PASSWORD, ["kiosk", "nurse"], full_name="自助机",
                    must_change_password=False)
    failures = []
    for username in ("u_kiosk", "u_kiosk_nurse"):
        client = client_for("anonymous")
        assert sign_in(client, username).status_code == 303
        token = csrf_of(client.get(KIOSK).text)
        for rule, method in _cases(app):
            if rule.kind in {"public", "pending", "apikey"}:
                continue
            problem = _judge_kiosk(rule, _call(client, method, _url(rule, world, "normal"), token))
            if problem:
                failures.append(f"{method} {rule.path} as {username}: {problem}")
    assert failures == [], "\n".join(failures)


def _judge_kiosk(rule, answer) -> str:
    status = answer.status_code
    if status >= 500:
        return f"server error {status}"
    if rule.path == KIOSK or rule.path.startswith(KIOSK + "/"):
        return f"refused with {status}" if status in (401, 403) else ""
    if rule.path == "/":
        return "" if status == 303 and answer.headers["location"] == KIOSK else f"expected the kiosk, got {status}"
    return "" if status == 403 else f"expected 403, got {status}"


def test_every_route_sends_the_anonymous_to_sign_in(app, world):
    anonymous = TestClient(app)
    failures = []
    for rule, method in _cases(app):
        for state in _states(rule):
            failures += _check_anonymous(anonymous, rule, method, _url(rule, world, state))
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
    if rule.kind == "perm":
        allowed = rule.detail in ROLE_DEFAULTS[role]
    elif rule.kind == "any":  # the route then asks for the one its default query needs: the first named
        allowed = rule.detail.split()[0] in ROLE_DEFAULTS[role]
    else:
        allowed = expected_allowed(role, state, rule.detail)
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
        url = PARAMETER.sub("1", rule.path)
        response = archivist.request(method, url, data={}, follow_redirects=False)
        assert response.status_code == 403 and "CSRF" in response.text, f"{method} {url}"
