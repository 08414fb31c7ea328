"""Pending changes (待审核变更): content collected for a record whose content is frozen.

An archived (or sealed, or legally held) record keeps its documents as they were archived. A new
version collected for it is stored — blob, pages, a row in ``versions`` — but does not become the
document's current version; this row holds it for review (bingan/records/lifecycle.py).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bingan.storage.models.base import Base, utcnow
from bingan.storage.models.documents import Document, Version

PENDING_STATES = ("pending", "accepted", "rejected")


class PendingChange(Base):
    """One collected version waiting for the record room to accept or reject it."""

    __tablename__ = "pending_changes"
    __table_args__ = (Index("ix_pending_changes_record_state", "record_id", "state"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"))
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id", ondelete="CASCADE"), unique=True)
    new_document: Mapped[bool] = mapped_column(default=False)  # the document itself arrived after archiving
    state: Mapped[str] = mapped_column(String(16), default="pending")
    collected_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(String(255), default="")
    document: Mapped[Document] = relationship()
    version: Mapped[Version] = relationship()
