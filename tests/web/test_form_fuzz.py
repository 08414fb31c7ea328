"""Property-based fuzzing of the HTML forms (the routes hidden from the OpenAPI schema).

FastAPI writes the schema of hidden routes too once they are marked for it: each form route's
Form, File and path parameters become an operation schemathesis can generate for. Each is posted
signed in, with the CSRF token, by a role that reaches it. The promise, as for the JSON API: no
5xx, every refusal says why in Chinese (the error page, the form's own message, or JSON for
HTMX), and a refused post changes nothing in the database.
"""
from __future__ import annotations

import copy
import html
import os
import re

import pytest
import requests
import schemathesis
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from fuzz_helpers import (
    ALL,
    CALL_SECONDS,
    CHINESE,
    EVERY_TIME,
    FUZZ_SECONDS,
    Digests,
    described,
    fuzz,
    header,
    session_of,
    strategies,
)

from bingan.access.permissions import ROLE_DEFAULTS
from bingan.storage.models import Record, Role, User
from bingan.web.routes import route_table

# Per operation and kind (~20 s for both databases); BINGAN_FUZZ_EXAMPLES=200 digs deeper locally.
EXAMPLES = int(os.environ.get("BINGAN_FUZZ_EXAMPLES", "3"))
# Ends the session every other request rides on; it takes no input to get wrong.
SKIPPED = {"/logout"}
# Read by hand from the request's form, so FastAPI knows nothing of it.
SETTINGS_FORM = {
    "type": "object",
    "properties": {
        "start_page": {"type": "string"}, "per_page": {"type": "integer"}, "sort": {"type": "string"},
        "hidden": {"type": "array", "items": {"type": "string"}}, "print_duplex": {"type": "string"},
        "print_copies": {"type": "integer"},
    },
}
ROLE_ORDER = ("clinician", "archivist", "secadmin", "sysadmin")
# A wrong code counts towards the lockout (and five lock the account, ending its sessions): each
# form that checks a code or password gets a user of its own.
OWN_USER = {"/login": "nurse", "/login/totp": "medical_affairs", "/account/totp": "qc",
            "/account/password": "copy_clerk"}
# Written on purpose by those refusals: the counted failure (per account and per address), the
# enrolment's pending secret.
ON_PURPOSE = {**EVERY_TIME, "users": ("failed_logins", "locked_until", "updated_at"), "totp_enrolments": ALL,
              "login_failures": ALL}
# The error page's message and each form's problems are marked "bad".
MESSAGE = re.compile(r'class="[^"]*\bbad\b[^"]*"[^>]*>(.*?)</', re.S)
ENGLISH = re.compile(r"Field required|Input should|Internal Server Error|Not Found|There was an error|Value error")


def hidden_form_routes(app: FastAPI) -> list[RouteContext]:
    """Copies of the hidden routes that take a POST, marked for the schema (the app keeps its own)."""
    marked = []
    for context in iter_route_contexts(app.routes):
        if not isinstance(context.original_route, APIRoute) or context.include_in_schema:
            continue
        if "POST" not in (context.methods or ()) or context.path in SKIPPED:
            continue
        route = copy.copy(context._effective_route)
        route.include_in_schema = True
        nested = context._route_context is not None
        marked.append(RouteContext(context.original_route, route) if nested else RouteContext(route))
    return marked


def form_schema(app: FastAPI) -> dict:
    schema = get_openapi(title="表单", version="1", routes=hidden_form_routes(app))
    schema["paths"]["/settings"]["post"]["requestBody"] = {
        "content": {"application/x-www-form-urlencoded": {"schema": SETTINGS_FORM}}}
    return schema


def role_for(app: FastAPI) -> dict[str, str]:
    """Each form path's signing-in role: the first whose default permissions include the route's."""
    roles = dict(OWN_USER)
    for rule in route_table(app):
        if rule.path in roles:
            continue
        needed = rule.detail.split()[0] if rule.kind in ("perm", "any") else ""
        roles[rule.path] = next((role for role in ROLE_ORDER if not needed or needed in ROLE_DEFAULTS[role]),
                                "clinician")
    return roles


def known_ids(engine: sa.Engine, path: str) -> dict[str, int]:
    """Path parameters naming rows that exist, so generated forms reach the code behind the 404."""
    with engine.connect() as conn:
        record_id = conn.scalar(sa.select(Record.id).where(Record.record_number == "0000001"))
        nurse_id = conn.scalar(sa.select(User.id).where(User.username == "u_nurse"))
        nurse_role = conn.scalar(sa.select(Role.id).where(Role.code == "nurse"))
    if "{record_id}" in path:
        return {"record_id": record_id}
    if path.startswith("/admin/users/{item_id}"):
        return {"item_id": nurse_id}  # a user the fuzzing does not sign in as
    if path.startswith("/admin/roles/{item_id}"):
        return {"item_id": nurse_role}
    return {}


def refusal_messages(response) -> list[str]:
    """What the user reads: JSON ``detail`` (HTMX), else the error page's or the form's messages."""
    if header(response, "content-type").startswith("application/json"):
        return [str(response.json().get("detail"))]
    return [html.unescape(text) for text in MESSAGE.findall(response.text)]


def check_answer(case, response, before: dict[str, str], digests: Digests) -> None:
    where = f"{case.method} {case.formatted_path}"
    assert response.status_code < 500, f"{where}: {response.status_code} {response.text[:2000]}"
    if response.status_code < 400:
        return
    messages = refusal_messages(response)
    assert any(CHINESE.search(message) for message in messages), f"{where}: {response.text[:2000]}"
    assert not ENGLISH.search(response.text), f"{where}: {response.text[:2000]}"
    changed = digests.changed_since(before)
    assert not changed, f"{where} changed {changed}: {messages}"


def check_each(http: requests.Session, engine: sa.Engine):
    digests = Digests(engine, ON_PURPOSE)

    def check(case) -> None:
        before = digests.before()
        check_answer(case, case.call(session=http, allow_redirects=False, timeout=CALL_SECONDS), before, digests)
    return check


@pytest.fixture(params=["sqlite", "postgresql"])
def web_engine(request):
    """PostgreSQL refuses what SQLite lets through (NUL, long text): the forms are fuzzed on both."""
    return request.getfixturevalue({"sqlite": "sqlite_engine", "postgresql": "postgres_engine"}[request.param])


# pytest's 300 s per test ended a slow run inside a Hypothesis example (pytest.fail is a
# BaseException), which Hypothesis reported as a FlakyFailure of whichever operation was running.
@pytest.mark.timeout(FUZZ_SECONDS)
def test_generated_forms_never_fail_the_server(app, web_engine, client_for):
    schema = schemathesis.openapi.from_dict(form_schema(app))
    schema.app = app
    roles = role_for(app)
    sessions: dict[str, requests.Session] = {}
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        role = roles[operation.path]
        if role not in sessions:
            sessions[role] = session_of(client_for(role))
        for kind, strategy in strategies(operation, known_ids(web_engine, operation.path)):
            try:
                fuzz(strategy, check_each(sessions[role], web_engine), EXAMPLES)
            except Exception as error:
                failures.append(f"{operation.method.upper()} {operation.path} ({kind}): {described(error)}"[:3000])
    assert not failures, "\n\n".join(failures)
