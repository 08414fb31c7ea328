"""Backup and restore benchmark (issue 19): a full backup, an incremental one after 1 % new
documents, and a restore onto an empty machine (keys, volumes, database, then the index rebuild),
against a plain recursive copy of the same volumes in the same run.

    .venv/bin/python bench/backup.py [--documents 10000] [--kib 120]

Builds a throw-away HOME on SQLite with ``--documents`` documents of one page each (an encrypted
blob of ``--kib`` KiB through the real blob store, and the page text that reindexing reads) in
100-document records. Not part of the test suite.
"""
from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TEXT = "入院记录 主诉：咳嗽、咳痰伴发热3天。现病史：患者3天前受凉后出现咳嗽，咳黄痰。初步诊断：社区获得性肺炎。"


def build(documents: int, kib: int, start: int = 0) -> None:
    from bingan.config import get_settings
    from bingan.storage.blobs.port import Placement, open_blob_store
    from bingan.storage.db import get_engine, session_factory
    from bingan.storage.models import Document, DocumentType, Page, Patient, Record, Version, utcnow

    settings = get_settings()
    store = open_blob_store(settings)
    with session_factory(get_engine(settings)).begin() as session:
        document_type = session.query(DocumentType).filter_by(code="C0201").one()
        record = None
        for n in range(start, start + documents):
            if record is None or n % 100 == 0:
                number = f"B{n // 100:06d}"
                patient = Patient(record_number=number, name=f"患者{n // 100}", sex="M")
                record = Record(patient=patient, record_number=number, stay_number=1, status="archived")
                session.add(record)
            body = os.urandom(kib * 1024)  # incompressible, like scanned images
            info = store.put(io.BytesIO(body), Placement("main", record.record_number, 1, utcnow().date(), f"{n}.pdf"))
            document = Document(record=record, document_type=document_type, title="入院记录", source_document_id=str(n))
            version = Version(document=document, sha256=info.sha256, size=len(body), media_type="application/pdf",
                              page_count=1, filename=f"{n}.pdf")
            version.pages.append(Page(number=1, text=f"{TEXT} 编号{n}", text_hash=str(n)))
            session.add_all([document, version])
            session.flush()
            document.current_version_id = version.id


def timed(label: str, action) -> float:
    started = time.perf_counter()
    result = action()
    seconds = time.perf_counter() - started
    print(f"{label:<38} {seconds:8.2f} s   {result if result is not None else ''}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--kib", type=int, default=120)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bingan-backup-bench-"))
    os.environ.update(BINGAN_HOME=str(work / "home"), BINGAN_BACKUP_PASSPHRASE="bench-passphrase-2026")
    from bingan.config import get_settings, reset_settings
    from bingan.ingest.reindex import reindex
    from bingan.storage.backup import backup, restore
    from bingan.storage.db import get_engine
    from bingan.storage.migrate import upgrade

    reset_settings()
    settings = get_settings()
    upgrade(get_engine(settings))
    print(f"{args.documents} documents of {args.kib} KiB; load average {os.getloadavg()[0]:.1f}")
    timed("build (not measured)", lambda: build(args.documents, args.kib))
    volumes = settings.resolved_home / "volumes"
    copy = timed("baseline: plain copy of the volumes", lambda: shutil.copytree(volumes, work / "plain") and None)
    full = timed("full backup", lambda: backup(settings, work / "nas", "bench-passphrase-2026").copied_files)
    build(args.documents // 100, args.kib, start=args.documents)
    incremental = timed("incremental backup (1 % new)",
                        lambda: backup(settings, work / "nas", "bench-passphrase-2026").copied_files)
    get_engine(settings).dispose()
    os.environ.update(BINGAN_HOME=str(work / "restored"))
    reset_settings()
    restored = get_settings()
    restore_seconds = timed("restore (keys, volumes, database)",
                            lambda: restore(restored, work / "nas", "bench-passphrase-2026"))
    reindex_seconds = timed("index rebuild after restore",
                            lambda: (upgrade(get_engine(restored)), reindex(restored, fresh=True))[1])
    print(f"full backup / plain copy: {full / copy:.2f}×   incremental / full: {incremental / full:.1%}   "
          f"restore + rebuild: {restore_seconds + reindex_seconds:.1f} s; load average {os.getloadavg()[0]:.1f}")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
