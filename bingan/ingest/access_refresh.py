"""Bringing the index's access terms up to date after a record's access facts changed.

Writers never call this: the flush hook of bingan/storage/models/search.py queues every change
in ``index_access_outbox`` in the writer's own transaction, and the worker tick drains it here
(it owns the index writer). Meanwhile the search scope withholds the queued records the gate
refuses, so a user never finds a record through access terms older than the change.
"""
from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from bingan.ingest.indexing import page_docs_for_versions
from bingan.search.port import PageDoc, RecordAccess, SearchIndex
from bingan.storage.models import Document, IndexAccessOutbox, Record

log = logging.getLogger(__name__)
BATCH = 200  # records per index commit


def record_access(record: Record) -> RecordAccess:
    """The facts as bingan/ingest/indexing.py puts them on each page."""
    department = record.discharge_department or record.admission_department
    return RecordAccess(
        record_id=record.id, department=department.code if department else "",
        department_name=department.name if department else "", campus=record.campus.code if record.campus else "",
        confidentiality=record.confidentiality, tags=[tag.name for tag in record.tags], sealed=record.sealed,
    )


def current_pages(session: Session, record_id: int) -> list[PageDoc]:
    """The record's pages as the pipeline indexes them: current versions of documents not removed."""
    versions = session.scalars(sa.select(Document.current_version_id).where(
        Document.record_id == record_id, Document.removed.is_(False), Document.current_version_id.is_not(None)))
    return page_docs_for_versions(session, versions.all())


def pending_record_ids(session: Session) -> set[int]:
    return set(session.scalars(sa.select(IndexAccessOutbox.record_id).distinct()))


def drain_access_outbox(session: Session, index: SearchIndex, batch: int = BATCH) -> int:
    """Apply up to ``batch`` queued records to the index, commit it, then forget exactly the rows
    read (a change queued meanwhile stays for the next tick). Returns the records updated."""
    queued = session.execute(
        sa.select(IndexAccessOutbox.record_id, sa.func.max(IndexAccessOutbox.id))
        .group_by(IndexAccessOutbox.record_id).order_by(sa.func.min(IndexAccessOutbox.id)).limit(batch)
    ).all()
    if not queued:
        return 0
    records = _records(session, [record_id for record_id, _ in queued])
    try:
        for record_id, _ in queued:
            _apply(session, index, record_id, records.get(record_id))
        index.commit()
    except Exception:
        index.close()  # drops the uncommitted writes; the rows stay queued for the next tick
        raise
    for record_id, last in queued:
        session.execute(sa.delete(IndexAccessOutbox).where(
            IndexAccessOutbox.record_id == record_id, IndexAccessOutbox.id <= last))
    log.info("search index: access terms of %d records updated", len(queued))
    return len(queued)


def _records(session: Session, record_ids: list[int]) -> dict[int, Record]:
    rows = session.scalars(sa.select(Record).where(Record.id.in_(record_ids)).options(
        selectinload(Record.tags), selectinload(Record.campus), selectinload(Record.discharge_department),
        selectinload(Record.admission_department)))
    return {record.id: record for record in rows}


def _apply(session: Session, index: SearchIndex, record_id: int, record: Record | None) -> None:
    if record is None:
        index.delete_record(record_id)
        return
    index.update_access(record_access(record), lambda: current_pages(session, record_id))
