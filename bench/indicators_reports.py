"""Statistics benchmark: the 2021 indicators and every built-in report over 1 M inpatient records of
twelve months, on SQLite and PostgreSQL, against a plain COUNT over the same rows in the same run;
and the peak memory of the largest xlsx export (the 1 M records behind an indicator's denominator).

    .venv/bin/python bench/indicators_reports.py [--records 1000000] [--repeat 5] [--db sqlite|postgresql|both]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres] [--keep DIR] [--xlsx]

The records are the archive-rate bench's (bench/archive_rate.py ``build``: 20 departments, stays
discharged over 2025, submission and archive times, self-checks, marks). On top of them, made by the
database itself (INSERT … SELECT over a generated sequence, a deterministic hash of the record number
for every "random" choice), what a record holds in proportions a general hospital sees:

- documents, 13–14 a record on average: 入院记录 (written 0–29 h after admission), 首次/日常病程记录,
  上级医师查房记录, 长期/临时医嘱单, 检验报告, CT报告 (30 %), 出院记录 or 死亡记录 (0–35 h after
  discharge), 住院病案首页 (0–39 h after), 体温单, 一般护理记录; for the 30 % operated: 手术记录 per
  operation (0–29 h after it), 术前小结, 手术知情同意书, 麻醉知情同意书, 手术安全核查记录 (3 % without),
  麻醉记录, 术后首次病程记录; for the 5 % transfused: 输血记录, 输血治疗知情同意书;
  8 % with a scanned paper document (origin ``scanned``). 2 % have no 书写时间 (签名时间 counts),
  0.5 % are withdrawn by the source, 0.2 % have no content yet. (Their versions are not generated:
  no statistic reads them; the build runs with foreign keys off for that one column.)
- front-page operations: 30 % of the records, 20 % of those with a second one, 2 % without a time;
  half the transfused records say 输血 = 是 on the front page;
- captured paper pages (数字化拍摄) for 5 % of the records, 3–12 pages each, by 10 scanning clerks;
- one passed archive-QC review per archived record (the workload report), by 10 reviewers.

Then the per-record facts the statistics count (record_facts, records/statistics/facts.py) are rebuilt
from scratch, as migration 0043 fills them (the generating SQL also left a dirty marker per row written:
the triggers), and timed.

Then, alternating within each repeat so all share the machine's load: the plain COUNT of the
inpatient records discharged in 2025, the indicators page's computation and each built-in report
over 2025-01-01…2025-12-31, and the indicators again right after 1,000 records were marked changed
(the refresh they start with included). Reports p50, p95 and the ratio to the COUNT. Targets (issue 20):
≤ 2 s p95 on PostgreSQL, ≤ 5 s on SQLite.

``--keep DIR`` keeps (or reuses) the SQLite database in DIR and the PostgreSQL database
``bench_statistics`` between runs; a reused database is migrated first (and its migration time printed:
a database built before 0043 gets its facts filled there). ``--xlsx`` also writes the 1 M-row drill-down xlsx in a child
process and prints its peak RSS (target ≤ 200 MB).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
# This file's name shadows the standard library's statistics, which archive_rate imports: load that first.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != ROOT / "bench"]
__import__("statistics")
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from archive_rate import YEAR_SECONDS, YEAR_START, Dialect, build  # noqa: E402

CLERKS = 10
OPERATED, TWO_OPERATIONS, TRANSFUSED, SCANNED_DOCUMENT, CAPTURED = 30, 20, 5, 8, 5  # per cent
SLOTS = 32  # document ids are record id × SLOTS + slot


class Facts(Dialect):
    """The generating SQL of what the records hold."""

    def statements(self, types: dict[str, int], scan_category: int, first_user: int) -> list[str]:
        true, false = ("true", "false") if self.postgresql else ("1", "0")
        now = "now()" if self.postgresql else "'2026-12-01 00:00:00.000000'"
        discharged = self.pick(1, YEAR_SECONDS)
        admitted = f"({discharged} - 7 * 86400)"
        operated = f"{self.pick(20, 100)} < {OPERATED}"
        two = f"{operated} AND {self.pick(21, 100)} < {TWO_OPERATIONS}"
        transfused = f"{self.pick(22, 100)} < {TRANSFUSED}"
        death = f"{self.pick(3, 100)} < 1"  # the archive-rate generator's kind roll
        first_operation = f"({discharged} - 5 * 86400 + {self.pick(40, 86400)})"
        second_operation = f"({first_operation} + 86400)"
        slots = [  # (slot, type, condition, written: seconds after YEAR_START, origin)
            (1, "入院记录", true, f"{admitted} + {self.pick(30, 30)} * 3600", "collected"),
            (2, "首次病程记录", true, f"{admitted} + {self.pick(41, 8)} * 3600", "collected"),
            (3, "日常病程记录", true, f"{admitted} + 86400", "collected"),
            (4, "上级医师查房记录", true, f"{admitted} + 2 * 86400", "collected"),
            (5, "长期医嘱单", true, admitted, "collected"),
            (6, "临时医嘱单", true, admitted, "collected"),
            (7, "检验报告", true, f"{admitted} + {self.pick(42, 48)} * 3600", "collected"),
            (8, "CT报告", f"{self.pick(43, 100)} < 30", f"{admitted} + 86400", "collected"),
            (9, "出院记录", f"NOT ({death})", f"{discharged} + {self.pick(31, 36)} * 3600", "collected"),
            (10, "死亡记录", death, f"{discharged} + {self.pick(31, 36)} * 3600", "collected"),
            (11, "住院病案首页", true, f"{discharged} + {self.pick(32, 40)} * 3600", "collected"),
            (12, "体温单", true, discharged, "collected"),
            (13, "一般护理记录", true, discharged, "collected"),
            (14, "手术记录", operated, f"{first_operation} + {self.pick(33, 30)} * 3600", "collected"),
            (15, "手术记录", two, f"{second_operation} + {self.pick(34, 30)} * 3600", "collected"),
            (16, "手术知情同意书", operated, f"{first_operation} - 86400", "collected"),
            (17, "麻醉记录", operated, first_operation, "collected"),
            (18, "输血记录", transfused, f"{admitted} + 2 * 86400", "collected"),
            (19, "输血治疗知情同意书", transfused, f"{admitted} + 86400", "collected"),
            (20, "扫描资料", f"{self.pick(23, 100)} < {SCANNED_DOCUMENT}", f"{discharged} + 86400", "scanned"),
            (21, "术前小结", operated, f"{first_operation} - 86400", "collected"),
            (22, "麻醉知情同意书", operated, f"{first_operation} - 86400", "collected"),
            (23, "手术安全核查记录", f"{operated} AND {self.pick(27, 100)} >= 3", first_operation, "collected"),
            (24, "术后首次病程记录", operated, f"{first_operation} + 3600", "collected"),
        ]
        # One pass over the records, their slots inner (CROSS JOIN keeps SQLite's loop order): the rows
        # arrive in id order, so the record-led indexes grow at their ends instead of all over the tree.
        def by_slot(values: list[str]) -> str:
            return "CASE slot " + " ".join(f"WHEN {slot} THEN {value}" for (slot, *_), value
                                            in zip(slots, values, strict=True)) + " END"
        written = by_slot([f"{self.at(when)}" for *_, when, _ in slots])
        signed = by_slot([f"{self.at(f'{when} + 3600')}" for *_, when, _ in slots])
        wanted = by_slot([f"CASE WHEN {condition} THEN 1 ELSE 0 END" for _, _, condition, _, _ in slots])
        listed = ", ".join(f"({slot}, {types[name]}, '{name}', '{origin}')" for slot, name, _, _, origin in slots)
        chosen = (f"(SELECT column1 AS slot, column2 AS type_id, column3 AS title, column4 AS origin "
                  f"FROM (VALUES {listed})) AS slots" if not self.postgresql else
                  f"(VALUES {listed}) AS slots(slot, type_id, title, origin)")
        documents = (
            "INSERT INTO documents (id, record_id, document_type_id, title, source_system, source_document_id, "
            "origin, author, signed_at, written_at, current_version_id, removed, created_at, updated_at) "
            f"{self.prefix()}SELECT i * {SLOTS} + slot, i, type_id, title, 'EMR', 'd' || slot, origin, '', {signed}, "
            f"CASE WHEN (i + slot) % 50 = 0 THEN NULL ELSE {written} END, "
            f"CASE WHEN (i * 17 + slot) % 500 = 0 THEN NULL ELSE i * {SLOTS} + slot END, "
            f"CASE WHEN (i * 31 + slot) % 200 = 0 THEN {true} ELSE {false} END, {now}, {now} "
            f"{self.sequence()} CROSS JOIN {chosen} WHERE {wanted} = 1")
        operation = ("INSERT INTO operations (id, record_id, seq, code, name, performed_at, level, surgeon, "
                     "anaesthesia, incision_grade) "
                     f"{self.prefix()}SELECT i * 2 + {{seq}}, i, {{seq}}, '36.0601', '手术', "
                     f"CASE WHEN i % 50 = 7 THEN NULL ELSE {{at}} END, '3', '', '', '' {self.sequence()} "
                     f"WHERE {{condition}}")
        positions = ("(SELECT generate_series(1, 12) AS p) AS positions" if self.postgresql else
                     "(WITH RECURSIVE q(p) AS (SELECT 1 UNION ALL SELECT p + 1 FROM q WHERE p < 12) "
                     "SELECT p FROM q) AS positions")
        captured = self.at(f"{discharged} + 2 * 86400 + {self.pick(26, 28800)} + p * 20")
        pages = ("INSERT INTO scan_pages (id, record_id, category_id, position, image_sha256, media_type, width, "
                 "height, quality, flagged, state, reject_reason, reshoots, captured_by_id, captured_at) "
                 f"{self.prefix()}SELECT i * 16 + p, i, {scan_category}, p, 'bench', 'image/png', 2480, 3508, '{{}}', "
                 f"{false}, 'passed', '', 0, {first_user} + i % {CLERKS}, {captured} "
                 f"{self.sequence()} CROSS JOIN {positions} "
                 f"WHERE {self.pick(24, 100)} < {CAPTURED} AND p <= 3 + {self.pick(25, 10)}")
        reviews = ("INSERT INTO qc_reviews (id, record_id, flow_name, steps, current_step, status, assigned_to_id, "
                   "started_at, finished_at, passed_by_id, override_reason) "
                   f"SELECT id, id, '', '[]', 0, 'passed', {first_user} + {CLERKS} + id % {CLERKS}, submitted_at, "
                   f"archived_at, {first_user} + {CLERKS} + id % {CLERKS}, '' FROM records "
                   "WHERE archived_at IS NOT NULL")
        said = "'{\"输血\": \"是\"}'" + ("::json" if self.postgresql else "")
        return [
            documents,
            operation.format(seq=0, at=self.at(first_operation), condition=operated),
            operation.format(seq=1, at=self.at(second_operation), condition=two),
            pages,
            reviews,
            f"UPDATE records SET front_page = {said} WHERE id IN "
            f"({self.prefix()}SELECT i {self.sequence()} WHERE {transfused} AND i % 2 = 0)",
        ]


def build_facts(engine: sa.Engine, records: int) -> None:
    from bingan.storage.models import Category, DocumentType, User

    postgresql = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        types = {name: type_id for type_id, name in conn.execute(sa.select(DocumentType.id, DocumentType.name))}
        category = conn.execute(sa.select(Category.id).where(Category.name == "其他资料")).scalar_one()
        conn.execute(sa.insert(User), [
            {"username": f"bench{n:02d}", "full_name": f"{'扫描员' if n < CLERKS else '质控员'}{n:02d}",
             "staff_number": f"B{n:02d}", "password_hash": "-", "must_change_password": False, "failed_logins": 0,
             "active": True, "max_confidentiality": 3, "preferences": {}} for n in range(2 * CLERKS)])
        first_user = conn.execute(sa.select(sa.func.min(User.id)).where(User.username.like("bench%"))).scalar_one()
    sql = Facts(postgresql, records)
    if postgresql:
        with engine.begin() as conn:
            conn.execute(sa.text("SET LOCAL session_replication_role = replica"))  # documents' version FK
            for statement in sql.statements(types, category, first_user):
                conn.execute(sa.text(statement))
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))
    else:
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("PRAGMA foreign_keys=OFF")
            cursor.execute("PRAGMA cache_size=-1000000")  # 1 GB while building: twelve million documents
            for statement in sql.statements(types, category, first_user):
                cursor.execute(statement)
            raw.commit()
            cursor.execute("ANALYZE")
            raw.commit()
        finally:
            raw.close()


def fill_facts(engine: sa.Engine) -> float:
    """The facts from scratch (what migration 0043 does), then the planner's statistics; seconds taken."""
    from bingan.records.statistics import facts

    begun = time.perf_counter()
    with engine.begin() as conn:
        facts.rebuild(conn)
    analyse(engine)
    return time.perf_counter() - begun


def analyse(engine: sa.Engine) -> None:
    """PostgreSQL reads the facts from their covering index alone only once VACUUM marked the pages visible."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE record_facts"))
    else:
        with engine.begin() as conn:
            conn.execute(sa.text("ANALYZE"))


def changed_then_indicators(year, filters):
    """1,000 records marked changed (as the writers' triggers do), then the indicators, which refresh them first."""
    from bingan.records.statistics import facts, indicators

    def run(session) -> None:
        session.execute(sa.insert(facts.DIRTY).from_select(
            ["record_id"], sa.select(facts.FACTS.c.record_id).order_by(sa.func.random()).limit(1000)))
        indicators.compute(session, year, filters)
        session.commit()
    return run


def cases(year, filters) -> dict:
    from bingan.records.statistics import indicators, service
    from bingan.storage.models import Record

    count = (sa.select(sa.func.count()).select_from(Record)
             .where(Record.visit_type == "inpatient", Record.discharged_at >= YEAR_START,
                    Record.discharged_at < YEAR_START + timedelta(seconds=YEAR_SECONDS)))
    found = {"plain COUNT": lambda s: s.execute(count).scalar_one(),
             "indicators": lambda s: indicators.compute(s, year, filters)}
    for key in service.REPORTS:
        found[f"report {key}"] = lambda s, key=key: service.run_report(s, key, year, filters)
    found["indicators, 1 k changed"] = changed_then_indicators(year, filters)
    return found


def measure(engine: sa.Engine, repeat: int, only: list[str] | None = None) -> dict[str, list[float]]:
    from sqlalchemy.orm import Session

    from bingan.records.statistics import blocks

    year = blocks.period("2025-01-01", "2025-12-31")
    chosen = {name: case for name, case in cases(year, blocks.Filters()).items()
              if not only or name == "plain COUNT" or any(word in name for word in only)}
    times: dict[str, list[float]] = {name: [] for name in chosen}
    for n in range(repeat + 1):  # the first warms the caches
        for name, case in chosen.items():
            with Session(engine) as session:
                begun = time.perf_counter()
                case(session)
                if n:
                    times[name].append(time.perf_counter() - begun)
    return times


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, round(len(values) * 0.95) - 1)]


def show(name: str, records: int, built: float, times: dict[str, list[float]]) -> None:
    base = median(times["plain COUNT"])
    print(f"{name}: {records} records, built in {built:.0f} s; load average {os.getloadavg()[0]:.1f}", flush=True)
    for label, values in times.items():
        print(f"  {label:<24} p50 {median(values) * 1000:8.1f} ms  p95 {p95(values) * 1000:8.1f} ms"
              f"  (p95 × COUNT p50 {p95(values) / base:.1f})", flush=True)


def xlsx_rss(url: str) -> None:
    """The 1 M-row xlsx (records behind MER-TL-03's denominator: every record discharged in 2025), written in a
    child process so its peak RSS is its own."""
    code = f"""
import resource, sys, time
sys.path.insert(0, {str(ROOT)!r})
import sqlalchemy as sa
from sqlalchemy.orm import Session
from bingan.records.statistics import blocks, indicators, service
engine = sa.create_engine({url!r})
year = blocks.period("2025-01-01", "2025-12-31")
begun = time.perf_counter()
with Session(engine) as session:
    service.drill_xlsx(session, indicators.BY_CODE["MER-TL-03"], "denominator", year, blocks.Filters(),
                       target=__import__("pathlib").Path(sys.argv[1]))
print(f"{{time.perf_counter() - begun:.1f}} {{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}}")
"""
    with tempfile.TemporaryDirectory() as out:
        target = Path(out) / "drill.xlsx"
        done = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True, text=True, check=False)
        if done.returncode:
            print(done.stderr)
            return
        seconds, rss = done.stdout.split()[-2:]
        print(f"  xlsx of every record discharged in 2025 (MER-TL-03 分母): {seconds} s, peak RSS {rss} MiB, "
              f"{target.stat().st_size / 1e6:.0f} MB file", flush=True)


def migrate(engine: sa.Engine, name: str) -> None:
    from bingan.storage.migrate import upgrade

    begun = time.perf_counter()
    upgrade(engine)
    analyse(engine)
    print(f"{name}: migrated in {time.perf_counter() - begun:.0f} s", flush=True)


def sqlite_engine(home: str) -> sa.Engine:
    os.environ["BINGAN_HOME"] = home
    from bingan.config import get_settings, reset_settings
    from bingan.storage.db import get_engine

    reset_settings()
    return get_engine(get_settings())


def run_sqlite(records: int, repeat: int, keep: str | None, xlsx: bool, only: list[str] | None) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        home = keep or scratch
        Path(home).mkdir(parents=True, exist_ok=True)
        fresh = not (Path(home) / "ready").exists()
        engine = sqlite_engine(home)
        start = time.perf_counter()
        if fresh:
            build(engine, records)
            build_facts(engine, records)
            print(f"SQLite: facts filled in {fill_facts(engine):.0f} s", flush=True)
            (Path(home) / "ready").write_text(str(records))
        else:
            records = int((Path(home) / "ready").read_text())
            migrate(engine, "SQLite")
        built = time.perf_counter() - start
        show("SQLite", records, built, measure(engine, repeat, only))
        if xlsx:
            xlsx_rss(str(engine.url))
        engine.dispose()


def run_postgresql(url: str, records: int, repeat: int, keep: bool, xlsx: bool, only: list[str] | None) -> None:
    name = "bench_statistics" if keep else f"bench_statistics_{os.getpid()}"
    server = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
        if exists and keep:
            fresh = False
        else:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
            fresh = True
    database = sa.make_url(url).set(database=name)
    engine = sa.create_engine(database)
    try:
        start = time.perf_counter()
        if fresh:
            build(engine, records)
            build_facts(engine, records)
            print(f"PostgreSQL: facts filled in {fill_facts(engine):.0f} s", flush=True)
        else:
            migrate(engine, "PostgreSQL")
            with engine.connect() as conn:
                records = conn.execute(sa.text("SELECT count(*) FROM records")).scalar_one()
        built = time.perf_counter() - start
        show("PostgreSQL", records, built, measure(engine, repeat, only))
        if xlsx:
            xlsx_rss(database.render_as_string(hide_password=False))
    finally:
        engine.dispose()
        if not keep:
            with server.connect() as conn:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        server.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--keep", metavar="DIR", help="keep or reuse the SQLite database in DIR (and bench_statistics "
                                                      "on PostgreSQL)")
    parser.add_argument("--xlsx", action="store_true", help="measure the peak RSS of the 1 M-row xlsx")
    parser.add_argument("--only", nargs="*", help="only the cases whose name contains one of these words")
    args = parser.parse_args()
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
    if args.db in ("sqlite", "both"):
        run_sqlite(args.records, args.repeat, args.keep, args.xlsx, args.only)
    if args.db in ("postgresql", "both"):
        run_postgresql(args.postgres, args.records, args.repeat, bool(args.keep), args.xlsx, args.only)
    print(f"load average at end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)


if __name__ == "__main__":
    main()
