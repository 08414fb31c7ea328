"""Shared fixtures: a migrated database on SQLite and on the real PostgreSQL server, the Redis URL.

PostgreSQL and Redis tests skip with a clear message when the servers are absent, unless
BINGAN_REQUIRE_SERVICES=1 (set by .ci/run), which turns the skip into a failure.
"""
from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from bingan.storage.db import make_engine, session_factory
from bingan.storage.migrate import upgrade

POSTGRES_ADMIN_URL = os.environ.get(
    "BINGAN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("BINGAN_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
REQUIRE_SERVICES = os.environ.get("BINGAN_REQUIRE_SERVICES") == "1"


def service_missing(what: str, why: object) -> None:
    message = f"{what} is not reachable ({why}); start it or unset BINGAN_REQUIRE_SERVICES"
    if REQUIRE_SERVICES:
        pytest.fail(message)
    pytest.skip(f"{what} not available here: {why}")


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test gets its own BINGAN_HOME so nothing leaks into ./var or between tests."""
    from bingan.config import reset_settings

    for name in list(os.environ):
        if name.startswith("BINGAN_") and name not in {
            "BINGAN_REQUIRE_SERVICES", "BINGAN_MONGO_URL", "BINGAN_ES_URL",
            "BINGAN_TEST_POSTGRES_URL", "BINGAN_TEST_REDIS_URL",
        }:
            monkeypatch.delenv(name)
    monkeypatch.setenv("BINGAN_HOME", str(tmp_path / "home"))
    reset_settings()
    yield
    reset_settings()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def _postgres_template() -> Iterator[str]:
    """A migrated template database; each test clones it (CREATE DATABASE … TEMPLATE)."""
    try:
        admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:
        yield f"unavailable: {exc.__class__.__name__}: {exc}"
        return
    name = f"bingan_tpl_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(_database_url(name))
    upgrade(engine)
    engine.dispose()
    yield name
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _database_url(name: str) -> str:
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def _sqlite_engine(template: Path, tmp_path: Path) -> Engine:
    path = tmp_path / "bingan.db"
    shutil.copyfile(template, path)
    return make_engine(f"sqlite:///{path}")


@pytest.fixture
def sqlite_engine(_sqlite_template: Path, tmp_path: Path) -> Iterator[Engine]:
    engine = _sqlite_engine(_sqlite_template, tmp_path)
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_engine(_postgres_template: str) -> Iterator[Engine]:
    if _postgres_template.startswith("unavailable"):
        service_missing("PostgreSQL", _postgres_template)
    name = f"bingan_t_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{_postgres_template}"'))
    engine = make_engine(_database_url(name))
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> Engine:
    """A freshly migrated database: every storage test runs on both SQLite and PostgreSQL."""
    return request.getfixturevalue(f"{request.param.replace('postgresql', 'postgres')}_engine")


@pytest.fixture
def session(engine: Engine):
    with session_factory(engine)() as session:
        yield session


@pytest.fixture
def redis_url() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except Exception as exc:
        service_missing("Redis", exc)
    return REDIS_URL
