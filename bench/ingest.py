"""Ingest benchmarks (same-run ratios): born-digital PDFs end to end vs bare pypdfium2, bulk lookup.

    .venv/bin/python bench/ingest.py [--records 40] [--lookup-rows 1000000]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def bare_extraction(paths: list[Path]) -> tuple[float, int]:
    import pypdfium2 as pdfium

    start, pages = time.perf_counter(), 0
    for path in paths:
        doc = pdfium.PdfDocument(str(path))
        for page in doc:
            page.get_textpage().get_text_range()
            pages += 1
        doc.close()
    return time.perf_counter() - start, pages


def pipeline_ingest(home: Path, paths: list[Path], records) -> float:
    from bingan.ingest.demo_load import _demo_source, _organisation, upsert_record
    from bingan.ingest.items import Report, enqueue
    from bingan.ingest.pipeline import Pipeline, run_until_settled
    from bingan.storage.migrate import upgrade

    pipe = Pipeline()
    upgrade(pipe.engine)
    with pipe.tx() as session:
        source = _demo_source(session)
        _organisation(session)
        for record in records:
            upsert_record(session, record)
    by_id = {p.stem: p for p in paths}
    start = time.perf_counter()
    ids = []
    with pipe.tx() as session:
        for record in records:
            for doc in record.documents:
                staged = pipe.staging / f"b-{doc.source_id}"
                os.link(by_id[doc.source_id], staged)
                item, _ = enqueue(session, source, Report(source_document_id=doc.source_id,
                                  record_number=record.record_number, stay=record.stay, document_type_code=doc.type_code,
                                  revision="1"), staged_path=str(staged))
                ids.append(item.id)
    states = run_until_settled(pipe, ids, timeout=3600)
    elapsed = time.perf_counter() - start
    assert set(states.values()) == {"indexed"}, set(states.values())
    pipe.close()
    return elapsed


def lookup_bench(rows: int) -> tuple[float, int]:
    import random

    import sqlalchemy as sa

    from bingan.records.lookup import lookup_record_numbers
    from bingan.storage.db import get_engine, session_factory

    engine = get_engine()
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO patients (id, record_number, name, sex, id_type, phone, address, created_at, "
                             "updated_at) VALUES (900000000, 'BENCHP', '基准', 'U', 'other', '', '', '2025-01-01', '2025-01-01')"))
        batch = [{"n": f"B{i:08d}"} for i in range(rows)]
        conn.execute(sa.text(
            "INSERT INTO records (patient_id, record_number, stay_number, visit_type, inpatient_number, attending_doctor, "
            "resident_doctor, discharge_method, kind, confidentiality, status, sealed, legal_hold, front_page, created_at, "
            "updated_at) VALUES (900000000, :n, 1, 'inpatient', '', '', '', '', 'normal', 0, 'collecting', 0, 0, '{}', "
            "'2025-01-01', '2025-01-01')"), batch)
        conn.execute(sa.text("INSERT INTO record_number_aliases (alias, record_number, kind, note) VALUES (:a, :n, 'old', '')"),
                     [{"a": f"OLD{i:08d}", "n": f"B{i:08d}"} for i in range(0, rows, 100)])
    rng = random.Random(1)
    asked = [f"B{rng.randrange(rows * 2):08d}" for _ in range(9000)] + [f"OLD{i:08d}" for i in range(0, 100_000, 100)]
    with session_factory(engine)() as session:
        lookup_record_numbers(session, asked[:100])
        start = time.perf_counter()
        result = lookup_record_numbers(session, asked)
        elapsed = time.perf_counter() - start
    return elapsed, len(result.found)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=40)
    parser.add_argument("--lookup-rows", type=int, default=1_000_000)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bingan-bench-"))
    os.environ["BINGAN_HOME"] = str(home)
    from bingan.ingest.demo import generate, write_files

    records = list(generate(args.records, seed=7))
    paths = write_files(records, home / "pdfs")
    bare, pages = bare_extraction(paths)
    ours = pipeline_ingest(home, paths, records)
    print(f"ingest: {len(paths)} PDFs, {pages} pages; bare pypdfium2 {pages / bare:.0f} pages/s; "
          f"pipeline end to end {pages / ours:.0f} pages/s; ratio {bare / ours:.2f}x (target >= 0.5x)")
    elapsed, found = lookup_bench(args.lookup_rows)
    print(f"lookup: 10,000 numbers (1,000 aliases) against {args.lookup_rows:,} records: {elapsed * 1000:.0f} ms, "
          f"{found} found (target <= 100 ms)")


if __name__ == "__main__":
    main()
