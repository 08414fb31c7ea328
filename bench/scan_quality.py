"""Paper capture benchmark (issue 16): the image quality checks per page against decoding the same
JPEG bare, and a captured page searchable after upload against bare OCR of the same page.

    .venv/bin/python bench/scan_quality.py [--repeat 7]

1. Quality: a typed A4 page (tests/records/digitisation/pages.py) as a JPEG from a 150-dpi
   scanner (1240 × 1754) and from a 300-dpi document camera (2480 × 3508). Per repeat, bare
   ``Image.open(...).load()`` and ``check_page`` on the decoded image, interleaved; medians.
   Target: the checks ≤ 50 ms per page.
2. Searchable: a throw-away HOME with the test hospital (tests/access/world.py) and one record
   awaiting submission per repeat, driven in process (FastAPI TestClient, the archivist). Timed:
   POST /api/v1/records/{id}/scans with one page, the worker's process_item on the kicked item
   (what the worker does on the message; the broker hop is not timed), then GET /api/v1/search
   until the record is found. Baseline in the same repeat: bare ``ocr_image`` of the same page.
   The OCR cache is cleared before each, and each repeat's page differs (its own line), so
   neither reuses the other's OCR. Target: ≤ 5 s on 2 cores.
"""
from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "access"), str(ROOT / "tests" / "web"),
                str(ROOT / "tests" / "records" / "digitisation"), str(ROOT)]

WORD = "angiography"  # on every generated page (pages.LINES)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def quality(repeat: int) -> None:
    from pages import jpeg, text_page
    from PIL import Image

    from bingan.records.digitisation.quality import check_page

    for label, size in (("scanner 150 dpi", (1240, 1754)), ("camera 300 dpi", (2480, 3508))):
        data = jpeg(text_page(*size))
        bare, checks = [], []
        for _ in range(repeat):
            start = time.perf_counter()
            image = Image.open(io.BytesIO(data))
            image.load()
            bare.append(time.perf_counter() - start)
            start = time.perf_counter()
            check_page(image)
            checks.append(time.perf_counter() - start)
        b, c = statistics.median(bare), statistics.median(checks)
        print(f"quality  {label:16} decode {ms(b):>9}  checks {ms(c):>9}  ({c / b:.2f}× decode)")


def prepare(home: Path, count: int) -> list[int]:
    os.environ["BINGAN_HOME"] = str(home)
    from bingan.config import get_settings, reset_settings

    reset_settings()
    from world import build_world

    from bingan.records import lifecycle
    from bingan.storage.db import get_engine, transaction
    from bingan.storage.migrate import upgrade
    from bingan.storage.models import Patient, Record

    engine = get_engine(get_settings())
    upgrade(engine)
    with transaction(engine) as session:
        template = build_world(session).records["normal"]
        records = []
        for n in range(count):
            number = f"7{n:06d}"
            record = Record(patient=Patient(record_number=number, name="基准患者", sex="F"), record_number=number,
                            stay_number=1, campus_id=template.campus_id, discharged_at=template.discharged_at,
                            admission_department_id=template.admission_department_id,
                            discharge_department_id=template.discharge_department_id, attending_doctor="李主任")
            session.add(record)
            session.flush()
            lifecycle.move(session, lifecycle.SYSTEM, record, "awaiting", "基准")
            records.append(record.id)
    return records


def page_of(n: int) -> bytes:
    """A page of its own per repeat: one line differs, so no OCR or blob is reused."""
    from pages import jpeg, text_page
    from PIL import ImageDraw, ImageFont

    page = text_page()
    ImageDraw.Draw(page).text((130, 90), f"Bench page {n:04d}", fill=20,
                              font=ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 28))
    return jpeg(page)


def searchable(repeat: int) -> None:
    home = Path(tempfile.mkdtemp(prefix="bingan-bench-scan-"))
    record_ids = prepare(home, repeat + 1)
    from fastapi.testclient import TestClient
    from PIL import Image
    from web_helpers import sign_in

    from bingan.config import get_settings
    from bingan.formats.ocr import clear_cache, ocr_image
    from bingan.ingest.pipeline import Pipeline, process_item
    from bingan.web.app import create_app

    client = TestClient(create_app(get_settings()))
    sign_in(client, "u_archivist")
    csrf = {"X-CSRF-Token": client.get("/api/v1/me").json()["csrf_token"]}
    pipe = Pipeline()

    def capture_to_search(record_id: int, data: bytes) -> float:
        start = time.perf_counter()
        answer = client.post(f"/api/v1/records/{record_id}/scans", headers=csrf, data={"category": "C02"},
                             files=[("files", ("page.jpg", data, "image/jpeg"))])
        answer.raise_for_status()
        state = process_item(pipe, answer.json()["item_id"])
        number = f"7{record_ids.index(record_id):06d}"
        while number not in client.get("/api/v1/search", params={"q": WORD}).text:
            if time.perf_counter() - start > 60:
                raise SystemExit(f"record {number} not found 60 s after upload (item {state})")
            time.sleep(0.05)
        return time.perf_counter() - start

    clear_cache()
    capture_to_search(record_ids[0], page_of(0))  # warm: OCR engine, index writer, first requests
    bare, captured = [], []
    for n, record_id in enumerate(record_ids[1:], start=1):
        data = page_of(n)
        clear_cache()
        start = time.perf_counter()
        ocr_image(Image.open(io.BytesIO(data)))
        bare.append(time.perf_counter() - start)
        clear_cache()
        captured.append(capture_to_search(record_id, data))
    b, c = statistics.median(bare), statistics.median(captured)
    print(f"search   upload → found {c:.2f} s (max {max(captured):.2f} s)  bare OCR {b:.2f} s  ({c / b:.2f}× OCR)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores")
    quality(args.repeat)
    searchable(args.repeat)
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
