"""Fixtures for the final-QC scoring specification: the test hospital (tests/access/world.py) on
SQLite and PostgreSQL, and a month of discharged records in two departments."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "access"))

from scoring_support import discharged
from world import World, build_world

from bingan.storage.models import Record


@pytest.fixture
def world(session) -> World:
    built = build_world(session, with_documents=False)
    session.commit()
    return built


@pytest.fixture
def month(session, world) -> list[Record]:
    """Twelve November records: eight in cardiology (one of them a death), four in respiratory."""
    records = [discharged(session, world, i, department=world.respiratory if i % 3 == 2 else None,
                          kind="death" if i == 4 else "normal", stay_days=1 + i) for i in range(12)]
    session.commit()
    return records
