"""Export job benchmark: a 100-page record exported as signed PDF and sealed OFD, end to end, against
rendering the same pages bare.

    .venv/bin/python bench/export_job.py [--pages 100] [--repeats 3] [--formats pdf,ofd]

The record and the bare render are copy_job.py's (the test hospital's archived cardiology record
with one born-digital PDF 入院记录 of ``--pages`` pages). Each repeat, alternating, both from a cold
page cache: **bare** = PageRenderer.page_png of every page; **export** = start_export of the record
for the archivist, then the record_export job as the worker runs it (bingan.records.jobs.run_job:
render, invisible and visible watermark, footer, JPEG, the PDF signed (PAdES) and/or the OFD written
and sealed (SM2), the zip with its manifest and certificates, the export events, committed).
The hospital's certificates exist before the first repeat (made at first use, not measured).

Reports the median seconds of each, ms per page and the same-run ratio. Not part of the test suite.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from copy_job import bare, cold_cache, prepare


def export(record_id: int, formats: list[str]) -> float:
    from bingan.access.audit import Actor
    from bingan.access.policy import load_subject
    from bingan.config import get_settings
    from bingan.records import jobs
    from bingan.records.release import exports
    from bingan.storage.blobs.port import open_blob_store
    from bingan.storage.db import get_engine, transaction
    from bingan.storage.models import Record, User

    cold_cache()
    engine = get_engine(get_settings())
    start = time.perf_counter()
    with transaction(engine) as session:
        user = session.query(User).filter_by(username="u_archivist").one()
        form = exports.ExportForm(record_ids=[record_id], formats=formats, watermark="仅供测试使用")
        job_id = exports.start_export(session, Actor.of(user), user, load_subject(session, user),
                                      [session.get(Record, record_id)], form).id
    state = jobs.run_job(engine, open_blob_store(get_settings()), job_id)
    elapsed = time.perf_counter() - start
    if state != "done":
        raise SystemExit(f"export job ended {state}")
    return elapsed


def make_certificates() -> None:
    from bingan.access.sealed_secrets import SecretBox
    from bingan.config import get_settings
    from bingan.records.hospital_certificate import seal_key, signing_identity
    from bingan.storage.db import get_engine, transaction

    with transaction(get_engine(get_settings())) as session:
        box = SecretBox.of(get_settings())
        signing_identity(session, box, get_settings().hospital_name)
        seal_key(session, box, get_settings().hospital_name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--formats", default="pdf,ofd")
    args = parser.parse_args()
    formats = args.formats.split(",")
    with tempfile.TemporaryDirectory(prefix="bingan-bench-export-") as home:
        record_id, sha = prepare(Path(home), args.pages)
        from bingan import broker
        from bingan.records.workflows import install

        install()
        broker.celery_app = broker.make_celery()  # no broker in a bench: messages are dropped
        make_certificates()
        bare(sha, 2)  # warm the guarded render pool
        bares, exported = [], []
        for _ in range(args.repeats):
            bares.append(bare(sha, args.pages))
            exported.append(export(record_id, formats))
        b, e = statistics.median(bares), statistics.median(exported)
        print(f"load average {os.getloadavg()[0]:.1f}; {args.pages} pages, {args.repeats} repeats (medians), "
              f"formats {'+'.join(formats)}")
        print(f"bare render      {b:6.2f} s  {1000 * b / args.pages:6.1f} ms/page  all {[round(x, 2) for x in bares]}")
        print(f"export job       {e:6.2f} s  {1000 * e / args.pages:6.1f} ms/page  "
              f"all {[round(x, 2) for x in exported]}")
        print(f"ratio export / bare {e / b:.2f}")


if __name__ == "__main__":
    main()
