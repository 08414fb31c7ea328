"""Property-based fuzzing of the JSON API from its own OpenAPI schema (schemathesis, in process).

Every operation gets generated input, valid and invalid by the schema (wrong types, huge and
negative numbers, odd unicode, NUL bytes, missing fields), sent as a signed-in user with the
CSRF token. The promise: no 5xx, every refusal is JSON with a Chinese ``detail``, and a refused
request changes nothing in the database.
"""
from __future__ import annotations

import pytest
import requests
import schemathesis
import sqlalchemy as sa
from fuzz_helpers import CALL_SECONDS, CHINESE, FUZZ_SECONDS, Digests, described, fuzz, header, session_of, strategies

from bingan.storage.models import Document, Record, User


def role_for(path: str) -> str:
    """The role whose permissions reach the operation, so generated calls get past the guard."""
    if path.startswith(("/api/v1/admin/appearance", "/api/v1/admin/announcements", "/api/v1/status",
                        "/api/v1/backup")):
        return "sysadmin"
    if path.startswith("/api/v1/audit"):
        return "auditor"
    if path.startswith("/api/v1/admin/"):
        return "secadmin"
    return "clinician"


def check_answer(case, response, before: dict[str, str], digests: Digests) -> None:
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code} {response.text}"
    if response.status_code < 400:
        return
    content_type = header(response, "content-type")
    assert content_type.startswith("application/json"), f"{case.method} {case.formatted_path}: {response.text}"
    detail = response.json().get("detail")
    assert isinstance(detail, str) and CHINESE.search(detail), f"{case.method} {case.formatted_path}: {detail!r}"
    changed = digests.changed_since(before)
    assert not changed, f"{case.method} {case.formatted_path} changed {changed}: {response.text}"


def known_ids(engine: sa.Engine, path: str) -> dict[str, int]:
    """Path parameters naming rows that exist, so generated bodies reach the code behind the 404."""
    with engine.connect() as conn:
        record_id = conn.scalar(sa.select(Record.id).where(Record.record_number == "0000001"))
        document_id = conn.scalar(sa.select(Document.id).where(Document.record_id == record_id))
        nurse_id = conn.scalar(sa.select(User.id).where(User.username == "u_nurse"))
    known = {"record_id": record_id, "document_id": document_id, "number": 1}
    if path.startswith("/api/v1/admin/users/"):
        known["item_id"] = nurse_id  # a role the fuzzing does not sign in with
    return {name: value for name, value in known.items() if "{" + name + "}" in path}


def check_each(http: requests.Session, engine: sa.Engine):
    digests = Digests(engine)

    def check(case) -> None:
        before = digests.before()
        check_answer(case, case.call(session=http, timeout=CALL_SECONDS), before, digests)
    return check


@pytest.fixture(params=["sqlite", "postgresql"])
def web_engine(request):
    """The fuzzing runs on both databases: PostgreSQL refuses what SQLite lets through (NUL, long text)."""
    return request.getfixturevalue({"sqlite": "sqlite_engine", "postgresql": "postgres_engine"}[request.param])


# pytest's 300 s per test ended a slow run inside a Hypothesis example (pytest.fail is a
# BaseException), which Hypothesis reported as a FlakyFailure of whichever operation was running.
@pytest.mark.timeout(FUZZ_SECONDS)
def test_generated_input_never_fails_the_server(app, web_engine, client_for):
    schema = schemathesis.openapi.from_dict(app.openapi())  # the served copy needs a login
    schema.app = app
    sessions: dict[str, requests.Session] = {}
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path.startswith("/api/v1/ingest"):
            continue  # API-key callers: tests/ingest covers the push API
        role = role_for(operation.path)
        if role not in sessions:
            sessions[role] = session_of(client_for(role))
        for kind, strategy in strategies(operation, known_ids(web_engine, operation.path)):
            try:
                fuzz(strategy, check_each(sessions[role], web_engine))
            except Exception as error:
                failures.append(f"{operation.method.upper()} {operation.path} ({kind}): {described(error)}"[:3000])
    assert not failures, "\n\n".join(failures)
