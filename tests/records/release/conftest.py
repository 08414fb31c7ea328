"""Fixtures for copying's specification: the test hospital (tests/access/world.py) on SQLite and
PostgreSQL; the cardiology record holds 入院记录 and 出院记录 (copyable, 3 pages each) and the front
page 住院病案首页 (not copyable for outside applicants, 3 pages)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "access"))

from world import World, add_pdf_document, build_world

from bingan import broker
from bingan.records.workflows import install


@pytest.fixture(autouse=True)
def kinds(monkeypatch) -> None:
    install()
    monkeypatch.setattr(broker, "celery_app", broker.make_celery())


@pytest.fixture
def world(session) -> World:
    built = build_world(session, with_documents=False)
    record = built.records["normal"]
    built.documents["normal"] = [add_pdf_document(session, record, name)
                                 for name in ("入院记录", "出院记录", "住院病案首页")]
    session.commit()
    return built
