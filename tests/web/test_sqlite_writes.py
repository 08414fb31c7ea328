"""SQLite under concurrent requests: reads on a snapshot, writes serialised, locked requests run again."""
from __future__ import annotations

import asyncio
import threading

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError
from starlette.responses import PlainTextResponse

from bingan.storage.db import begin_writes, make_engine, session_factory, transaction
from bingan.storage.models import AuditEvent
from bingan.web.retry import RetryLocked


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'load.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER)")
        conn.exec_driver_sql("INSERT INTO counter VALUES (1, 0)")
    yield engine
    engine.dispose()


def test_a_write_after_a_stale_read_waits_instead_of_failing(engine):
    reader = session_factory(engine)()
    assert reader.execute(sa.text("SELECT n FROM counter")).scalar() == 0  # snapshot taken
    with transaction(engine) as other:
        other.execute(sa.text("UPDATE counter SET n = 5"))
    # Plain WAL SQLite answers SQLITE_BUSY_SNAPSHOT here; the write continues in a fresh write transaction.
    reader.execute(sa.text("INSERT INTO counter VALUES (2, 1)"))
    reader.commit()
    with transaction(engine) as check:
        assert check.execute(sa.text("SELECT count(*), max(n) FROM counter")).one() == (2, 5)


def test_read_modify_write_with_the_lock_taken_at_begin_loses_no_update(engine):
    def bump() -> None:
        for _ in range(25):
            with transaction(engine, write=True) as session:
                n = session.execute(sa.text("SELECT n FROM counter WHERE id = 1")).scalar()
                session.execute(sa.text("UPDATE counter SET n = :n WHERE id = 1"), {"n": n + 1})

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with transaction(engine) as session:
        assert session.execute(sa.text("SELECT n FROM counter WHERE id = 1")).scalar() == 100


def test_begin_writes_holds_the_lock_from_the_start(engine):
    holder = session_factory(engine)()
    begin_writes(holder)
    blocked = engine.raw_connection()
    blocked.driver_connection.execute("PRAGMA busy_timeout=50")
    with pytest.raises(Exception, match="locked"):
        blocked.driver_connection.execute("BEGIN IMMEDIATE")
    holder.rollback()
    blocked.driver_connection.execute("BEGIN IMMEDIATE")
    blocked.driver_connection.execute("ROLLBACK")
    blocked.close()


def test_a_page_view_is_audited_before_the_response_is_sent(client_for, world, web_engine):
    clinician = client_for("clinician")
    record_id = world.records["normal"].id
    with session_factory(web_engine)() as session:
        before = session.scalar(sa.select(sa.func.count(AuditEvent.id)).where(AuditEvent.record_id == record_id))
    assert clinician.get(f"/records/{record_id}").status_code == 200
    with session_factory(web_engine)() as session:
        after = session.scalar(sa.select(sa.func.count(AuditEvent.id)).where(AuditEvent.record_id == record_id))
        assert after == before + 1


def test_concurrent_readers_all_get_their_pages_and_events(client_for, world, web_engine):
    clients = [client_for("clinician") for _ in range(4)]
    record_id = world.records["normal"].id
    statuses: list[int] = []

    def read(client: TestClient) -> None:
        statuses.extend(client.get(f"/records/{record_id}").status_code for _ in range(5))

    threads = [threading.Thread(target=read, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 20


def test_a_request_that_met_a_locked_database_runs_again():
    calls: list[bytes] = []

    async def flaky(scope, receive, send) -> None:
        body = (await receive())["body"]
        calls.append(body)
        if len(calls) == 1:
            raise OperationalError("INSERT …", {}, Exception("database is locked"))
        await PlainTextResponse("ok")(scope, receive, send)

    response = TestClient(RetryLocked(flaky)).post("/x", content=b"payload")
    assert response.text == "ok" and calls == [b"payload", b"payload"]


def test_other_database_errors_are_not_retried():
    calls = []

    async def broken(scope, receive, send) -> None:
        calls.append(1)
        raise OperationalError("SELECT …", {}, Exception("no such table: x"))

    with pytest.raises(OperationalError):
        TestClient(RetryLocked(broken)).get("/x")
    assert calls == [1]


def test_a_large_body_streams_through_once_instead_of_being_held_in_memory():
    """A file pushed by a hospital system may be gigabytes: it reaches the app in pieces."""
    piece, count = b"x" * (1024 * 1024), 12
    incoming = [{"type": "http.request", "body": piece, "more_body": i < count - 1} for i in range(count)]
    seen: list[int] = []

    async def app(scope, receive, send) -> None:
        while True:
            message = await receive()
            seen.append(len(message["body"]))
            if not message["more_body"]:
                return

    async def receive():
        return incoming.pop(0)

    async def send(message) -> None:
        pass

    scope = {"type": "http", "method": "POST", "path": "/api/v1/ingest",
             "headers": [(b"content-length", str(count * len(piece)).encode())]}
    asyncio.run(RetryLocked(app)(scope, receive, send))
    assert seen == [len(piece)] * count
