"""Web fixtures: the app on a migrated SQLite (and PostgreSQL) database with the test hospital,
and signed-in clients for each role (TOTP codes computed like a phone would)."""
from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "access"))

from web_helpers import index_world, sign_in
from world import World, build_world

from bingan.config import get_settings
from bingan.storage.db import _engines, session_factory
from bingan.web.app import create_app


@pytest.fixture
def web_engine(sqlite_engine: Engine) -> Engine:
    return sqlite_engine


@pytest.fixture
def world(web_engine: Engine) -> World:
    with session_factory(web_engine)() as session, session.begin():
        built = build_world(session)
    return built


@pytest.fixture
def app(web_engine: Engine, world: World):
    settings = get_settings()
    index_world(web_engine)
    _engines[settings.resolved_database_url] = web_engine  # the app uses the test database
    application = create_app(settings)
    yield application
    _engines.pop(settings.resolved_database_url, None)


@pytest.fixture
def client_for(app) -> Iterator[Callable[[str], TestClient]]:
    clients: list[TestClient] = []

    def make(role: str) -> TestClient:
        # A real address, as a browser has: the gate refuses an unreadable one once any address rule exists.
        client = TestClient(app, base_url="http://testserver", client=("127.0.0.1", 50000))
        clients.append(client)
        if role != "anonymous":
            response = sign_in(client, f"u_{role}")
            assert response.status_code == 303, response.text
        return client
    yield make
    for client in clients:
        client.close()


