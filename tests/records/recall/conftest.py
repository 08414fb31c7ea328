"""Fixtures for recall's specification: the test hospital (tests/access/world.py) on SQLite and
PostgreSQL with its archived records, the installed kinds and the default recall flow."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "access"))

from world import World, add_pdf_document, build_world

from bingan.records.workflows import install


@pytest.fixture(autouse=True)
def kinds() -> None:
    install()


@pytest.fixture
def world(session) -> World:
    built = build_world(session, with_documents=False)
    record = built.records["normal"]
    built.documents["normal"] = [add_pdf_document(session, record, "入院记录"),
                                 add_pdf_document(session, record, "出院记录")]
    session.commit()
    return built
