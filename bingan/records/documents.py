"""Documents and their versions: one version per distinct content, with per-page change lists (H4).

A source document is identified by (record, source system, source document id). Content is
identified by the SHA-256 of its bytes: content a document already had never makes another
version (late or repeated deliveries of an old revision must not become current again).
"""
from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.records.changes import hold_for_review
from bingan.records.lifecycle import content_frozen
from bingan.storage.models import Document, DocumentType, Page, Record, Version, utcnow


@dataclass(frozen=True)
class PageFacts:
    """What the pipeline learned about one page of new content."""

    number: int
    text: str
    text_hash: str
    image_hash: str = ""
    text_source: str = "text"


@dataclass
class NewContent:
    sha256: str
    size: int
    media_type: str
    filename: str
    pages: list[PageFacts]
    signatures: list[dict] = field(default_factory=list)
    collected_at: datetime | None = None


@dataclass(frozen=True)
class DocumentSource:
    """Who says what this document is."""

    source_system: str
    source_document_id: str
    document_type: DocumentType
    title: str = ""
    author: str = ""
    signed_at: datetime | None = None
    origin: str = "collected"


@dataclass(frozen=True)
class VersionOutcome:
    document: Document
    version: Version
    created: bool  # False: the content was already a version of this document


def find_document(session: Session, record: Record, source_system: str, source_document_id: str) -> Document | None:
    return session.scalars(
        sa.select(Document).where(
            Document.record_id == record.id,
            Document.source_system == source_system,
            Document.source_document_id == source_document_id,
        )
    ).one_or_none()


def add_version(session: Session, record: Record, source: DocumentSource, content: NewContent) -> VersionOutcome:
    """Record new content of a source document; idempotent on the content hash.

    Two writers racing on the same document hit the unique constraints (document, version
    number) and one of them rolls back: the caller's retry then finds the version.

    One flush writes document, version and the current-version pointer; the pages go in as one
    Core INSERT of many rows. Per-page ORM objects and autoflushes before every lookup cost
    ~16 ms a document in an ingest worker (bench/README.md, Ingest).
    """
    with session.no_autoflush:  # nothing pending here belongs in these lookups
        document = find_document(session, record, source.source_system, source.source_document_id)
        known = None if document is None else session.scalars(
            sa.select(Version).where(Version.document_id == document.id, Version.sha256 == content.sha256)
        ).first()
        if known is not None:
            return VersionOutcome(document, known, created=False)  # type: ignore[arg-type]
        previous = None if document is None else document.current_version
        number = 1 if document is None else _next_number(session, document)
        old_pages = _page_keys(session, previous) if previous is not None else []
    if content_frozen(record):
        return _held_version(session, record, document, source, content, number, old_pages)
    if document is None:
        document = _new_document(session, record, source)
    else:
        _refresh_document(document, source)
    version = _new_version(document, source, content, number, page_changes(old_pages, content.pages),
                           updated=previous is not None)
    session.add(version)
    document.current_version = version
    document.removed = False
    session.flush()
    _insert_pages(session, version.id, content.pages)
    return VersionOutcome(document, version, created=True)


def _held_version(session: Session, record: Record, document: Document | None, source: DocumentSource,
                  content: NewContent, number: int, old_pages: list[sa.Row]) -> VersionOutcome:
    """Content for a frozen record (archived, sealed, held): stored, but the record shows what
    was archived until the change is accepted (bingan/records/changes.py). A document new to
    the record stays hidden (removed) with the held version as its only one."""
    new_document = document is None
    if new_document:
        document = _new_document(session, record, source)
        document.removed = True
    version = _new_version(document, source, content, number, page_changes(old_pages, content.pages),
                           updated=not new_document)
    session.add(version)
    if new_document:
        document.current_version = version
    session.flush()
    _insert_pages(session, version.id, content.pages)
    hold_for_review(session, document, version, new_document=new_document)
    return VersionOutcome(document, version, created=True)


def _new_document(session: Session, record: Record, source: DocumentSource) -> Document:
    document = Document(
        record=record, document_type=source.document_type, source_system=source.source_system,
        source_document_id=source.source_document_id, title=source.title or source.document_type.name,
        origin=source.origin, author=source.author, signed_at=source.signed_at,
    )
    session.add(document)
    return document


def _refresh_document(document: Document, source: DocumentSource) -> None:
    """A modified document may have been re-typed, re-titled or re-signed at the source."""
    document.document_type = source.document_type
    document.title = source.title or document.title
    document.author = source.author or document.author
    document.signed_at = source.signed_at or document.signed_at


def _next_number(session: Session, document: Document) -> int:
    return (session.scalar(sa.select(sa.func.max(Version.number)).where(Version.document_id == document.id)) or 0) + 1


def _page_keys(session: Session, version: Version) -> list[sa.Row]:
    """What change detection compares, without loading page texts into ORM objects."""
    return list(session.execute(
        sa.select(Page.number, Page.text_hash, Page.image_hash).where(Page.version_id == version.id)
        .order_by(Page.number)
    ))


def _new_version(document: Document, source: DocumentSource, content: NewContent, number: int,
                 changes: dict[str, list[int]], *, updated: bool) -> Version:
    return Version(
        document=document, number=number, sha256=content.sha256, size=content.size,
        media_type=content.media_type, filename=content.filename, page_count=len(content.pages),
        source_system=source.source_system, source_id=source.source_document_id,
        collected_at=content.collected_at or utcnow(), change_kind="updated" if updated else "added",
        page_changes=changes, signatures=content.signatures,
    )


def _insert_pages(session: Session, version_id: int, pages: list[PageFacts]) -> None:
    if not pages:
        return
    session.execute(sa.insert(Page.__table__), [  # Core: no per-row ORM state
        {"version_id": version_id, "number": p.number, "text": p.text, "text_hash": p.text_hash,
         "image_hash": p.image_hash, "text_source": p.text_source}
        for p in pages
    ])


def page_changes(old: Sequence[Page | PageFacts | sa.Row], new: list[PageFacts]) -> dict[str, list[int]]:
    """Pages added, removed and updated between two versions, by text hash and image hash.

    Pages are aligned as a sequence (difflib), so one page inserted in the middle reports one
    added page, not every later page as updated. Added and updated are numbers in the new
    version, removed are numbers in the old one.
    """
    changes: dict[str, list[int]] = {"added": [], "removed": [], "updated": []}
    if not old:
        changes["added"] = [p.number for p in new]
        return changes
    # Born-digital text pages carry no image hash: compare images only when both sides have them.
    with_images = all(p.image_hash for p in old) and all(p.image_hash for p in new)
    old_keys = [(p.text_hash, p.image_hash if with_images else "") for p in old]
    new_keys = [(p.text_hash, p.image_hash if with_images else "") for p in new]
    matcher = difflib.SequenceMatcher(a=old_keys, b=new_keys, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        paired = min(i2 - i1, j2 - j1) if tag == "replace" else 0
        changes["updated"] += [new[j].number for j in range(j1, j1 + paired)]
        changes["added"] += [new[j].number for j in range(j1 + paired, j2)]
        changes["removed"] += [old[i].number for i in range(i1 + paired, i2)]
    return changes


def withdraw_document(document: Document) -> None:
    """The source withdrew the document: hide it, keep every version (retention).

    A frozen record (archived, sealed, held) keeps the documents it was archived with."""
    if content_frozen(document.record):
        return
    document.removed = True
