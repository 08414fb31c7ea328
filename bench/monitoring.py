"""Monitoring benchmark: the collection monitoring pages and API with 50 sources and 1 M collected
items, on SQLite and PostgreSQL, against a plain signed-in page in the same run.

    .venv/bin/python bench/monitoring.py [--items 1000000] [--sources 50] [--repeat 20]
        [--db sqlite|postgresql|both] [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

Builds a migrated throw-away database (SQLite in a temporary HOME; a new PostgreSQL database
created and dropped on the server of ``--postgres``) and bulk-inserts with INSERT … SELECT over a
generated sequence (deterministic, as bench/archive_rate.py): ``--sources`` pull sources,
``--items`` collected items reported over the last 365 days (95 % indexed, 2 % failed under four
reasons, the rest in the pipeline), 200 runs per source, and seven days of minute-by-minute
reachability probes per source (what the timed job keeps). Then, through the application
in-process (FastAPI's TestClient, signed in as the record room with its second factor),
alternating within each repeat so all share the machine's load:

- baseline: GET /settings (a plain signed-in page);
- GET /monitoring (today), /monitoring?window=30d, /monitoring/sources/{id}?window=7d,
  /api/v1/monitoring/sources, /api/v1/monitoring/bigscreen.

Prints p50 and p95 and the ratio of each p50 to the baseline's. Target: every page ≤ 300 ms p95.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "web"), str(ROOT)]

NOW = datetime.now(UTC).replace(microsecond=0)
YEAR_SECONDS = 365 * 86400
PROBE_DAYS = 7
RUNS_PER_SOURCE = 200
PAGES = {
    "plain page /settings": "/settings",
    "/monitoring (today)": "/monitoring",
    "/monitoring?window=30d": "/monitoring?window=30d",
    "/monitoring/sources/{id}?window=7d": "/monitoring/sources/{id}?window=7d",
    "API /monitoring/sources": "/api/v1/monitoring/sources",
    "API /monitoring/bigscreen": "/api/v1/monitoring/bigscreen",
}


class Dialect:
    """The generating SQL for SQLite or PostgreSQL."""

    def __init__(self, postgresql: bool) -> None:
        self.postgresql = postgresql

    def pick(self, salt: int, modulo: int) -> str:
        """A deterministic pseudo-random 0 … modulo-1 for row i (a multiplicative hash per salt)."""
        return f"((i * {2654435761 + 2 * salt * 40503}) % 4294967291 % {modulo})"

    def before_now(self, seconds: str) -> str:
        if self.postgresql:
            return f"(timestamptz '{NOW.isoformat()}' - ({seconds}) * interval '1 second')"
        return f"(datetime('{NOW:%Y-%m-%d %H:%M:%S}', '-' || ({seconds}) || ' seconds') || '.000000')"

    def rows(self, count: int) -> tuple[str, str]:
        """(prefix, FROM clause) of a sequence i = 1 … count."""
        if self.postgresql:
            return "", f"FROM generate_series(1, {count}) AS n(i)"
        return f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {count}) ", "FROM n"

    def statements(self, items: int, sources: int, first: int) -> list[str]:
        true, false = ("true", "false") if self.postgresql else ("1", "0")
        number = "lpad((i % 200000)::text, 8, '0')" if self.postgresql else "printf('%08d', i % 200000)"
        roll = self.pick(1, 1000)
        state = (f"CASE WHEN {roll} < 950 THEN 'indexed' WHEN {roll} < 970 THEN 'failed' WHEN {roll} < 980 "
                 f"THEN 'pending' WHEN {roll} < 990 THEN 'stored' ELSE 'extracted' END")
        code = f"CASE WHEN {roll} >= 950 AND {roll} < 970 THEN 'F' || {self.pick(2, 4)} ELSE '' END"
        reason = f"CASE WHEN {roll} >= 950 AND {roll} < 970 THEN '失败原因 ' || {self.pick(2, 4)} ELSE '' END"
        created = self.before_now(f"i * {max(1, YEAR_SECONDS // items)}")  # spread over the year
        prefix, sequence = self.rows(items)
        probes = sources * PROBE_DAYS * 1440
        probe_prefix, probe_sequence = self.rows(probes)
        runs = sources * RUNS_PER_SOURCE
        run_prefix, run_sequence = self.rows(runs)
        return [
            f"INSERT INTO collected_items (source_id, source_document_id, revision, record_number, stay, visit_type, "
            f"document_type_code, title, filename, author, origin, metadata, staged_path, state, resume_state, "
            f"failure_code, failure_reason, failure_detail, retry_count, locked_by, sha256, size, media_type, "
            f"new_version, created_at, updated_at) "
            f"{prefix}SELECT {first} + i % {sources}, 'doc-' || i, '', {number}, 1, 'inpatient', 'LAB', '检验报告', "
            f"'', '', 'collected', '{{}}', '', {state}, CASE WHEN {roll} >= 950 AND {roll} < 970 THEN 'stored' "
            f"ELSE '' END, {code}, {reason}, '', 0, '', '', 0, '', {false}, {created}, {created} {sequence}",
            f"INSERT INTO source_probes (source_id, checked_at, up, latency_ms, detail) "
            f"{probe_prefix}SELECT {first} + i % {sources}, {self.before_now(f'(i / {sources}) * 60')}, "
            f"CASE WHEN {self.pick(3, 100)} < 99 THEN {true} ELSE {false} END, {self.pick(4, 200)}, '' "
            f"{probe_sequence}",
            f"INSERT INTO collection_runs (source_id, state, started_at, finished_at, cursor_before, cursor_after, "
            f"items_seen, items_new, error) "
            f"{run_prefix}SELECT {first} + i % {sources}, 'done', {self.before_now(f'(i / {sources}) * 900')}, "
            f"{self.before_now(f'(i / {sources}) * 900 - {self.pick(5, 120)}')}, '', '', {self.pick(6, 50)}, "
            f"{self.pick(7, 20)}, '' {run_sequence}",
        ]


def build(engine: sa.Engine, items: int, sources: int) -> int:
    """Returns the first source's id."""
    from web_helpers import PASSWORD, TOTP_SECRET

    from bingan.access.accounts import create_user
    from bingan.storage.db import session_factory
    from bingan.storage.migrate import upgrade
    from bingan.storage.models import Source

    upgrade(engine)
    with session_factory(engine)() as session, session.begin():
        session.add_all([Source(name=f"source{n:02d}", title=f"来源{n:02d}", transport="http_pull",
                                endpoint=f"http://10.0.0.{n}/api") for n in range(sources)])
        user = create_user(session, "u_bench", PASSWORD, ["archivist"], full_name="病案室", must_change_password=False)
        user.totp_secret = TOTP_SECRET
        session.flush()
        first = session.scalar(sa.select(sa.func.min(Source.id)))
    postgresql = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        for statement in Dialect(postgresql).statements(items, sources, first):
            conn.execute(sa.text(statement))
    if postgresql:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(sa.text("ANALYZE"))
    return first


def measure(first_source: int, repeat: int) -> dict[str, list[float]]:
    from fastapi.testclient import TestClient
    from web_helpers import sign_in

    from bingan.config import get_settings
    from bingan.web.app import create_app

    client = TestClient(create_app(get_settings()), client=("127.0.0.1", 50000))
    assert sign_in(client, "u_bench").status_code == 303
    times: dict[str, list[float]] = {label: [] for label in PAGES}
    for n in range(repeat + 1):  # the first warms the caches
        for label, path in PAGES.items():
            start = time.perf_counter()
            response = client.get(path.replace("{id}", str(first_source + 7)))
            elapsed = time.perf_counter() - start
            assert response.status_code == 200, (path, response.status_code, response.text[:300])
            if n:
                times[label].append(elapsed)
    client.close()
    return times


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, round(len(values) * 0.95) - 1)]


def report(name: str, items: int, sources: int, build_seconds: float, times: dict[str, list[float]]) -> None:
    base = statistics.median(times["plain page /settings"])
    print(f"{name}: {sources} sources, {items} collected items, built in {build_seconds:.0f} s")
    for label, values in times.items():
        print(f"  {label:<38} p50 {statistics.median(values) * 1000:8.1f} ms  p95 {p95(values) * 1000:8.1f} ms"
              f"  (p50 × plain page {statistics.median(values) / base:.1f})")


def run(name: str, url: str, items: int, sources: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as home:
        os.environ["BINGAN_HOME"] = home
        if url:
            os.environ["BINGAN_DATABASE_URL"] = url
        from bingan.config import get_settings, reset_settings
        from bingan.storage.db import get_engine

        reset_settings()
        engine = get_engine(get_settings())
        start = time.perf_counter()
        first = build(engine, items, sources)
        built = time.perf_counter() - start
        report(name, items, sources, built, measure(first, repeat))
        engine.dispose()
        os.environ.pop("BINGAN_DATABASE_URL", None)


def run_postgresql(url: str, items: int, sources: int, repeat: int) -> None:
    name = f"bench_monitoring_{os.getpid()}"
    server = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        run("PostgreSQL", sa.make_url(url).set(database=name).render_as_string(hide_password=False), items, sources,
            repeat)
    finally:
        from bingan.storage.db import _engines

        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        with server.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        server.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--sources", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if args.db in ("sqlite", "both"):
        run("SQLite", "", args.items, args.sources, args.repeat)
    if args.db in ("postgresql", "both"):
        run_postgresql(args.postgres, args.items, args.sources, args.repeat)
    print(f"load average at end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
