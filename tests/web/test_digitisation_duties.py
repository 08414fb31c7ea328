"""Capture and review as separate duties (issue 16): an operator holding only 数字化拍摄 (scan.capture)
shoots pages and works the rework queue but reviews nothing; a reviewer holding only 影像审核
(scan.review) works first review and re-review but captures nothing; migration 0039 gives review to
every role that could capture before (review was part of capture until then)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "records" / "digitisation"))

from pages import jpeg, text_page

from bingan.storage.db import make_engine, session_factory
from bingan.storage.migrate import upgrade
from bingan.storage.models import Role

ADMISSION = "C02"


def token(client) -> dict:
    return {"X-CSRF-Token": client.get("/api/v1/me").json()["csrf_token"]}


def only(engine, role: str, kept: str, dropped: str) -> None:
    with session_factory(engine).begin() as session:
        found = session.scalars(sa.select(Role).where(Role.code == role)).one()
        assert kept in found.permissions
        found.permissions = [code for code in found.permissions if code != dropped]


@pytest.fixture
def room(client_for):
    """The record room's user, signed in once (a second sign-in would reuse the one-time code)."""
    return client_for("archivist")


@pytest.fixture
def page_id(room, world) -> int:
    answer = room.post(f"/api/v1/records/{world.records['normal'].id}/scans", headers=token(room),
                       data={"category": ADMISSION}, files=[("files", ("p1.jpg", jpeg(text_page()), "image/jpeg"))])
    assert answer.status_code == 200, answer.text
    return answer.json()["pages"][0]["page_id"]


def test_an_operator_who_only_captures_works_the_rework_queue_and_reviews_nothing(room, web_engine, page_id):
    only(web_engine, "archivist", "scan.capture", "scan.review")
    operator = room
    assert operator.get("/api/v1/digitisation/review?queue=rework").status_code == 200
    assert operator.get("/api/v1/digitisation/review?queue=first").status_code == 403
    assert operator.get("/api/v1/digitisation/review?queue=re").status_code == 403
    assert operator.post(f"/api/v1/pages/{page_id}/review", headers=token(operator),
                         json={"decision": "pass"}).status_code == 403
    queues = operator.get("/digitisation/review")
    assert queues.status_code == 200
    assert 'data-queue="rework"' in queues.text and 'data-queue="first"' not in queues.text
    assert operator.get("/digitisation/review?queue=first").status_code == 403


def test_a_reviewer_who_only_reviews_passes_pages_and_captures_nothing(room, web_engine, world, page_id):
    only(web_engine, "archivist", "scan.review", "scan.capture")
    reviewer = room
    first = reviewer.get("/api/v1/digitisation/review?queue=first")
    assert first.status_code == 200 and [item["page_id"] for item in first.json()["items"]] == [page_id]
    assert reviewer.get("/api/v1/digitisation/review?queue=rework").status_code == 403
    passed = reviewer.post(f"/api/v1/pages/{page_id}/review", headers=token(reviewer), json={"decision": "pass"})
    assert passed.status_code == 200 and passed.json()["state"] == "passed"
    assert reviewer.post(f"/api/v1/records/{world.records['normal'].id}/scans", headers=token(reviewer),
                         data={"category": ADMISSION},
                         files=[("files", ("p2.jpg", jpeg(text_page()), "image/jpeg"))]).status_code == 403
    queues = reviewer.get("/digitisation/review")
    assert 'data-queue="first"' in queues.text and 'data-queue="rework"' not in queues.text


def test_the_migration_gives_review_to_every_role_that_could_capture(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0036")
    roles = sa.table("roles", sa.column("code", sa.String()), sa.column("name", sa.String()),
                     sa.column("permissions", sa.JSON()), sa.column("builtin", sa.Boolean()))
    with engine.begin() as connection:
        connection.execute(roles.insert(), [
            {"code": "scanner", "name": "扫描员", "permissions": ["record.view", "scan.capture"], "builtin": False},
            {"code": "reader", "name": "阅览", "permissions": ["record.view"], "builtin": False}])
    upgrade(engine)
    with engine.connect() as connection:
        held = dict(connection.execute(sa.select(roles.c.code, roles.c.permissions)).all())
    assert "scan.review" in held["archivist"] and held["scanner"] == ["record.view", "scan.capture", "scan.review"]
    assert held["reader"] == ["record.view"]
    engine.dispose()
