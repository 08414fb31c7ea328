"""Copy job benchmark: a 100-page copy job end to end against rendering the same pages bare.

    .venv/bin/python bench/copy_job.py [--pages 100] [--repeats 3]

Builds a throw-away HOME with the test hospital of tests/access/world.py whose archived cardiology
record holds one born-digital PDF 入院记录 of ``--pages`` pages (Chinese text, 20 lines a page).
Each repeat, alternating, both from a cold page cache (memory and disk):

- bare: PageRenderer.page_png of every page (the guarded render and the PNG the viewer sends);
- copy job: 复印登记 of the whole record for an agent (records/release/service.create_request),
  cash payment, start_print, then the copy_print job run as the worker runs it
  (bingan.records.jobs.run_job: render, watermark, certifying mark with the seal, JPEG, one A4 PDF,
  the printed-copies rows and the print notices, committed).

Reports the median seconds of each, ms per page and the same-run ratio. Target (issue 15): the
100-page job ≤ 15 s (≤ 150 ms/page) on 2 cores. Not part of the test suite.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "access"), str(ROOT / "tests" / "fixtures"),
                str(ROOT / "tests" / "records" / "release"), str(ROOT)]


def prepare(home: Path, pages: int) -> tuple[int, str]:
    """The record to copy and its document's content address."""
    os.environ["BINGAN_HOME"] = str(home)
    from bingan.config import get_settings, reset_settings

    reset_settings()
    import formats_gen
    from world import build_world, store_pdf

    from bingan.storage.db import get_engine, transaction
    from bingan.storage.migrate import upgrade
    from bingan.storage.models import Document, DocumentType, Page, Version

    engine = get_engine(get_settings())
    upgrade(engine)
    lines = [f"第{{n}}页 现病史：患者因胸闷、气促{k}天入院，既往高血压病史十年，规律服药。" for k in range(20)]
    data = formats_gen.text_pdf([[line.format(n=n) for line in lines] for n in range(1, pages + 1)])
    with transaction(engine) as session:
        world = build_world(session, with_documents=False)
        record = world.records["normal"]
        sha = store_pdf(data, record.record_number)
        doc_type = session.query(DocumentType).filter_by(name="入院记录").one()
        document = Document(record=record, document_type=doc_type, title="入院记录", source_system="EMR",
                            source_document_id="bench-copy", origin="collected")
        version = Version(document=document, number=1, sha256=sha, size=len(data), media_type="application/pdf",
                          filename="doc.pdf", page_count=pages)
        version.pages = [Page(number=n, text="") for n in range(1, pages + 1)]
        session.add(version)
        session.flush()
        document.current_version = version
        return record.id, sha


def cold_cache() -> None:
    from bingan.config import get_settings

    shutil.rmtree(get_settings().resolved_home / "cache" / "pages", ignore_errors=True)


def bare(sha: str, pages: int) -> float:
    from bingan.config import get_settings
    from bingan.records.pages import PageRenderer

    cold_cache()
    renderer = PageRenderer(get_settings())
    start = time.perf_counter()
    for page in range(1, pages + 1):
        renderer.page_png(sha, "application/pdf", page)
    return time.perf_counter() - start


def copy_job(record_id: int) -> float:
    from release_support import AGENT

    from bingan.access.audit import Actor
    from bingan.config import get_settings
    from bingan.records import jobs
    from bingan.records.release import service
    from bingan.storage.blobs.port import open_blob_store
    from bingan.storage.db import get_engine, transaction
    from bingan.storage.models import Record, User

    cold_cache()
    engine = get_engine(get_settings())
    start = time.perf_counter()
    with transaction(engine) as session:
        clerk = session.query(User).filter_by(username="u_copy_clerk").one()
        form = service.CopyForm(applicant=service.Applicant(**AGENT), record_ids=[record_id], package="all")
        request = service.create_request(session, Actor.of(clerk), clerk, [session.get(Record, record_id)], form)
        service.pay(session, Actor.of(clerk), clerk, request, "cash")
        job_id = service.start_print(session, Actor.of(clerk), clerk, request).id
    state = jobs.run_job(engine, open_blob_store(get_settings()), job_id)
    elapsed = time.perf_counter() - start
    if state != "done":
        raise SystemExit(f"copy job ended {state}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bingan-bench-copy-") as home:
        record_id, sha = prepare(Path(home), args.pages)
        from bingan import broker
        from bingan.records.workflows import install

        install()
        broker.celery_app = broker.make_celery()  # no broker in a bench: messages are dropped
        bare(sha, 2)  # warm the guarded render pool
        bares, jobs_ = [], []
        for _ in range(args.repeats):
            bares.append(bare(sha, args.pages))
            jobs_.append(copy_job(record_id))
        b, j = statistics.median(bares), statistics.median(jobs_)
        print(f"load average {os.getloadavg()[0]:.1f}; {args.pages} pages, {args.repeats} repeats (medians)")
        print(f"bare render      {b:6.2f} s  {1000 * b / args.pages:6.1f} ms/page  all {[round(x, 2) for x in bares]}")
        print(f"copy job         {j:6.2f} s  {1000 * j / args.pages:6.1f} ms/page  all {[round(x, 2) for x in jobs_]}")
        verdict = "met" if j <= 0.15 * args.pages else "NOT met"
        print(f"ratio copy job / bare {j / b:.2f}; target ≤ 150 ms/page (15 s for 100 pages): {verdict}")


if __name__ == "__main__":
    main()
