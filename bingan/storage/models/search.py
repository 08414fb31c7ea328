"""The search index's access outbox: records whose access facts changed since their pages were indexed.

Every page in the index carries its record's access facts (department, campus, confidentiality,
tags, sealed; bingan/search/port.py ``RecordAccess``). Whoever changes one of them — a tag added
on the record page, the basic-data sync moving a stay to another department, a seal, an admin
renaming a tag or a department code — does it through the ORM, and the flush hook below writes
an outbox row in the same transaction. Nothing can forget it: the hook sees every flush.

Until the worker has rewritten the record's access terms (bingan/ingest/access_refresh.py), the
search scope leaves out the outbox records the gate now refuses (access.policy.scope_for).
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Mapped, Session, mapped_column

from bingan.storage.models.base import Base, utcnow
from bingan.storage.models.documents import Document
from bingan.storage.models.organisation import Campus, Department
from bingan.storage.models.records import Record, Tag, record_tags

# Record attributes the index copies onto every page as access terms.
RECORD_ACCESS_ATTRIBUTES = (
    "confidentiality", "sealed", "campus_id", "campus", "discharge_department_id", "discharge_department",
    "admission_department_id", "admission_department", "tags",
)
# Names the index stores instead of ids: renaming one changes the terms of every record using it.
NAME_ATTRIBUTES = {Tag: ("name",), Department: ("code", "name"), Campus: ("code",)}


class IndexAccessOutbox(Base):
    """One access change of one record not yet applied to the index (drained by the worker tick)."""

    __tablename__ = "index_access_outbox"
    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(index=True)  # no foreign key: a deleted record is dropped from the index
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)


def queue_access_refresh(session: Session, record_ids: set[int]) -> None:
    """For a writer that bypasses the ORM (a bulk UPDATE): queue its records explicitly."""
    session.add_all(IndexAccessOutbox(record_id=record_id) for record_id in sorted(record_ids))


def _changed(instance: object, attributes: tuple[str, ...]) -> bool:
    state = sa.inspect(instance)
    return any(state.attrs[name].history.has_changes() for name in attributes)


def _records_using(session: Session, instance: object) -> set[int]:
    if isinstance(instance, Tag):
        query = sa.select(record_tags.c.record_id).where(record_tags.c.tag_id == instance.id)
    elif isinstance(instance, Department):
        query = sa.select(Record.id).where(sa.or_(
            Record.discharge_department_id == instance.id, Record.admission_department_id == instance.id))
    else:
        query = sa.select(Record.id).where(Record.campus_id == instance.id)
    return set(session.execute(query).scalars())


@event.listens_for(Session, "before_flush")
def _queue_access_changes(session: Session, _context: object, _instances: object) -> None:
    record_ids = {
        record.id for record in session.dirty
        if isinstance(record, Record) and record.id is not None and _changed(record, RECORD_ACCESS_ATTRIBUTES)
    }
    # a re-typed document moves its pages to another category (category templates filter by it)
    record_ids |= {
        document.record_id for document in session.dirty
        if isinstance(document, Document) and document.record_id is not None
        and _changed(document, ("document_type_id", "document_type"))
    }
    for instance in [*session.dirty, *session.deleted]:
        attributes = NAME_ATTRIBUTES.get(type(instance))
        if attributes and instance.id is not None and (instance in session.deleted or _changed(instance, attributes)):
            record_ids |= _records_using(session, instance)
    if record_ids:
        queue_access_refresh(session, record_ids)


class SynonymGroup(Base):
    """One group of the medical synonym and abbreviation dictionary (检索词典): spellings of one
    concept (心衰、心力衰竭、心功能不全) that the switch "同义词扩展" searches together
    (bingan/search/synonyms.py). Seeded with ``synonyms.DEFAULT_GROUPS``, edited on /admin/synonyms."""

    __tablename__ = "synonym_groups"
    id: Mapped[int] = mapped_column(primary_key=True)
    terms: Mapped[list] = mapped_column(default=list)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
