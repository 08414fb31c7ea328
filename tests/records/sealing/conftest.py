"""Fixtures for sealing's specification: the test hospital (tests/access/world.py) on SQLite and
PostgreSQL with two documents on the cardiology record, a second seal manager (the head of the
medical affairs office, who decides unseal applications), the installed kinds and a broker whose
kicks are files of this test's home."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "access"))

from sealing_support import seal_head
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
    built.documents["normal"] = [add_pdf_document(session, record, "入院记录"),
                                 add_pdf_document(session, record, "出院记录")]
    built.users["seal_head"] = seal_head(session)
    session.commit()
    return built
