"""Engines and sessions: SQLite (WAL, foreign keys on) by default, PostgreSQL through BINGAN_DATABASE_URL.

SQLite transactions. pysqlite's own transaction handling only opens a transaction before
INSERT/UPDATE/DELETE and never takes the write lock early, so we switch it off
(``isolation_level = None``) and emit BEGIN ourselves (SQLAlchemy's documented recipe):

- ``BEGIN IMMEDIATE`` for transactions that ask for it (``transaction(write=True)``,
  ``begin_writes(session)``): the write lock is taken at BEGIN, waiting up to busy_timeout, so
  a read-modify-write can never meet SQLITE_BUSY_SNAPSHOT.
- ``BEGIN`` (deferred) otherwise: reads share one snapshot. The first write statement of such a
  transaction ends the read-only snapshot (nothing was written in it) and continues in a
  ``BEGIN IMMEDIATE`` transaction. In WAL mode a deferred transaction that read and then tries
  to write after another connection committed fails at once with SQLITE_BUSY_SNAPSHOT and
  busy_timeout cannot help; promoting instead waits for the lock like a fresh writer. Reads
  before the first write therefore behave like the autocommit reads pysqlite used to do, and
  everything from the first write to COMMIT is atomic and serialised.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from bingan.config import Settings, get_settings
from bingan.storage import access_generation  # noqa: F401  (its session events keep the token true)

_engines: dict[str, Engine] = {}
BEGIN_OPTION = "sqlite_begin"  # execution option: "immediate" takes the write lock at BEGIN
_STATE = "bingan_sqlite_tx"  # per DBAPI connection: "read" (deferred, nothing written) | "write"
_READ_ONLY = frozenset({"SELECT", "PRAGMA", "EXPLAIN", "BEGIN", "COMMIT", "ROLLBACK", "RELEASE", "END"})
# The web server lets REQUEST_SLOTS requests work at once (bingan.web.request_slots), each holding
# one connection. The pools keep room beyond them — the audit sealer, a worker's threads in the
# same process, a request's second session — so that no request waits inside the pool: its waits
# are not first come, first served, and end in an error after 30 s (HTTP 500 in a surge of users),
# where a request waiting for a slot waits in order. With the GIL, more at once add nothing.
REQUEST_SLOTS = 20
PG_POOL = {"pool_size": 10, "max_overflow": 20}
SQLITE_POOL = {"pool_size": 20, "max_overflow": 40}  # a SQLite connection is cheap


def normalise_url(url: str) -> str:
    """Use the psycopg 3 driver for plain postgresql:// URLs."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_connect(dbapi_connection, _record) -> None:
    dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (see module docstring)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    if conn.get_execution_options().get(BEGIN_OPTION) == "immediate":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        conn.info[_STATE] = "write"
        return
    conn.exec_driver_sql("BEGIN")
    conn.info[_STATE] = "read"


def _sqlite_end(conn: Connection) -> None:
    conn.info[_STATE] = None


def _first_word(statement: str) -> str:
    return statement.lstrip(" \t\r\n(").split(None, 1)[0].upper() if statement.strip() else ""


def _sqlite_promote(conn: Connection, cursor, statement: str, _params, _context, _many) -> None:
    """Before the first write of a deferred transaction: continue in a BEGIN IMMEDIATE one."""
    if conn.info.get(_STATE) != "read" or _first_word(statement) in _READ_ONLY:
        return
    conn.info[_STATE] = "write"
    raw = cursor.connection
    if raw.in_transaction:
        raw.execute("COMMIT")  # the snapshot only read; ending it loses nothing
    raw.execute("BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        pool = SQLITE_POOL if path and path != ":memory:" else {}
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **pool)
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        event.listen(engine, "commit", _sqlite_end)
        event.listen(engine, "rollback", _sqlite_end)
        event.listen(engine, "before_cursor_execute", _sqlite_promote)
        return engine
    return create_engine(url, pool_pre_ping=True, **PG_POOL)


def get_engine(settings: Settings | None = None) -> Engine:
    url = (settings or get_settings()).resolved_database_url
    if url not in _engines:
        _engines[url] = make_engine(url)
    return _engines[url]


def dispose_engines() -> None:
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def begin_writes(session: Session) -> None:
    """Start the session's transaction holding the write lock (SQLite; no-op elsewhere).

    For units of work that read and then write based on what they read (counters, check then
    insert): the reads then see the state the writes apply to. Call before the first query.
    """
    session.connection(execution_options={BEGIN_OPTION: "immediate"})


def take_write_lock(session: Session) -> None:
    """Take SQLite's write lock now, inside the session's transaction (no-op elsewhere).

    For work that first does something slow without the lock (verifying a password) and then
    writes based on data it must re-read under the lock (``session.refresh(obj, with_for_update=True)``,
    which also locks the row on PostgreSQL).
    """
    connection = session.connection()
    if connection.dialect.name != "sqlite" or connection.info.get(_STATE) != "read":
        return
    _sqlite_promote(connection, connection.connection.dbapi_connection.cursor(), "LOCK", None, None, False)


def is_locked_error(error: BaseException) -> bool:
    """SQLite's "database is locked" (the write lock stayed busy beyond busy_timeout)."""
    return "database is locked" in str(error) or "SQLITE_BUSY" in str(error)


@contextmanager
def transaction(engine: Engine | None = None, *, write: bool = False) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error.

    ``write=True`` takes SQLite's write lock at BEGIN (see ``begin_writes``).
    """
    with session_factory(engine or get_engine())() as session, session.begin():
        if write:
            begin_writes(session)
        yield session
