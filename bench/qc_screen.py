"""QC screen benchmark: the QC screen (质控界面) of a 300-page record against the plain record page.

    .venv/bin/python bench/qc_screen.py [--repeat 40] [--documents 60] [--pages 5]

Builds a throw-away HOME (migrated SQLite, the test hospital of tests/access/world.py) and adds
one stay of ``--documents`` documents × ``--pages`` pages (300 by default) in QC: every tenth
document re-collected (version 2 with changed pages marked), a stored self-check with findings,
QC comments on a few pages (taken into QC and commented through records/qc). The documents
share one real PDF in the encrypted blob store, so the viewer's first page image is rendered for
real: its first (cold) render is reported once, after another page started the guarded render
pool; the repeats meet the page-image cache and pay the per-request watermark. Signed in as the
QC user, alternating within each repeat so all share the machine's load:

- baseline: GET /records/{id} (the plain record page of the same record);
- GET /qc/{id} (the screen's HTML: documents in filing order with their changes, the viewer,
  self-check, history and comment form);
- GET /qc/{id} and then the first page image it shows (what the reviewer waits for).

In-process (fastapi TestClient), so no network and no server threads. Reports p50, p95 and the
ratio to the baseline. Target: the QC screen ≤ 500 ms p95.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "access"), str(ROOT / "tests" / "web"), str(ROOT / "tests" / "fixtures"),
                str(ROOT)]

TYPES = ("入院记录", "首次病程记录", "日常病程记录", "上级医师查房记录", "出院记录", "检验报告", "一般护理记录")


def prepare(home: Path, documents: int, pages: int) -> int:
    os.environ["BINGAN_HOME"] = str(home)
    from bingan.config import reset_settings

    reset_settings()
    import formats_gen
    import sqlalchemy as sa
    from world import build_world, store_pdf

    from bingan.access.audit import Actor
    from bingan.records import lifecycle
    from bingan.records.qc import service as qc
    from bingan.storage.db import get_engine, transaction
    from bingan.storage.migrate import upgrade
    from bingan.storage.models import Document, DocumentType, Page, Patient, Record, Version
    from bingan.storage.models.completeness import CheckFinding, CheckRun

    engine = get_engine()
    upgrade(engine)
    texts = [[f"第{n}页", "主诉：反复胸闷气促5年，加重3天。", "体格检查：双肺呼吸音粗，未闻及干湿啰音。"]
             for n in range(1, pages + 1)]
    data = formats_gen.text_pdf(texts)
    with transaction(engine) as session:
        world = build_world(session, with_documents=False)
        sha = store_pdf(data, "0190001")
        record = Record(patient=Patient(record_number="0190001", name="周志强", sex="M"), record_number="0190001",
                        stay_number=1, campus_id=world.cardiology.campus_id,
                        admitted_at=datetime(2026, 11, 1, 9, tzinfo=UTC), discharged_at=datetime(2026, 11, 30, 2,
                                                                                               tzinfo=UTC),
                        admission_department_id=world.cardiology.id, discharge_department_id=world.cardiology.id,
                        attending_doctor="李主任")
        session.add(record)
        session.flush()
        types = {t.name: t for t in session.scalars(sa.select(DocumentType).where(DocumentType.name.in_(TYPES)))}
        for n in range(documents):
            name = TYPES[n % len(TYPES)]
            document = Document(record=record, document_type=types[name], title=f"{name}（{n + 1}）",
                                source_system="EMR", source_document_id=f"D{n}")
            for number in (1, 2) if n % 10 == 0 else (1,):
                version = Version(document=document, number=number, sha256=sha, size=len(data),
                                  media_type="application/pdf", filename="doc.pdf", page_count=pages,
                                  page_changes={"updated": [2], "added": [3], "removed": []} if number == 2 else {})
                version.pages = [Page(number=p, text="\n".join(texts[p - 1])) for p in range(1, pages + 1)]
                session.add(version)
                session.flush()
            document.current_version = version
        session.flush()
        for status in ("awaiting", "submitted"):
            lifecycle.move(session, lifecycle.SYSTEM, record, status, "基准测试")
        run = CheckRun(record_id=record.id, trigger="submit", passed=True, warnings=8)
        run.findings = [CheckFinding(check="timeliness", severity="warning", message=f"提醒 {n}") for n in range(8)]
        session.add(run)
        reviewer = world.users["qc"]
        first = session.scalars(sa.select(Document).where(Document.record_id == record.id)).first()
        for page in (1, 2, 3):
            qc.comment(session, Actor.of(reviewer), reviewer, record, first.id, page, "medical", "主诉与现病史不符")
        return record.id


def measure(record_id: int, repeat: int) -> dict[str, list[float]]:
    from fastapi.testclient import TestClient
    from web_helpers import sign_in

    from bingan.config import get_settings
    from bingan.web.app import create_app

    settings = get_settings()
    client = TestClient(create_app(settings), base_url="http://testserver", client=("127.0.0.1", 50000))
    assert sign_in(client, "u_qc").status_code == 303
    times: dict[str, list[float]] = {"record page": [], "QC screen": [], "QC screen + first image": []}
    image = re.search(r'<img id="qc-page-image"[^>]+src="([^"]+)"', client.get(f"/qc/{record_id}").text).group(1)
    _timed(client, image.replace("/pages/1/", "/pages/5/"))  # starts the guarded render pool
    times["first image, cold render"] = [_timed(client, image.replace("&amp;", "&"))]
    for n in range(repeat + 2):  # the first two warm the templates and the connection pool
        timed = _timed(client, f"/records/{record_id}")
        screen_only = _timed(client, f"/qc/{record_id}")
        start = time.perf_counter()
        image = re.search(r'<img id="qc-page-image"[^>]+src="([^"]+)"', client.get(f"/qc/{record_id}").text).group(1)
        assert client.get(image.replace("&amp;", "&")).status_code == 200
        with_image = time.perf_counter() - start
        if n >= 2:
            for name, value in zip(times, (timed, screen_only, with_image), strict=False):
                times[name].append(value)
    return times


def _timed(client, url: str) -> float:
    start = time.perf_counter()
    answer = client.get(url)
    elapsed = time.perf_counter() - start
    assert answer.status_code == 200, (url, answer.status_code)
    return elapsed


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, round(len(values) * 0.95) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--documents", type=int, default=60)
    parser.add_argument("--pages", type=int, default=5)
    args = parser.parse_args()
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as home:
        record_id = prepare(Path(home), args.documents, args.pages)
        times = measure(record_id, args.repeat)
    base = statistics.median(times["record page"])
    print(f"documents={args.documents} pages={args.documents * args.pages} repeat={args.repeat}")
    for name, values in times.items():
        print(f"{name:<24} p50 {statistics.median(values) * 1000:7.1f} ms  p95 {p95(values) * 1000:7.1f} ms"
              f"  (p50 × record page {statistics.median(values) / base:.2f})")
    print(f"load average at end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
