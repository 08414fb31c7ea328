"""Property-based fuzzing of the JSON API from its own OpenAPI schema (schemathesis, in process).

Every operation gets generated input, valid and invalid by the schema (wrong types, huge and
negative numbers, odd unicode, NUL bytes, missing fields), sent as a signed-in user with the
CSRF token. The promise: no 5xx, every refusal is JSON with a Chinese ``detail``, and a refused
request changes nothing in the database.
"""
from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator

import pytest
import requests
import schemathesis
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from web_helpers import csrf_headers

from bingan.access import audit, audit_head
from bingan.storage.models import Base, Document, Record, User

CHINESE = re.compile(r"[\u4e00-\u9fff]")
# Written on purpose by refused requests too: the audit trail of a refusal, the session's last-seen time.
NOT_COMPARED = {"audit_events", "web_sessions", "alembic_version"}
AUDIT_KEYS = (audit.ANCHOR_KEY, audit_head.HEAD_KEY)
# Per operation and kind (~27 s for both databases); BINGAN_FUZZ_EXAMPLES=200 digs deeper locally.
EXAMPLES = int(os.environ.get("BINGAN_FUZZ_EXAMPLES", "6"))


def role_for(path: str) -> str:
    """The role whose permissions reach the operation, so generated calls get past the guard."""
    if path.startswith(("/api/v1/admin/appearance", "/api/v1/admin/announcements", "/api/v1/status")):
        return "sysadmin"
    if path.startswith("/api/v1/audit"):
        return "auditor"
    if path.startswith("/api/v1/admin/"):
        return "secadmin"
    return "clinician"


def snapshot(engine: sa.Engine) -> dict[str, str]:
    """A digest of each table the application keeps, bar those a refusal writes on purpose."""
    digests = {}
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name in NOT_COMPARED:
                continue
            query = sa.select(table)
            if table.name == "system_settings":  # the audit chain's head moves with every audited refusal
                query = query.where(table.c.key.not_in(AUDIT_KEYS))
            rows = sorted(repr(tuple(row)) for row in conn.execute(query))
            digests[table.name] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
    return digests


def session_of(client) -> requests.Session:
    """A requests session carrying the signed-in client's cookies and CSRF token."""
    session = requests.Session()
    for cookie in client.cookies.jar:
        session.cookies.set(cookie.name, cookie.value)
    session.headers.update(csrf_headers(client))
    return session


def check_answer(case, response, before: dict[str, str], engine: sa.Engine) -> None:
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code} {response.text}"
    if response.status_code < 400:
        return
    content_type = (response.headers.get("content-type") or [""])[0]
    assert content_type.startswith("application/json"), f"{case.method} {case.formatted_path}: {response.text}"
    detail = response.json().get("detail")
    assert isinstance(detail, str) and CHINESE.search(detail), f"{case.method} {case.formatted_path}: {detail!r}"
    after = snapshot(engine)
    changed = [name for name in after if after[name] != before[name]]
    assert not changed, f"{case.method} {case.formatted_path} changed {changed}: {response.text}"


def takes_input(operation) -> bool:
    """Whether anything can be sent wrong: no parameters and no body leave negative testing nothing."""
    definition = operation.definition.raw
    return bool(definition.get("parameters") or definition.get("requestBody"))


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


def fuzz(strategy, http: requests.Session, engine: sa.Engine) -> None:
    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    @given(case=strategy)
    def run(case):
        before = snapshot(engine)
        response = case.call(session=http)
        check_answer(case, response, before, engine)

    run()


def strategies(operation, engine: sa.Engine) -> Iterator[tuple[str, object]]:
    yield "positive", operation.as_strategy(generation_mode=GenerationMode.POSITIVE)
    if takes_input(operation):
        yield "negative", operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)
    known = known_ids(engine, operation.path)
    if known:
        yield "existing ids", operation.as_strategy(generation_mode=GenerationMode.POSITIVE, path_parameters=known)


@pytest.fixture(params=["sqlite", "postgresql"])
def web_engine(request):
    """The fuzzing runs on both databases: PostgreSQL refuses what SQLite lets through (NUL, long text)."""
    return request.getfixturevalue({"sqlite": "sqlite_engine", "postgresql": "postgres_engine"}[request.param])


def test_generated_input_never_fails_the_server(app, web_engine, client_for):
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    sessions: dict[str, requests.Session] = {}
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path.startswith("/api/v1/ingest"):
            continue  # API-key callers: tests/ingest covers the push API
        role = role_for(operation.path)
        if role not in sessions:
            sessions[role] = session_of(client_for(role))
        for kind, strategy in strategies(operation, web_engine):
            try:
                fuzz(strategy, sessions[role], web_engine)
            except Exception as error:
                failures.append(f"{operation.method.upper()} {operation.path} ({kind}): {type(error).__name__}: "
                                f"{error}"[:3000])
    assert not failures, "\n\n".join(failures)
