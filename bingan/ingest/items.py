"""Creating collected items from what sources report, and finding them again."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bingan.storage.models import CollectedItem, Source, utcnow

MANUAL_SOURCE = "manual"
# How sources say inpatient or outpatient (住院/门诊); anything else means the source's own setting.
VISIT_WORDS = {"inpatient": "inpatient", "住院": "inpatient", "i": "inpatient", "zy": "inpatient",
               "outpatient": "outpatient", "门诊": "outpatient", "o": "outpatient", "mz": "outpatient",
               "急诊": "outpatient", "emergency": "outpatient"}


@dataclass
class Report:
    """One document a source says exists (new or modified)."""

    source_document_id: str
    record_number: str
    stay: int = 1
    document_type_code: str = ""
    revision: str = ""
    title: str = ""
    filename: str = ""
    author: str = ""
    signed_at: datetime | None = None
    visit_type: str = "inpatient"
    origin: str = "collected"
    metadata: dict = field(default_factory=dict)
    removed: bool = False  # the source withdrew the document (no content to fetch)


def visit_type_of(value: object, default: str = "inpatient") -> str:
    """The visit type a source's field says (住院/门诊, inpatient/outpatient…), else ``default``."""
    return VISIT_WORDS.get(str(value or "").strip().lower(), default)


def source_visit_type(source: Source) -> str:
    """The visit type of a source's documents that do not say (its setting; 住院 unless set)."""
    return (source.options or {}).get("visit_type", "inpatient")


def enqueue(session: Session, source: Source, report: Report, *, staged_path: str = "",
            not_before: datetime | None = None, run_id: int | None = None) -> tuple[CollectedItem, bool]:
    """The item for this report; ``False`` when the same report (same revision) was seen before.

    A staged file means the bytes are already ours (push, folder, manual): the item starts
    at "fetched". The caller kicks it; the sweeper re-kicks it a lease later if the kick is lost.
    """
    existing = _existing(session, source.id, report)
    if existing is not None:
        return existing, False
    now = utcnow()
    item = CollectedItem(
        source_id=source.id, run_id=run_id, source_document_id=report.source_document_id,
        revision=report.revision, record_number=report.record_number.strip(), stay=report.stay,
        visit_type=report.visit_type, document_type_code=report.document_type_code, title=report.title,
        filename=report.filename, author=report.author, signed_at=report.signed_at, origin=report.origin,
        item_metadata=report.metadata, staged_path=staged_path, state="fetched" if staged_path else "pending",
        next_attempt_at=not_before, kicked_at=now,
    )
    try:
        with session.begin_nested():
            session.add(item)
            session.flush()
    except IntegrityError:
        found = _existing(session, source.id, report)
        if found is None:
            raise
        return found, False
    return item, True


def _existing(session: Session, source_id: int, report: Report) -> CollectedItem | None:
    return session.scalars(
        sa.select(CollectedItem).where(
            CollectedItem.source_id == source_id,
            CollectedItem.source_document_id == report.source_document_id,
            CollectedItem.revision == report.revision,
        )
    ).one_or_none()


def source_named(session: Session, name: str) -> Source | None:
    return session.scalars(sa.select(Source).where(Source.name == name)).one_or_none()


def manual_source(session: Session) -> Source:
    """The built-in source of files imported by hand (historical scans, V9)."""
    source = source_named(session, MANUAL_SOURCE)
    if source is not None:
        return source
    source = Source(name=MANUAL_SOURCE, title="手工导入", kind="manual", transport="manual", enabled=True)
    try:
        with session.begin_nested():
            session.add(source)
            session.flush()
    except IntegrityError:
        return source_named(session, MANUAL_SOURCE)  # type: ignore[return-value]
    return source
