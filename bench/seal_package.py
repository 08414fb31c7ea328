"""Seal package benchmark (issue 13): sealing a 300-page record — every page to OFD, the package
PDF with its attachments and manifest, the PAdES signature, the encrypted store — run as the
worker runs it (the background job with its progress checkpoints), against rendering the same
pages bare (PDFium at the OFD resolution) in the same run. Medians of REPEAT runs.

    .venv/bin/python bench/seal_package.py [--pages 300] [--documents 10] [--repeat 3]

Target: ≤ 30 s for 300 pages in a worker. Not part of the test suite.
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
sys.path.insert(0, str(ROOT))

LINES = ["主诉：反复胸闷气促5年，加重3天。", "现病史：患者5年前活动后出现胸闷、气促，休息后缓解。",
         "体格检查：T 36.8℃ P 80次/分 R 20次/分 BP 130/80mmHg。", "初步诊断：冠状动脉粥样硬化性心脏病；2型糖尿病。",
         "诊疗计划：完善心电图、心脏彩超、冠脉CTA等检查，予抗血小板、调脂、控制血糖治疗。"] * 6


def _pdf(title: str, pages: int) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    if "STSong-Light" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4)
    for number in range(1, pages + 1):
        pdf.setFont("STSong-Light", 11)
        pdf.drawString(50, A4[1] - 40, f"{title}  第{number}页")
        for index, line in enumerate(LINES):
            pdf.drawString(60, A4[1] - 72 - index * 22, line)
        pdf.showPage()
    pdf.save()
    return out.getvalue()


def build_record(pages: int, documents: int) -> tuple[int, list[bytes]]:
    """A record of ``pages`` pages in ``documents`` PDFs, sealed through the service (apply +
    approve); returns the seal's package job id and the PDFs."""
    from bingan.access.accounts import create_user
    from bingan.access.audit import Actor
    from bingan.config import get_settings
    from bingan.records.approvals import engine as approvals
    from bingan.records.sealing import service
    from bingan.records.workflows import install
    from bingan.storage.blobs.port import Placement, open_blob_store
    from bingan.storage.db import get_engine, session_factory
    from bingan.storage.models import Document, DocumentType, Patient, Record, Version, utcnow

    install()
    store = open_blob_store(get_settings())
    files = [_pdf(f"病程记录{n}", pages // documents) for n in range(documents)]
    with session_factory(get_engine(get_settings())).begin() as session:
        affairs = create_user(session, "bench_affairs", "Xk7#mPq2$wLz9", ["medical_affairs"], full_name="医务处")
        archivist = create_user(session, "bench_archivist", "Xk7#mPq2$wLz9", ["archivist"], full_name="病案室")
        doc_type = session.query(DocumentType).filter_by(code="C0201").one()
        record = Record(patient=Patient(record_number="S000001", name="封存测试", sex="M"), record_number="S000001",
                        stay_number=1, status="archived")
        session.add(record)
        for n, data in enumerate(files):
            info = store.put(io.BytesIO(data), Placement("main", "S000001", 1, utcnow().date(), f"{n}.pdf"))
            document = Document(record=record, document_type=doc_type, title=f"病程记录{n}", source_document_id=str(n))
            version = Version(document=document, sha256=info.sha256, size=len(data), media_type="application/pdf",
                              page_count=pages // documents, filename=f"{n}.pdf")
            session.add(version)
            session.flush()
            document.current_version = version
        form = service.SealForm(reason="基准测试", parties=[{"role": "notary", "name": "公证员"}])
        seal = service.apply_seal(session, Actor.of(affairs), affairs, record, form)
        approvals.decide(session, Actor.of(archivist), archivist, seal.request_id, "approve")
        return seal.package_job_id, files


def seal_once(job_id: int) -> float:
    from bingan.config import get_settings
    from bingan.records import jobs
    from bingan.storage.blobs.port import open_blob_store
    from bingan.storage.db import get_engine

    started = time.perf_counter()
    assert jobs.run_job(get_engine(get_settings()), open_blob_store(get_settings()), job_id) == "done"
    return time.perf_counter() - started


def requeue(job_id: int) -> None:
    from bingan.config import get_settings
    from bingan.storage.db import get_engine, session_factory
    from bingan.storage.models.jobs import Job
    from bingan.storage.models.sealing import Seal

    with session_factory(get_engine(get_settings())).begin() as session:
        job = session.get(Job, job_id)
        job.state, job.attempts, job.done = "queued", 0, 0
        session.query(Seal).update({"package_status": "pending"})


def render_bare(files: list[bytes]) -> float:
    from bingan.formats.document import open_document
    from bingan.records.sealing.package import OFD_DPI

    started = time.perf_counter()
    for data in files:
        with open_document(data, "application/pdf") as document:
            for number in range(1, document.page_count() + 1):
                document.render(number, dpi=OFD_DPI)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--documents", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-seal-"))
    os.environ["BINGAN_HOME"] = str(work / "home")
    from bingan import broker
    from bingan.config import get_settings
    from bingan.storage.db import get_engine
    from bingan.storage.migrate import upgrade

    broker.celery_app = broker.make_celery()  # kicks land in this throw-away home
    upgrade(get_engine(get_settings()))
    job_id, files = build_record(args.pages, args.documents)
    sealed, bare = [], []
    for run in range(args.repeat):
        if run:
            requeue(job_id)
        bare.append(render_bare(files))
        sealed.append(seal_once(job_id))
    seal_s, bare_s = statistics.median(sealed), statistics.median(bare)
    verdict = "达到" if seal_s <= 30 else "未达到"
    print(f"{args.pages} 页：封存件（任务内：OFD、PDF 附件、清单、PAdES 签章、加密存储）中位数 {seal_s:.1f} s；"
          f"同页裸渲染 {bare_s:.1f} s；比值 {seal_s / bare_s:.2f}×；目标 ≤ 30 s：{verdict}")


if __name__ == "__main__":
    main()
