"""Backup and restore benchmark (issue 19): a full backup, an incremental one after 1 % new
documents, and a restore onto an empty machine (keys, volumes, database, then the index rebuild),
against a plain recursive copy of the same volumes in the same run.

    .venv/bin/python bench/backup.py [--documents 10000] [--kib 120] [--home DIR] [--repeats 3]
                                     [--no-restore]

Builds a HOME on SQLite with ``--documents`` documents of one page each (an encrypted blob of
``--kib`` KiB through the real blob store, and the page text that reindexing reads) in
100-document records. Without ``--home`` the HOME is thrown away; with ``--home DIR`` it is kept
in DIR/home (a marker DIR/bench-backup.json beside it, not inside: every file at the top of HOME
is key material to a backup) and reused by the next run with the same ``--documents``/``--kib``,
so the 20-minute build is paid once. ``--repeats 0`` only builds.

Each repeat: the plain copy (baseline), a full backup into an empty target, 1 % new documents
through the real blob store and database (so the kept HOME grows by 1 % a repeat), and an
incremental backup into the same target, then one more backup with nothing new (what a run costs
whatever it copies: the walk, the database copy, scrypt, state and manifest, the sync). The
restore and index rebuild run once, after the last repeat, unless ``--no-restore``.
``--fixed N`` (with ``--home``) instead runs only N backups with nothing new into the target the
last run left in DIR/nas: the per-run cost alone, cheap to repeat (and to compare two versions of
the code on the same HOME and target). Not part of the test suite.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PASSPHRASE = "bench-passphrase-2026"
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
    print(f"{label:<38} {seconds:8.2f} s   {result if result is not None else ''}", flush=True)
    return seconds


def prepared_home(args: argparse.Namespace) -> tuple[Path, dict]:
    """(work folder, marker), building the HOME unless ``--home`` already holds the same build."""
    work = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="bingan-backup-bench-"))
    marker = work / "bench-backup.json"
    os.environ.update(BINGAN_HOME=str(work / "home"), BINGAN_BACKUP_PASSPHRASE=PASSPHRASE)
    from bingan.config import get_settings, reset_settings
    from bingan.storage.db import get_engine
    from bingan.storage.migrate import upgrade

    reset_settings()
    if marker.exists():
        kept = json.loads(marker.read_text())
        if (kept["documents"], kept["kib"]) != (args.documents, args.kib):
            raise SystemExit(f"{work} holds {kept['documents']} documents of {kept['kib']} KiB: use another --home")
        print(f"reusing {work / 'home'}: {kept['built']} documents (built in {kept['build_s']:.0f} s)")
        return work, kept
    if (work / "home").exists():
        raise SystemExit(f"{work / 'home'} exists without its marker (an interrupted build?): remove it")
    work.mkdir(parents=True, exist_ok=True)
    upgrade(get_engine(get_settings()))
    build_s = timed("build (not measured)", lambda: build(args.documents, args.kib))
    kept = {"documents": args.documents, "kib": args.kib, "built": args.documents, "build_s": build_s}
    marker.write_text(json.dumps(kept))
    return work, kept


def repeat(work: Path, kept: dict, args: argparse.Namespace) -> dict[str, float]:
    """One plain copy, full backup into an empty target, 1 % new documents, incremental backup."""
    from bingan.config import get_settings
    from bingan.storage.backup import backup

    settings = get_settings()
    for folder in ("plain", "nas"):
        shutil.rmtree(work / folder, ignore_errors=True)
    volumes = settings.resolved_home / "volumes"
    copy = timed("baseline: plain copy of the volumes", lambda: shutil.copytree(volumes, work / "plain") and None)
    shutil.rmtree(work / "plain")
    full = timed("full backup", lambda: backup(settings, work / "nas", PASSPHRASE).copied_files)
    new = max(1, args.documents // 100)
    start = -(-kept["built"] // 100) * 100  # new records of their own: numbers are per 100 documents
    build(new, args.kib, start=start)
    kept["built"] = start + new
    (work / "bench-backup.json").write_text(json.dumps(kept))
    incremental = timed(f"incremental backup ({new} new documents)",
                        lambda: backup(settings, work / "nas", PASSPHRASE).copied_files)
    unchanged = timed("backup with nothing new (fixed cost)",
                      lambda: backup(settings, work / "nas", PASSPHRASE).copied_files)
    print(f"  full / plain copy {full / copy:.2f}×   incremental / full {incremental / full:.1%}   "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    return {"copy": copy, "full": full, "incremental": incremental, "unchanged": unchanged}


def fixed_only(work: Path, times: int) -> None:
    """Backups with nothing new into the target of the last run: what every run costs."""
    from bingan.config import get_settings
    from bingan.storage.backup import backup

    if not (work / "nas").is_dir():
        raise SystemExit(f"{work / 'nas'} missing: run a repeat first")
    settings = get_settings()
    seconds = [timed("backup with nothing new (fixed cost)",
                     lambda: backup(settings, work / "nas", PASSPHRASE, keep=1).copied_files) for _ in range(times)]
    print(f"median {statistics.median(seconds):.2f} s of {times}; load average {os.getloadavg()[0]:.1f}")


def restore_once(work: Path) -> None:
    """Restore the last target onto an empty HOME, then rebuild the index; the empty HOME is removed."""
    from bingan.config import get_settings, reset_settings
    from bingan.ingest.reindex import reindex
    from bingan.storage.backup import restore
    from bingan.storage.db import get_engine
    from bingan.storage.migrate import upgrade

    get_engine(get_settings()).dispose()
    shutil.rmtree(work / "restored", ignore_errors=True)
    os.environ.update(BINGAN_HOME=str(work / "restored"))
    reset_settings()
    restored = get_settings()
    restore_seconds = timed("restore (keys, volumes, database)", lambda: restore(restored, work / "nas", PASSPHRASE))
    reindex_seconds = timed("index rebuild after restore",
                            lambda: (upgrade(get_engine(restored)), reindex(restored, fresh=True))[1])
    get_engine(restored).dispose()
    shutil.rmtree(work / "restored")
    print(f"restore + rebuild: {restore_seconds + reindex_seconds:.1f} s; load average {os.getloadavg()[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--kib", type=int, default=120)
    parser.add_argument("--home", default="", help="keep the built HOME here (DIR/home) and reuse it")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--no-restore", action="store_true", help="skip the restore and index rebuild")
    parser.add_argument("--fixed", type=int, default=0, help="only this many backups with nothing new")
    args = parser.parse_args()
    print(f"{args.documents} documents of {args.kib} KiB; load average {os.getloadavg()[0]:.1f}", flush=True)
    work, kept = prepared_home(args)
    if args.fixed:
        fixed_only(work, args.fixed)
        return
    runs = [repeat(work, kept, args) for _ in range(args.repeats)]
    if runs:
        median = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        print(f"medians of {len(runs)}: plain copy {median['copy']:.2f} s, full {median['full']:.2f} s, "
              f"incremental {median['incremental']:.2f} s, nothing new {median['unchanged']:.2f} s; "
              "per-repeat incremental / full: "
              + ", ".join(f"{run['incremental'] / run['full']:.1%}" for run in runs)
              + f"; median ratio {statistics.median(r['incremental'] / r['full'] for r in runs):.1%}")
    if runs and not args.no_restore:
        restore_once(work)
    if not args.home:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
