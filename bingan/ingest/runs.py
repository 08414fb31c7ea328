"""One collection run of a source: discover what changed, enqueue it, move the cursor, kick the items."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.ingest.completion import complete_reported
from bingan.ingest.connectors import connector_for
from bingan.ingest.errors import StepFailure
from bingan.ingest.items import Report, enqueue
from bingan.ingest.pipeline import Pipeline
from bingan.ingest.resolve import canonical_record_number
from bingan.ingest.scheduler import kick
from bingan.records.documents import withdraw_document
from bingan.storage.models import CollectionRun, Document, Record, Source, utcnow

log = logging.getLogger(__name__)


def run_source(pipe: Pipeline, source_id: int) -> int:
    """Returns how many new items the run enqueued; a failed run keeps the old cursor."""
    with pipe.tx() as session:
        source = session.get(Source, source_id)
        run = CollectionRun(source_id=source_id, cursor_before=source.cursor, heartbeat_at=utcnow())
        session.add(run)
        session.flush()
        run_id, cursor = run.id, source.cursor
        session.expunge(source)
    try:
        new_ids, seen, cursor_after = _collect(pipe, source, run_id, cursor)
    except (StepFailure, OSError) as exc:
        _finish(pipe, run_id, source_id, "failed", cursor, 0, 0, getattr(exc, "reason", str(exc)))
        log.warning("run of source %s failed: %s", source.name, exc)
        return 0
    _finish(pipe, run_id, source_id, "done", cursor_after, seen, len(new_ids), "")
    kick(new_ids)
    return len(new_ids)


def _collect(pipe: Pipeline, source: Source, run_id: int, cursor: str) -> tuple[list[int], int, str]:
    if source.transport == "folder":
        from bingan.ingest.connectors.folder import poll

        ids = poll(pipe, source, run_id)
        return ids, len(ids), cursor
    if source.transport == "basic_data":
        from bingan.ingest.connectors.basic_data import sync

        return [], sync(pipe, source), cursor
    found = connector_for(source.transport).discover(pipe, source, cursor)
    with pipe.tx() as session:
        ids = enqueue_reports(session, source, found.reports, run_id)
        complete_reported(session, session.merge(source, load=False) if source not in session else source,
                          found.reports)
    return ids, len(found.reports), found.cursor or cursor


def enqueue_reports(session: Session, source: Source, reports: list[Report], run_id: int | None) -> list[int]:
    source = session.merge(source, load=False) if source not in session else source
    new_ids = []
    for report in reports:
        if report.removed:
            new_ids += withdraw(session, source, report, run_id)
            continue
        accept, not_before = plan(session, source, report)
        if not accept:
            continue
        item, created = enqueue(session, source, report, not_before=not_before, run_id=run_id)
        if created:
            new_ids.append(item.id)
    return new_ids


def withdraw(session: Session, source: Source, report: Report, run_id: int | None) -> list[int]:
    """The source withdrew a document: mark it removed (versions kept) and queue its pages' removal.

    No version is made: a removal has no content. The item starts at "extracted" with the
    document id, so the ordinary index step (retries, batching, one writer) drops its pages.
    """
    number = canonical_record_number(session, report.record_number)
    documents = session.scalars(sa.select(Document).join(Record, Record.id == Document.record_id).where(
        Record.record_number == number, Record.stay_number == report.stay, Record.visit_type == report.visit_type,
        Document.source_system == source.name, Document.source_document_id == report.source_document_id,
        Document.removed.is_(False),
    )).all()
    ids = []
    for document in documents:
        withdraw_document(document)
        gone = Report(**{**report.__dict__, "revision": f"removed:{report.revision}"})
        item, created = enqueue(session, source, gone, run_id=run_id)
        if created:
            item.state, item.document_id, item.record_id = "extracted", document.id, document.record_id
            ids.append(item.id)
    return ids


def plan(session: Session, source: Source, report: Report, now: datetime | None = None) -> tuple[bool, datetime | None]:
    """Collection delay and re-collection window, both counted from the stay's discharge.

    Within the delay the item waits (clinicians are still finishing documents); after the
    re-collection window a modification is ignored (the record is closed for collection) — unless
    the record is recalled (召回中): then its corrections are exactly what is wanted.
    """
    now = now or utcnow()
    if not (source.collection_delay_hours or source.recollect_days):
        return True, None
    found = session.execute(sa.select(Record.discharged_at, Record.status).where(
        Record.record_number == canonical_record_number(session, report.record_number),
        Record.stay_number == report.stay, Record.visit_type == report.visit_type,
    )).first()
    discharged = found.discharged_at if found else None
    if discharged is None or found.status == "recalled":
        return True, None
    if discharged.tzinfo is None:
        discharged = discharged.replace(tzinfo=now.tzinfo)
    if source.recollect_days and now > discharged + timedelta(days=source.recollect_days):
        return False, None
    ready = discharged + timedelta(hours=source.collection_delay_hours)
    return True, (ready if ready > now else None)


def _finish(pipe: Pipeline, run_id: int, source_id: int, state: str, cursor: str, seen: int, new: int,
            error: str) -> None:
    now = utcnow()
    with pipe.tx() as session:
        run = session.get(CollectionRun, run_id)
        run.state, run.finished_at, run.cursor_after, run.items_seen, run.items_new, run.error = (
            state, now, cursor, seen, new, error)
        source = session.get(Source, source_id)
        source.last_run_at, source.heartbeat_at, source.last_error = now, now, error
        if state == "done":
            source.cursor = cursor
