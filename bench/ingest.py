"""Ingest benchmarks (same-run ratios): born-digital PDFs end to end vs bare pypdfium2, bulk lookup.

    .venv/bin/python bench/ingest.py [--records 12] [--repeat 3] [--workers 1,2] [--lookup-rows 1000000]

Documents are demo records re-paginated to hospital sizes (most 1-5 pages, some 6-12, a few
20-30). The pipeline runs as deployed: worker processes claim items from the database and
extract (fsyncs of one overlap the other's CPU work), one indexer commits the index in
batches. Baselines in the same run: bare pypdfium2 text extraction in one process and in as
many processes as workers. Medians over repeats; each repeat starts from an empty home.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

WORKER = """
import sys, time
import sqlalchemy as sa
from bingan.ingest.pipeline import Pipeline, process_item
from bingan.storage.models import CollectedItem

pipe, newest_first = Pipeline(), sys.argv[1] == "1"
pipe.blobs  # a deployed worker is long-lived: imports and opened stores are not part of the timing
try:
    from bingan.ingest.extract import warm  # its guarded child too
    warm()
except ImportError:  # older checkouts fork a child per document
    pass
print("ready", flush=True)
sys.stdin.readline()
order = CollectedItem.id.desc() if newest_first else CollectedItem.id  # two workers meet in the middle
while True:
    with pipe.tx() as session:
        ids = list(session.scalars(sa.select(CollectedItem.id).where(
            CollectedItem.state.in_(("pending", "fetched", "stored"))).order_by(order).limit(20)))
    if not ids:
        break
    for item_id in ids:
        process_item(pipe, item_id, index=False)
"""


def realistic_documents(records, rng: random.Random):
    """Each demo document stretched to a hospital page count, reusing the record's own pages."""
    for record in records:
        pool = [page for document in record.documents for page in document.pages]
        for document in record.documents:
            roll = rng.random()
            pages = rng.randint(1, 5) if roll < 0.75 else (rng.randint(6, 12) if roll < 0.93 else rng.randint(20, 30))
            document.pages = (document.pages + pool * (pages // len(pool) + 1))[:pages]
    return records


def _bare_file(path: str) -> int:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(path)
    for page in doc:
        page.get_textpage().get_text_range()
    count = len(doc)
    doc.close()
    return count


def bare_extraction(paths: list[Path], processes: int) -> tuple[float, int]:
    start = time.perf_counter()
    if processes <= 1:
        pages = sum(_bare_file(str(p)) for p in paths)
    else:
        with ProcessPoolExecutor(processes) as pool:
            pages = sum(pool.map(_bare_file, [str(p) for p in paths], chunksize=8))
    return time.perf_counter() - start, pages


def pipeline_ingest(home: Path, paths: list[Path], records, workers: int) -> float:
    from bingan.config import reset_settings
    from bingan.ingest import pipeline
    from bingan.ingest.demo_load import _demo_source, _organisation, upsert_record
    from bingan.ingest.items import Report, enqueue

    Pipeline = pipeline.Pipeline
    index_claimed = getattr(pipeline, "index_claimed", None) or pipeline._index_claimed  # older checkouts
    from bingan.storage.migrate import upgrade

    os.environ["BINGAN_HOME"] = str(home)
    reset_settings()
    pipe = Pipeline()
    upgrade(pipe.engine)
    with pipe.tx() as session:
        _organisation(session)
        for record in records:
            upsert_record(session, record)
    by_id = {p.stem: p for p in paths}
    children = [subprocess.Popen([sys.executable, "-c", WORKER, str(k)], env=os.environ.copy(), text=True,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE) for k in range(workers)]
    for child in children:
        assert child.stdout.readline().strip() == "ready"
    start = time.perf_counter()
    ids = []
    with pipe.tx() as session:
        source = _demo_source(session)
        for record in records:
            for doc in record.documents:
                staged = pipe.staging / f"b-{doc.source_id}"
                os.link(by_id[doc.source_id], staged)
                report = Report(source_document_id=doc.source_id, record_number=record.record_number, stay=record.stay,
                                document_type_code=doc.type_code, revision="1")
                ids.append(enqueue(session, source, report, staged_path=str(staged))[0].id)
    for child in children:
        child.stdin.write("go\n")
        child.stdin.close()
    states = _index_until_done(pipe, ids, children, index_claimed)
    elapsed = time.perf_counter() - start
    assert set(states) == {"indexed"}, states
    pipe.close()
    return elapsed


def _index_until_done(pipe, ids: list[int], children, index_claimed) -> set[str]:
    """The indexer: one index commit per batch of extracted items, while the workers run."""
    import sqlalchemy as sa

    from bingan.storage.models import CollectedItem

    while True:
        with pipe.tx() as session:
            rows = dict(session.execute(sa.select(CollectedItem.id, CollectedItem.state)).all())
        ready = [i for i in ids if rows[i] == "extracted"]
        for start in range(0, len(ready), pipe.options.index_batch):
            index_claimed(pipe, ready[start:start + pipe.options.index_batch])
        workers_done = all(c.poll() is not None for c in children)
        if workers_done and not ready:
            return {rows[i] for i in ids}
        time.sleep(0.1)


def chunked_lookup(session, numbers: list[str]) -> int:
    """The previous query path (same run baseline): IN lists of 900 parameters, aliases then records."""
    import sqlalchemy as sa

    from bingan.storage.models import Patient, Record, RecordNumberAlias

    aliases: dict[str, str] = {}
    for start in range(0, len(numbers), 900):
        query = sa.select(RecordNumberAlias.alias, RecordNumberAlias.record_number)
        aliases.update(session.execute(query.where(RecordNumberAlias.alias.in_(numbers[start:start + 900]))).all())
    targets = sorted({aliases.get(n, n) for n in numbers})
    found = 0
    query = sa.select(Record.id, Record.record_number, Record.stay_number, Record.visit_type, Patient.name,
                      Record.discharged_at).join(Patient, Patient.id == Record.patient_id)
    for start in range(0, len(targets), 900):
        found += len(session.execute(query.where(Record.record_number.in_(targets[start:start + 900]))).all())
    return found


def lookup_bench(rows: int, repeat: int) -> tuple[list[float], list[float], int]:
    import sqlalchemy as sa

    from bingan.records.lookup import lookup_record_numbers
    from bingan.storage.db import get_engine, session_factory

    engine = get_engine()
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO patients (id, record_number, name, sex, id_type, phone, address, created_at, "
                             "updated_at) VALUES (900000000, 'BENCHP', '基准', 'U', 'other', '', '', '2025-01-01', "
                             "'2025-01-01')"))
        batch = [{"n": f"B{i:08d}"} for i in range(rows)]
        conn.execute(sa.text(
            "INSERT INTO records (patient_id, record_number, stay_number, visit_type, inpatient_number, "
            "attending_doctor, resident_doctor, discharge_method, kind, confidentiality, status, sealed, legal_hold, "
            "front_page, created_at, updated_at) VALUES (900000000, :n, 1, 'inpatient', '', '', '', '', 'normal', "
            "0, 'collecting', 0, 0, '{}', '2025-01-01', '2025-01-01')"), batch)
        conn.execute(sa.text("INSERT INTO record_number_aliases (alias, record_number, kind, note) "
                             "VALUES (:a, :n, 'old', '')"),
                     [{"a": f"OLD{i:08d}", "n": f"B{i:08d}"} for i in range(0, rows, 100)])
    rng = random.Random(1)
    asked = [f"B{rng.randrange(rows * 2):08d}" for _ in range(9000)] + [f"OLD{i:08d}" for i in range(0, 100_000, 100)]
    times, chunked = [], []
    with session_factory(engine)() as session:
        lookup_record_numbers(session, asked[:100])
        for _ in range(repeat):  # alternating, so both paths share the machine's load
            start = time.perf_counter()
            result = lookup_record_numbers(session, asked)
            times.append(time.perf_counter() - start)
            start = time.perf_counter()
            chunked_lookup(session, asked)
            chunked.append(time.perf_counter() - start)
    return times, chunked, len(result.found)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", default="1,2", help="worker process counts to run, e.g. 1,2")
    parser.add_argument("--lookup-rows", type=int, default=1_000_000)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bingan-bench-"))
    os.environ["BINGAN_HOME"] = str(root / "setup")
    from bingan.ingest.demo import generate, write_files

    records = realistic_documents(list(generate(args.records, seed=7)), random.Random(7))
    paths = write_files(records, root / "pdfs")
    counts = sorted(len(d.pages) for r in records for d in r.documents)
    print(f"corpus: {len(paths)} PDFs, {sum(counts)} pages; pages per document median {statistics.median(counts):g}, "
          f"max {counts[-1]}; 1-5 pages: {sum(c <= 5 for c in counts)}, 20+: {sum(c >= 20 for c in counts)}")
    worker_counts = [int(w) for w in args.workers.split(",")]
    runs: dict[str, list[float]] = {}
    pages = 0
    for n in range(args.repeat):  # interleaved, so every path shares the machine's load alike
        for processes in sorted({1, *worker_counts}):
            elapsed, pages = bare_extraction(paths, processes)
            runs.setdefault(f"bare{processes}", []).append(elapsed)
        for workers in worker_counts:
            elapsed = pipeline_ingest(root / f"r{n}w{workers}", paths, records, workers)
            runs.setdefault(f"ours{workers}", []).append(elapsed)
    median = {k: statistics.median(v) for k, v in runs.items()}
    for processes in sorted({1, *worker_counts}):
        print(f"bare pypdfium2, {processes} process(es): {pages / median[f'bare{processes}']:.0f} pages/s")
    for workers in worker_counts:
        ours = median[f"ours{workers}"]
        line = f"pipeline, {workers} worker(s): {pages / ours:.0f} pages/s = {median['bare1'] / ours:.2f}x bare 1 proc"
        if workers > 1:
            line += f", {median[f'bare{workers}'] / ours:.2f}x bare {workers} procs"
        print(line + " (target >= 0.5x)")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    if args.lookup_rows:
        os.environ["BINGAN_HOME"] = str(root / "lookup")
        from bingan.config import reset_settings
        from bingan.storage.migrate import upgrade

        reset_settings()
        from bingan.storage.db import get_engine

        upgrade(get_engine())
        times, chunked, found = lookup_bench(args.lookup_rows, max(7, args.repeat))
        print(f"lookup: 10,000 numbers (1,000 aliases) against {args.lookup_rows:,} records, {found} found: "
              f"one parameter median {statistics.median(times) * 1000:.0f} ms (min {min(times) * 1000:.0f}); "
              f"chunks of 900 median {statistics.median(chunked) * 1000:.0f} ms (target <= 100 ms)")


if __name__ == "__main__":
    main()
