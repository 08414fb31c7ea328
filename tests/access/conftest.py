"""Fixtures for the access tests: a migrated database with the test hospital of world.py."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from world import World, build_world


@pytest.fixture
def world(session) -> World:
    built = build_world(session, with_documents=False)
    session.flush()
    return built
