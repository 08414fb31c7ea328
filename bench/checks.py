"""Self-check benchmark: ``run_checks`` over one record against loading the record's documents bare.

    .venv/bin/python bench/checks.py [--repeat 50] [--documents 60]

Builds a throw-away SQLite database (migrated) with one surgical stay of ``--documents``
documents (every required type, timed, signed, with diagnoses and operations) and a few
collected items, then, alternating within each repeat so both share the machine's load:
the baseline (one query loading the record's present documents with their types and current
versions, what any record page does) and ``run_checks`` (every check, the run and its findings
stored and committed). Reports medians, p95 and the ratio. Target: ≤ 200 ms per record.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "records" / "completeness"), str(ROOT)]


def prepare(home: Path, documents: int) -> int:
    os.environ["BINGAN_HOME"] = str(home)
    from bingan.config import reset_settings

    reset_settings()
    from completeness_support import ADMITTED, ORDINARY, add_document, make_record

    from bingan.storage.db import get_engine, transaction
    from bingan.storage.migrate import upgrade
    from bingan.storage.models import CollectedItem, Operation, Source

    engine = get_engine()
    upgrade(engine)
    surgery = ("术前小结", "手术知情同意书", "麻醉知情同意书", "麻醉术前访视记录", "手术安全核查记录", "手术清点记录",
               "麻醉记录", "手术记录", "麻醉术后访视记录", "术后首次病程记录")
    with transaction(engine) as session:
        record = make_record(session, "0100001", documents=ORDINARY)
        record.operations = [Operation(seq=0, code="54.2100x001", name="腹腔镜检查",
                                       performed_at=ADMITTED + timedelta(days=1))]
        for n in range(documents - len(ORDINARY)):
            name = surgery[n] if n < len(surgery) else "日常病程记录"
            add_document(session, record, name, written=ADMITTED + timedelta(hours=2 + n),
                         signatures=[{"verdict": "valid", "reason": "签名有效", "signer": "张医生"}])
        source = Source(name="LIS", kind="lis")
        session.add(source)
        session.flush()
        session.add_all([CollectedItem(source_id=source.id, source_document_id=f"L{n}", revision="1",
                                       record_number="0100001", stay=1, state="indexed") for n in range(20)])
        return record.id


def measure(record_id: int, repeat: int) -> tuple[list[float], list[float]]:
    from bingan.records.completeness import checks, rules
    from bingan.storage.db import get_engine, transaction
    from bingan.storage.models import Record

    engine = get_engine()
    bare, checked = [], []
    for _ in range(repeat):
        with transaction(engine) as session:
            start = time.perf_counter()
            rules.present_documents(session, record_id)
            bare.append(time.perf_counter() - start)
        with transaction(engine) as session:
            start = time.perf_counter()
            checks.run_checks(session, session.get(Record, record_id))
            session.commit()
            checked.append(time.perf_counter() - start)
    return bare, checked


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, round(len(values) * 0.95) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--documents", type=int, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        record_id = prepare(Path(home), args.documents)
        bare, checked = measure(record_id, args.repeat)
    ms = 1000
    print(f"documents={args.documents} repeat={args.repeat}")
    print(f"bare load:  p50 {statistics.median(bare) * ms:.1f} ms  p95 {p95(bare) * ms:.1f} ms")
    print(f"run_checks: p50 {statistics.median(checked) * ms:.1f} ms  p95 {p95(checked) * ms:.1f} ms  "
          f"(× bare p50 {statistics.median(checked) / statistics.median(bare):.1f})")


if __name__ == "__main__":
    main()
