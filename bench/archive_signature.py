"""Archive signature benchmark (issue 18): signing and timestamping one archived 100-page record
as the worker does it (the background job: every document's file re-read and hashed, the
manifest, the reviewer's CMS signature through the local signing port, an RFC 3161 timestamp from
a real TSA on loopback — tests/peers/tsa.py —, two blobs stored, the row), and verifying it
(signature, timestamp, manifest against every current file), each against reading and hashing
the same blobs bare in the same run. Medians of REPEAT runs; each run is a re-archive (recall,
QC, archive) that signs again, the first one also issues the hospital CA and the reviewer's
certificate.

    .venv/bin/python bench/archive_signature.py [--pages 100] [--documents 25] [--repeat 5]
        [--algorithm sm2|rsa|ecdsa] [--verify-repeat 50] [--signed-copy]

Verification is timed ``--verify-repeat`` more times on the last signature (p50 and p95);
``--signed-copy`` makes and verifies the signed archive copy (one PDF signed through the port) too.

Targets: signing and timestamping ≤ 3 s in a worker; validation ≤ 200 ms. Not part of the tests.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the TSA peer

LINES = ["主诉：反复胸闷气促5年，加重3天。", "现病史：患者5年前活动后出现胸闷、气促，休息后缓解。",
         "体格检查：T 36.8℃ P 80次/分 R 20次/分 BP 130/80mmHg。", "初步诊断：冠状动脉粥样硬化性心脏病；2型糖尿病。"] * 8


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


def build_record(pages: int, documents: int) -> tuple[int, int, list[str]]:
    """A record in 质控中 of ``pages`` pages in ``documents`` PDFs; its id, the reviewer's, the blobs."""
    from bingan.access.accounts import create_user
    from bingan.config import get_settings
    from bingan.storage.blobs.port import Placement, open_blob_store
    from bingan.storage.db import get_engine, session_factory
    from bingan.storage.models import Document, DocumentType, Patient, Record, Version, utcnow

    store = open_blob_store(get_settings())
    shas = []
    with session_factory(get_engine(get_settings())).begin() as session:
        reviewer = create_user(session, "bench_qc", "Xk7#mPq2$wLz9", ["qc"], full_name="质控医师")
        reviewer.staff_number = "Q001"
        doc_type = session.query(DocumentType).filter_by(code="C0201").one()
        record = Record(patient=Patient(record_number="G000001", name="签章测试", sex="M"), record_number="G000001",
                        stay_number=1, status="qc")
        session.add(record)
        for n in range(documents):
            data = _pdf(f"病程记录{n}", pages // documents)
            info = store.put(io.BytesIO(data), Placement("main", "G000001", 1, utcnow().date(), f"{n}.pdf"))
            shas.append(info.sha256)
            document = Document(record=record, document_type=doc_type, title=f"病程记录{n}", source_document_id=str(n))
            version = Version(document=document, sha256=info.sha256, size=len(data), media_type="application/pdf",
                              page_count=pages // documents, filename=f"{n}.pdf")
            session.add(version)
            session.flush()
            document.current_version = version
        session.flush()
        return record.id, reviewer.id, shas


def archive_and_sign(record_id: int, reviewer_id: int) -> float:
    """Archive (the life cycle queues the job), then time the job as the worker runs it."""
    import sqlalchemy as sa

    from bingan.access.audit import Actor
    from bingan.config import get_settings
    from bingan.records import jobs, lifecycle
    from bingan.storage.blobs.port import open_blob_store
    from bingan.storage.db import get_engine, session_factory
    from bingan.storage.models import Record, User
    from bingan.storage.models.jobs import Job

    engine = get_engine(get_settings())
    with session_factory(engine).begin() as session:
        record, actor = session.get(Record, record_id), Actor.of(session.get(User, reviewer_id))
        if record.status == "archived":
            for status in ("recalled", "submitted", "qc"):
                lifecycle.move(session, actor, record, status, "基准测试：召回后重新归档")
        lifecycle.move(session, actor, record, "archived", "质控通过")
    with session_factory(engine)() as session:
        job_id = session.scalars(sa.select(Job.id).where(Job.state == "queued")).one()
    started = time.perf_counter()
    assert jobs.run_job(engine, open_blob_store(get_settings()), job_id) == "done"
    return time.perf_counter() - started


def verify_once(record_id: int) -> float:
    from bingan.config import get_settings
    from bingan.records.archive_signature import service
    from bingan.storage.blobs.port import open_blob_store
    from bingan.storage.db import get_engine, session_factory

    with session_factory(get_engine(get_settings()))() as session:
        signature = service.latest(session, record_id)
        started = time.perf_counter()
        verdict = service.verify(session, open_blob_store(get_settings()), signature)
        elapsed = time.perf_counter() - started
    assert verdict.ok, verdict.problems
    return elapsed


def hash_bare(shas: list[str]) -> float:
    """The baseline: read (decrypt) every blob of the record and SHA-256 it, nothing else."""
    from bingan.config import get_settings
    from bingan.storage.blobs.port import open_blob_store

    store = open_blob_store(get_settings())
    started = time.perf_counter()
    for sha in shas:
        with store.open(sha) as stream:
            hashlib.sha256(stream.read()).hexdigest()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--documents", type=int, default=25)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--algorithm", choices=["sm2", "rsa", "ecdsa"], default="sm2")
    parser.add_argument("--verify-repeat", type=int, default=50)
    parser.add_argument("--signed-copy", action="store_true")
    args = parser.parse_args()
    from peers.tsa import TsaPeer

    work = Path(tempfile.mkdtemp(prefix="bench-archive-signature-"))
    with TsaPeer() as tsa:
        (work / "roots.pem").write_bytes(tsa.root_pem)
        os.environ.update({"BINGAN_HOME": str(work / "home"), "BINGAN_TSA_URL": tsa.url,
                           "BINGAN_SIGNING_ALGORITHM": args.algorithm,
                           "BINGAN_SIGNATURE_TRUST_ROOTS": str(work / "roots.pem"),
                           "BINGAN_ARCHIVE_SIGNED_COPY": "true" if args.signed_copy else "false"})
        from bingan import broker
        from bingan.config import get_settings
        from bingan.records.workflows import install
        from bingan.storage.db import get_engine
        from bingan.storage.migrate import upgrade

        broker.celery_app = broker.make_celery()  # kicks land in this throw-away home
        upgrade(get_engine(get_settings()))
        install()
        record_id, reviewer_id, shas = build_record(args.pages, args.documents)
        signed, verified, bare = [], [], []
        for _ in range(args.repeat):
            bare.append(hash_bare(shas))
            signed.append(archive_and_sign(record_id, reviewer_id))
            verified.append(verify_once(record_id))
        verified += [verify_once(record_id) for _ in range(args.verify_repeat)]
    sign_s, verify_s, bare_s = (statistics.median(v) for v in (signed, verified, bare))
    verify_p95 = statistics.quantiles(verified, n=20)[18] if len(verified) >= 2 else verified[0]
    copy = "，含签章归档副本" if args.signed_copy else ""
    print(f"{args.pages} 页 / {args.documents} 份文书，{args.algorithm.upper()}{copy}：")
    print(f"  签章+时间戳（任务内）中位数 {sign_s * 1000:.0f} ms（首次含签发证书 {signed[0] * 1000:.0f} ms）；"
          f"裸读取+哈希 {bare_s * 1000:.0f} ms；比值 {sign_s / bare_s:.1f}×；目标 ≤ 3 s："
          f"{'达到' if max(signed) <= 3 else '未达到'}")
    print(f"  验证 {len(verified)} 次：p50 {verify_s * 1000:.0f} ms，p95 {verify_p95 * 1000:.0f} ms；"
          f"比值 {verify_s / bare_s:.1f}×；目标 ≤ 200 ms：{'达到' if verify_p95 <= 0.2 else '未达到'}")


if __name__ == "__main__":
    main()
