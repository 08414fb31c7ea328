"""What the record page shows: documents by category in filing order, versions."""
from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from bingan.access.policy import Subject, decide_for
from bingan.storage.models import Category, Document, DocumentType, Record, Version


@dataclass
class CategoryGroup:
    category: Category
    documents: list[Document] = field(default_factory=list)
    hidden_by_default: bool = False


def documents_by_category(
    session: Session, subject: Subject, record: Record, hidden_categories: list[str]
) -> list[CategoryGroup]:
    """Only documents the gate lets this user view (category templates), in archive order."""
    documents = session.scalars(
        sa.select(Document).where(Document.record_id == record.id, Document.removed.is_(False))
        .options(selectinload(Document.document_type).selectinload(DocumentType.category),
                 selectinload(Document.versions), selectinload(Document.current_version))
    ).all()
    groups: dict[int, CategoryGroup] = {}
    for document in documents:
        if not decide_for(subject, "view", record, document=document):
            continue
        category = document.document_type.category
        hidden = category.code in hidden_categories
        group = groups.setdefault(category.id, CategoryGroup(category, hidden_by_default=hidden))
        group.documents.append(document)
    ordered = sorted(groups.values(), key=lambda g: (g.category.filing_order, g.category.id))
    for group in ordered:
        group.documents.sort(key=lambda d: (d.document_type.filing_order, d.written_at or d.created_at, d.id))
    return ordered


def version_of(session: Session, document: Document, version_id: int | None) -> Version | None:
    if version_id is None:
        return session.get(Version, document.current_version_id) if document.current_version_id else None
    version = session.get(Version, version_id)
    return version if version is not None and version.document_id == document.id else None
