"""Historical import benchmark (issue 16, V9: "bulk import limited only by OCR"): pages per second
of a bulk import of scanned pages against bare OCR of the same pages, in the same run.

    .venv/bin/python bench/historical_import.py [--pages 40] [--records 4]

A throw-away HOME with the test hospital and ``--records`` records; ``--pages`` typed A4 pages
(tests/records/digitisation/pages.py, 150 dpi, one line differing per page so no OCR is reused) as
JPEG files laid out <病案号>/1/入院记录/<n>.jpg under the import root. Baseline: ``ocr_image`` of
every page in this process (the OCR cache cleared before each). Timed: the import's job run
(``run_job``, what the worker does) from its first entry to the last page indexed — staging,
encrypted blob, guarded extraction with OCR, version, index. The ratio import/OCR is the target:
near 1× means the import costs little besides the OCR itself.
"""
from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "access"), str(ROOT / "tests" / "records" / "digitisation"), str(ROOT)]


def page_of(n: int) -> bytes:
    from pages import jpeg, text_page
    from PIL import ImageDraw, ImageFont

    page = text_page()
    ImageDraw.Draw(page).text((130, 90), f"Archive page {n:05d}", fill=20,
                              font=ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 28))
    return jpeg(page)


def prepare(home: Path, records: int, pages: list[bytes]) -> None:
    os.environ["BINGAN_HOME"] = str(home)
    from bingan.config import get_settings, reset_settings

    reset_settings()
    from world import build_world

    from bingan.storage.db import get_engine, transaction
    from bingan.storage.migrate import upgrade
    from bingan.storage.models import Patient, Record

    engine = get_engine(get_settings())
    upgrade(engine)
    with transaction(engine) as session:
        build_world(session, with_documents=False)
        for n in range(records):
            number = f"8{n:06d}"
            session.add(Record(patient=Patient(record_number=number, name="历史患者", sex="M"), record_number=number,
                               stay_number=1))
    root = get_settings().resolved_import_root
    for n, data in enumerate(pages):
        folder = root / "bench" / f"8{n % records:06d}" / "1" / "入院记录"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{n:05d}.jpg").write_bytes(data)


def bare_ocr(pages: list[bytes]) -> float:
    from PIL import Image

    from bingan.formats.ocr import clear_cache, ocr_image

    ocr_image(Image.open(io.BytesIO(pages[0])))  # warm the engine, as the worker's pool is warmed below
    total = 0.0
    for data in pages:
        clear_cache()
        start = time.perf_counter()
        ocr_image(Image.open(io.BytesIO(data)))
        total += time.perf_counter() - start
    return total


def bulk_import() -> tuple[float, int]:
    from bingan.access.audit import Actor
    from bingan.config import get_settings
    from bingan.ingest import extract
    from bingan.ingest.historical import HISTORICAL_IMPORT
    from bingan.records.digitisation import imports
    from bingan.records.jobs import register, run_job
    from bingan.records.workflows import install
    from bingan.storage.blobs.port import open_blob_store
    from bingan.storage.db import get_engine, transaction
    from bingan.storage.models.imports import ScanImport

    install()
    register(HISTORICAL_IMPORT)
    settings = get_settings()
    engine = get_engine(settings)
    with transaction(engine) as session:
        kind, origin, rows = imports.rows_from(settings.resolved_import_root, folder="bench")
        scan_import = imports.start(session, Actor(None, "bench"), None, kind, origin, rows)
        session.flush()
        import_id, job_id = scan_import.id, scan_import.job_id
    extract.warm()
    start = time.perf_counter()
    state = run_job(engine, open_blob_store(settings), job_id)
    elapsed = time.perf_counter() - start
    with transaction(engine) as session:
        counts = imports.tallies(session, import_id)
        assert state == "done" and session.get(ScanImport, import_id).state == "done", (state, counts)
    return elapsed, counts["pages"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=40)
    parser.add_argument("--records", type=int, default=4)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores")
    pages = [page_of(n) for n in range(args.pages)]
    prepare(Path(tempfile.mkdtemp(prefix="bingan-bench-import-")), args.records, pages)
    ocr = bare_ocr(pages)
    elapsed, imported = bulk_import()
    assert imported == args.pages, f"imported {imported} of {args.pages} pages"
    print(f"bare OCR  {args.pages} pages  {ocr:.1f} s  {args.pages / ocr:.2f} pages/s")
    print(f"import    {imported} pages  {elapsed:.1f} s  {imported / elapsed:.2f} pages/s  ({elapsed / ocr:.2f}× OCR)")
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
