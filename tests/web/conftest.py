"""Web fixtures: the app on a migrated SQLite (and PostgreSQL) database with the test hospital,
and signed-in clients for each role (TOTP codes computed like a phone would)."""
from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "access"))

from world import PASSWORD, World, build_world

from bingan.config import get_settings
from bingan.storage.db import _engines, session_factory
from bingan.web.app import create_app

TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.fixture
def web_engine(sqlite_engine: Engine) -> Engine:
    return sqlite_engine


@pytest.fixture
def world(web_engine: Engine) -> World:
    with session_factory(web_engine)() as session, session.begin():
        built = build_world(session)
    return built


def index_world(engine: Engine) -> None:
    """Index every stored page the way the ingest pipeline does."""
    import sqlalchemy as sa

    from bingan.ingest.indexing import page_docs_for_versions
    from bingan.search.factory import open_search_index
    from bingan.storage.models import Version

    with session_factory(engine)() as session:
        docs = page_docs_for_versions(session, session.scalars(sa.select(Version.id)).all())
    index = open_search_index(get_settings())
    index.add(docs)
    index.commit()
    index.close()


@pytest.fixture
def app(web_engine: Engine, world: World):
    settings = get_settings()
    index_world(web_engine)
    _engines[settings.resolved_database_url] = web_engine  # the app uses the test database
    application = create_app(settings)
    yield application
    _engines.pop(settings.resolved_database_url, None)


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


def sign_in(client: TestClient, username: str, password: str = PASSWORD, totp: bool = True):
    page = client.get("/login")
    response = client.post("/login", data={"username": username, "password": password,
                                           "csrf_token": csrf_of(page.text), "next": "/"},
                           follow_redirects=False)
    if totp and response.status_code == 303 and response.headers["location"] == "/login/totp":
        form = client.get("/login/totp")
        response = client.post("/login/totp", data={"code": pyotp.TOTP(TOTP_SECRET).now(),
                                                     "csrf_token": csrf_of(form.text)}, follow_redirects=False)
    return response


@pytest.fixture
def client_for(app) -> Iterator[Callable[[str], TestClient]]:
    clients: list[TestClient] = []

    def make(role: str) -> TestClient:
        client = TestClient(app, base_url="http://testserver")
        clients.append(client)
        if role != "anonymous":
            response = sign_in(client, f"u_{role}")
            assert response.status_code == 303, response.text
        return client
    yield make
    for client in clients:
        client.close()


def csrf_headers(client: TestClient, path: str = "/settings") -> dict[str, str]:
    return {"X-CSRF-Token": csrf_of(client.get(path).text)}
