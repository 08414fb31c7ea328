"""Archive-rate benchmark: the department archive-rate report (records/archive_rate.py) over 1 M
records, on SQLite and PostgreSQL, against a plain COUNT over the same rows.

    .venv/bin/python bench/archive_rate.py [--records 1000000] [--repeat 5] [--db sqlite|postgresql|both]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

Builds a migrated throw-away database (SQLite in a temporary HOME; a new PostgreSQL database
created and dropped on the server of ``--postgres``) and bulk-inserts (INSERT … SELECT over a
generated sequence, deterministic): 20 inpatient departments, one patient per record,
``--records`` inpatient stays discharged over the twelve months of 2025 (1 % deaths, 3 % special
by kind, 1 % marked special, 1 % with an open missing mark), submitted 0–6 days after discharge,
出科审核 0–4 days after, 95 % archived, one stored self-check per record of which 3 % found a
completeness error; then the per-record facts the report counts (record_facts) are filled from
scratch, as migration 0043 fills them. Then, alternating within each repeat so both share the
machine's load:

- baseline: SELECT count(*) of the inpatient records discharged in 2025 (the same rows);
- the report for 2025-01..2025-12, basis ``emr`` and basis ``discharge_review``.

Reports p50, p95 and the ratio to the baseline. Target: ≤ 2 s on both databases. ``--sqlite-mmap
MiB`` measures SQLite a second time with PRAGMA mmap_size on the bench's connections.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEPARTMENTS = 20
YEAR_START = datetime(2024, 12, 31, 16, 0, tzinfo=UTC)  # 2025-01-01 00:00 Beijing time
YEAR_SECONDS = 365 * 86400


def build(engine: sa.Engine, records: int) -> None:
    """The rows are made by the database itself (INSERT … SELECT over a generated sequence, a
    deterministic hash of the row number for every "random" choice): a million rows through
    Python's executemany took a quarter of an hour on the shared machine."""
    from bingan.storage.migrate import upgrade
    from bingan.storage.models import Campus, Department

    upgrade(engine)
    with engine.begin() as conn:
        campus = conn.execute(sa.select(Campus.id).limit(1)).scalar_one()
        conn.execute(sa.insert(Department), [{"code": f"B{n:02d}", "name": f"科室{n:02d}", "kind": "inpatient",
                                             "campus_id": campus} for n in range(DEPARTMENTS)])
        departments = sorted(conn.execute(sa.select(Department.id).where(Department.code.like("B%"))).scalars())
    assert departments == list(range(departments[0], departments[0] + DEPARTMENTS))
    sql = Dialect(engine.dialect.name == "postgresql", records)
    with engine.begin() as conn:
        for statement in sql.statements(campus, departments[0]):
            conn.execute(sa.text(statement))
    if sql.postgresql:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(sa.text("ANALYZE"))


class Dialect:
    """The generating SQL for SQLite or PostgreSQL."""

    def __init__(self, postgresql: bool, records: int) -> None:
        self.postgresql, self.records = postgresql, records

    def pick(self, salt: int, modulo: int) -> str:
        """A deterministic pseudo-random 0 … modulo-1 for row i (a multiplicative hash per salt)."""
        return f"((i * {2654435761 + 2 * salt * 40503}) % 4294967291 % {modulo})"

    def at(self, seconds: str) -> str:
        if self.postgresql:
            return f"(timestamptz '{YEAR_START.isoformat()}' + ({seconds}) * interval '1 second')"
        # no '+' before the number: SQLite reads '+-3600 seconds' as no modifier at all (NULL)
        return f"(datetime('{YEAR_START:%Y-%m-%d %H:%M:%S}', ({seconds}) || ' seconds') || '.000000')"

    def sequence(self) -> str:
        if self.postgresql:
            return f"FROM generate_series(1, {self.records}) AS n(i)"
        return "FROM n"

    def prefix(self) -> str:
        return "" if self.postgresql else \
            f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {self.records}) "

    def statements(self, campus: int, first_department: int) -> list[str]:
        number = "lpad(i::text, 8, '0')" if self.postgresql else "printf('%08d', i)"
        true, false = ("true", "false") if self.postgresql else ("1", "0")
        now = "now()" if self.postgresql else "'2026-12-01 00:00:00.000000'"
        discharged = f"{self.pick(1, YEAR_SECONDS)}"
        submitted = f"{discharged} + {self.pick(2, 144)} * 3600"
        roll, archived = self.pick(3, 100), self.pick(4, 100)
        kind = f"CASE WHEN {roll} < 1 THEN 'death' WHEN {roll} < 4 THEN 'special' ELSE 'normal' END"
        return [
            f"INSERT INTO patients (id, record_number, name, sex, id_type, phone, address, created_at, updated_at) "
            f"{self.prefix()}SELECT i, {number}, '患者', CASE WHEN i % 2 = 0 THEN 'M' ELSE 'F' END, 'resident_id', "
            f"'', '', {now}, {now} {self.sequence()}",
            f"INSERT INTO records (id, patient_id, record_number, stay_number, visit_type, inpatient_number, "
            f"attending_doctor, resident_doctor, discharge_method, kind, confidentiality, status, sealed, legal_hold, "
            f"front_page, created_at, updated_at, campus_id, admission_department_id, discharge_department_id, "
            f"admitted_at, discharged_at, submitted_at, discharge_reviewed_at, archived_at) "
            f"{self.prefix()}SELECT i, i, {number}, 1, 'inpatient', '', '', '', "
            f"CASE WHEN {roll} < 1 THEN '5' ELSE '1' END, {kind}, 0, "
            f"CASE WHEN {archived} < 95 THEN 'archived' ELSE 'qc' END, {false}, {false}, '{{}}', {now}, {now}, "
            f"{campus}, {first_department} + i % {DEPARTMENTS}, {first_department} + i % {DEPARTMENTS}, "
            f"{self.at(f'{discharged} - 7 * 86400')}, {self.at(discharged)}, {self.at(submitted)}, "
            f"{self.at(f'{discharged} + {self.pick(5, 96)} * 3600')}, "
            f"CASE WHEN {archived} < 95 THEN {self.at(f'{submitted} + {self.pick(6, 72)} * 3600')} END "
            f"{self.sequence()}",
            # one self-check per record at submission; 3 % found a completeness error
            f"INSERT INTO check_runs (id, record_id, run_at, trigger, passed, errors, warnings) "
            f"{self.prefix()}SELECT i, i, {self.at(submitted)}, 'submit', "
            f"CASE WHEN {self.pick(7, 100)} < 3 THEN {false} ELSE {true} END, "
            f"CASE WHEN {self.pick(7, 100)} < 3 THEN 1 ELSE 0 END, 0 {self.sequence()}",
            "INSERT INTO check_findings (run_id, seq, \"check\", severity, message) "
            "SELECT id, 0, 'completeness', 'error', '缺少出院记录' FROM check_runs WHERE errors = 1",
            f"INSERT INTO record_marks (record_id, kind, special_kind, reason, state, created_by_name, created_at, "
            f"closed_by_name, close_note) {self.prefix()}SELECT i, "
            f"CASE WHEN {self.pick(8, 100)} = 0 THEN 'special' ELSE 'missing' END, "
            f"CASE WHEN {self.pick(8, 100)} = 0 THEN '教学病例' ELSE '' END, '基准测试', 'open', '基准测试', {now}, "
            f"'', '' {self.sequence()} WHERE {self.pick(8, 100)} < 2",
        ]


def fill_facts(engine: sa.Engine) -> None:
    """The report counts the per-record facts: filled from scratch here (the generating SQL left a dirty
    marker per row through the triggers), then analysed (PostgreSQL: vacuumed, for index-only scans)."""
    from bingan.records.statistics import facts

    with engine.begin() as conn:
        facts.rebuild(conn)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE record_facts"))
    else:
        with engine.begin() as conn:
            conn.execute(sa.text("ANALYZE"))


def measure(engine: sa.Engine, repeat: int) -> dict[str, list[float]]:
    from sqlalchemy.orm import Session

    from bingan.records.archive_rate import archive_rate
    from bingan.storage.models import Record

    count = (sa.select(sa.func.count()).select_from(Record)
             .where(Record.visit_type == "inpatient", Record.discharged_at >= YEAR_START,
                    Record.discharged_at < YEAR_START + timedelta(seconds=YEAR_SECONDS)))
    times: dict[str, list[float]] = {"plain COUNT": [], "report, basis emr": [], "report, basis discharge_review": []}
    totals = set()
    for n in range(repeat + 1):  # the first warms the caches
        with Session(engine) as session:
            start = time.perf_counter()
            counted = session.execute(count).scalar_one()
            plain = time.perf_counter() - start
            start = time.perf_counter()
            report = archive_rate(session, "2025-01", "2025-12", "emr")
            emr = time.perf_counter() - start
            start = time.perf_counter()
            archive_rate(session, "2025-01", "2025-12", "discharge_review")
            review = time.perf_counter() - start
        totals.add((counted, report.totals.discharged))
        if n:
            for name, value in zip(times, (plain, emr, review), strict=True):
                times[name].append(value)
    assert len(totals) == 1 and len({*next(iter(totals))}) == 1, totals  # the report counts the same rows
    return times


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, round(len(values) * 0.95) - 1)]


def report(name: str, records: int, build_seconds: float, times: dict[str, list[float]]) -> None:
    base = statistics.median(times["plain COUNT"])
    print(f"{name}: {records} records, built in {build_seconds:.0f} s")
    for label, values in times.items():
        print(f"  {label:<32} p50 {statistics.median(values) * 1000:8.1f} ms  p95 {p95(values) * 1000:8.1f} ms"
              f"  (p50 × COUNT {statistics.median(values) / base:.1f})")


def run_sqlite(records: int, repeat: int, mmap_mib: int = 0) -> None:
    with tempfile.TemporaryDirectory() as home:
        os.environ["BINGAN_HOME"] = home
        from bingan.config import get_settings, reset_settings
        from bingan.storage.db import get_engine

        reset_settings()
        engine = get_engine(get_settings())
        start = time.perf_counter()
        build(engine, records)
        fill_facts(engine)
        built = time.perf_counter() - start
        report("SQLite", records, built, measure(engine, repeat))
        if mmap_mib:
            # What a larger SQLite page cache would give: the stock connection reads the table's
            # pages through 2 MB of cache, i.e. mostly through system calls.
            engine.dispose()
            sa.event.listen(engine, "connect", lambda dbapi, _record: dbapi.execute(
                f"PRAGMA mmap_size={mmap_mib * 1024 * 1024}"))
            report(f"SQLite, mmap_size {mmap_mib} MiB", records, built, measure(engine, repeat))
        engine.dispose()


def run_postgresql(url: str, records: int, repeat: int) -> None:
    name = f"bench_archive_rate_{os.getpid()}"
    server = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    engine = sa.create_engine(sa.make_url(url).set(database=name))
    try:
        start = time.perf_counter()
        build(engine, records)
        fill_facts(engine)
        built = time.perf_counter() - start
        report("PostgreSQL", records, built, measure(engine, repeat))
    finally:
        engine.dispose()
        with server.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        server.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--sqlite-mmap", type=int, default=0, metavar="MiB",
                        help="measure SQLite again with PRAGMA mmap_size (not what the product sets)")
    args = parser.parse_args()
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if args.db in ("sqlite", "both"):
        run_sqlite(args.records, args.repeat, args.sqlite_mmap)
    if args.db in ("postgresql", "both"):
        run_postgresql(args.postgres, args.records, args.repeat)
    print(f"load average at end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
