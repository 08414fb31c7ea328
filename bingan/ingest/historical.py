"""The historical import job (历史病案批量导入, V9): walks an import's entries in order, each file
through the collection pipeline as a scanned document of its record and category — OCR where the
file has no text layer, encrypted blob, version, search index — like a captured scan.

Crash safety: the pipeline commits a file's version with all its pages in one transaction
("extracted"); the entry is then marked done. The file's collected item is keyed by the record,
the category and the file's SHA-256, so a job killed anywhere finds on its next run the item it
had started (and finishes it) instead of making another: no page lost, none doubled. Items left
extracted but not yet indexed by a killed run are indexed when the job starts again.
"""
from __future__ import annotations

import hashlib
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from bingan.config import get_settings
from bingan.errors import Refusal
from bingan.ingest import staging
from bingan.ingest.items import Report, enqueue, source_named
from bingan.ingest.pipeline import Pipeline, index_claimed, process_item
from bingan.records.digitisation import imports
from bingan.records.jobs import LEASE, JobContext, JobKind
from bingan.storage.models import CollectedItem, Source, Version, utcnow
from bingan.storage.models.imports import ScanImport, ScanImportEntry
from bingan.storage.models.jobs import Job

HISTORY_SOURCE = "historical"
INDEX_EVERY = 50  # entries between index commits: one tantivy commit per file would cost more than OCR
SETTLED = ("extracted", "indexed", "failed")
LEASE_RENEWAL = 60.0  # seconds; the job's lease (records.jobs.LEASE) is ten minutes


@dataclass(frozen=True)
class Outcome:
    item_id: int | None
    state: str


def run(ctx: JobContext) -> None:
    """The job: resume at the first entry not done, stop when paused, index in batches."""
    session, import_id = ctx.session, int(ctx.params["import_id"])
    pipe = Pipeline(engine=session.get_bind(), _blobs=ctx.blobs)
    root = get_settings().resolved_import_root
    _index(pipe, _unindexed(session, import_id))
    total = session.get(ScanImport, import_id).total
    with JobLease(pipe, ctx.job.id):
        waiting = _walk(ctx, pipe, root, import_id, total)
    _index(pipe, waiting)
    ctx.progress(imports.finished_count(session, import_id), total,
                 "导入完成" if imports.next_waiting(session, import_id) is None else "已暂停")


def _walk(ctx: JobContext, pipe: Pipeline, root: Path, import_id: int, total: int) -> list[int]:
    """The entries in order until none waits or the import is paused; the items still to index."""
    session = ctx.session
    waiting: list[int] = []
    while imports.is_running(session, import_id):
        entry = imports.next_waiting(session, import_id)
        if entry is None:
            imports.finish(session.get(ScanImport, import_id))
            break
        outcome = import_entry(pipe, session, root, entry)
        session.commit()
        if outcome.state == "extracted":
            waiting.append(outcome.item_id)
        if len(waiting) >= INDEX_EVERY:
            waiting = _index(pipe, waiting)
        ctx.progress(imports.finished_count(session, import_id), total, f"已处理 {entry.path}")
    session.commit()  # nothing of ours locked while the lease thread stops
    return waiting


class JobLease:
    """Renews the job's lease while one thick file is OCRed (minutes, no progress checkpoint in
    between), so the sweeper does not hand the import to a second worker; dies with the process."""

    def __init__(self, pipe: Pipeline, job_id: int) -> None:
        self.pipe, self.job_id = pipe, job_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="bingan-import-lease")

    def __enter__(self) -> JobLease:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(LEASE_RENEWAL):
            try:
                with self.pipe.engine.begin() as connection:
                    connection.execute(sa.update(Job).where(Job.id == self.job_id, Job.state == "running")
                                       .values(locked_until=utcnow() + LEASE))
            except OperationalError:
                continue  # the next renewal tries again; the lease has minutes left


def import_entry(pipe: Pipeline, session: Session, root: Path, entry: ScanImportEntry) -> Outcome:
    """One file into the pipeline up to its committed version; the entry marked done or not imported."""
    try:
        target = imports.target_of(session, entry)
        path = imports.file_of(root, entry)
        sha = _sha256(path)
    except Refusal as exc:
        imports.mark_problem(entry, str(exc))
        return Outcome(None, "problem")
    except OSError as exc:  # unreadable after all (a bad disk sector, a share gone away)
        imports.mark_problem(entry, f"文件无法读取：{exc.strerror or exc}")
        return Outcome(None, "problem")
    report = Report(source_document_id=f"hist-{target.record.id}-{target.category.code}-{sha}",
                    record_number=target.record.record_number, stay=target.record.stay_number,
                    visit_type=target.record.visit_type, document_type_code=target.document_type_code,
                    revision=sha, title=f"{target.category.name}（历史扫描）", filename=path.name[:255],
                    origin="scanned", metadata={"import_id": entry.import_id, "import_seq": entry.seq})
    item_id, created = _enqueue(pipe, session, path, report)
    duplicate = not created and _imported_before(session, item_id, entry.id)
    session.commit()  # the pipeline's transactions must see the item; SQLite's lock and the job's row free
    state = _settle(pipe, item_id)
    session.expire_all()
    if state == "failed":
        imports.mark_problem(entry, session.get(CollectedItem, item_id).failure_reason or "文件无法导入")
        return Outcome(item_id, state)
    if state not in SETTLED:
        imports.mark_problem(entry, "处理超时，请稍后重新导入该文件")
        return Outcome(item_id, state)
    imports.mark_done(entry, target.record.id, sha, item_id, 0 if duplicate else _pages(session, item_id),
                      duplicate=duplicate)
    return Outcome(item_id, state)


def _enqueue(pipe: Pipeline, session: Session, path: Path, report: Report) -> tuple[int, bool]:
    """The file's item, staged (sealed); the item found when this file was queued before."""
    source = historical_source(session)
    existing = session.scalar(sa.select(CollectedItem.id).where(
        CollectedItem.source_id == source.id, CollectedItem.source_document_id == report.source_document_id,
        CollectedItem.revision == report.revision))
    if existing is not None:
        return existing, False
    staged = pipe.staging / f"hist-{uuid.uuid4().hex}"
    with path.open("rb") as stream:
        staging.seal(stream, staged, pipe.settings)
    item, created = enqueue(session, source, report, staged_path=str(staged))
    if not created:
        staged.unlink(missing_ok=True)
    return item.id, created


def _imported_before(session: Session, item_id: int, entry_id: int) -> bool:
    """Another entry (of this import or an earlier one) already brought this file to this record."""
    return session.scalar(sa.select(sa.func.count()).select_from(ScanImportEntry).where(
        ScanImportEntry.item_id == item_id, ScanImportEntry.id != entry_id,
        ScanImportEntry.state.in_(("done", "duplicate")))) > 0


def _settle(pipe: Pipeline, item_id: int) -> str:
    """Walk the item to "extracted" (or failed); waits out a lease a killed run left on it and
    transient failures, for at most two leases."""
    deadline = time.monotonic() + 2 * pipe.options.lease_seconds + pipe.options.retry_base_seconds + 5
    state = _state(pipe, item_id)
    while state not in SETTLED and time.monotonic() < deadline:
        state = process_item(pipe, item_id, index=False)
        if state not in SETTLED:
            time.sleep(0.2 if state == "busy" else min(pipe.options.retry_base_seconds, 2.0))
            state = _state(pipe, item_id)
    return state


def _state(pipe: Pipeline, item_id: int) -> str:
    with pipe.tx() as session:
        return session.scalar(sa.select(CollectedItem.state).where(CollectedItem.id == item_id)) or "failed"


def _pages(session: Session, item_id: int) -> int:
    version_id = session.scalar(sa.select(CollectedItem.version_id).where(CollectedItem.id == item_id))
    return session.scalar(sa.select(Version.page_count).where(Version.id == version_id)) or 0


def _unindexed(session: Session, import_id: int) -> list[int]:
    """Items of entries a killed run marked done but did not index."""
    return list(session.scalars(sa.select(CollectedItem.id).join(
        ScanImportEntry, ScanImportEntry.item_id == CollectedItem.id).where(
        ScanImportEntry.import_id == import_id, CollectedItem.state == "extracted")))


def _index(pipe: Pipeline, item_ids: list[int]) -> list[int]:
    """Index the batch in one commit; the empty batch to collect the next."""
    if item_ids:
        index_claimed(pipe, item_ids)
        pipe.close()  # the writer's lock and memory go back between batches
    return []


def historical_source(session: Session) -> Source:
    """The built-in source of historical scans (历史扫描件导入)."""
    source = source_named(session, HISTORY_SOURCE)
    if source is not None:
        return source
    source = Source(name=HISTORY_SOURCE, title="历史扫描件导入", kind="manual", transport="manual", enabled=True)
    try:
        with session.begin_nested():
            session.add(source)
            session.flush()
    except IntegrityError:  # two imports starting together
        return source_named(session, HISTORY_SOURCE)  # type: ignore[return-value]
    return source


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


HISTORICAL_IMPORT = JobKind(imports.JOB_KIND, "历史病案批量导入", run, permission="scan.import")
