"""Recall (召回): recalls for correction, pinned pre-recall versions, re-collection requests, and
the notices the source systems' integration reads."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bingan.storage.models.approvals import ApprovalRequest
from bingan.storage.models.base import Base, utcnow
from bingan.storage.models.documents import Document, Version
from bingan.storage.models.organisation import User
from bingan.storage.models.records import Record

# recalled 召回中 (back with the doctors) · resubmitted 已重新提交 (back to QC)
RECALL_STATES = ("recalled", "resubmitted")


class Recall(Base):
    """An approved recall of an archived record (召回返修): made in the transaction of the last
    approval, closed when the record is resubmitted. ``document_ids`` empty: the whole record."""

    __tablename__ = "recalls"
    __table_args__ = (Index("ix_recalls_record", "record_id", "state"),
                      Index("ix_recalls_state_deadline", "state", "deadline"))
    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"))
    request_id: Mapped[int] = mapped_column(ForeignKey("approval_requests.id", ondelete="CASCADE"), unique=True)
    applicant_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text, default="")
    document_ids: Mapped[list] = mapped_column(default=list)
    deadline_days: Mapped[int] = mapped_column(default=7)
    state: Mapped[str] = mapped_column(String(16), default="recalled")
    recalled_at: Mapped[datetime] = mapped_column(default=utcnow)
    deadline: Mapped[datetime]  # resubmit by then (end of the hospital's local day)
    reminded_at: Mapped[datetime | None]  # the reminder before the deadline was sent
    overdue_at: Mapped[datetime | None]  # marked 已逾期 when the deadline passed unresubmitted
    resubmitted_at: Mapped[datetime | None]
    record: Mapped[Record] = relationship()
    request: Mapped[ApprovalRequest] = relationship()
    applicant: Mapped[User] = relationship()


class RecallBackup(Base):
    """召回前版本: the version of a document that was current when the record was recalled."""

    __tablename__ = "recall_backups"
    __table_args__ = (UniqueConstraint("recall_id", "document_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    recall_id: Mapped[int] = mapped_column(ForeignKey("recalls.id", ondelete="CASCADE"), index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"))
    document: Mapped[Document] = relationship()
    version: Mapped[Version] = relationship()


class RecollectionRequest(Base):
    """Re-collect a record's sources every ``every_minutes`` until closed: written by recall,
    read by the ingest tick (bingan/ingest/recollect.py), so records never imports ingest."""

    __tablename__ = "recollection_requests"
    __table_args__ = (Index("ix_recollection_requests_due", "closed_at", "next_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"), index=True)
    recall_id: Mapped[int | None] = mapped_column(ForeignKey("recalls.id", ondelete="CASCADE"))
    every_minutes: Mapped[int] = mapped_column(default=30)
    next_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_at: Mapped[datetime | None]
    runs: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]


class SourceNotice(Base):
    """What a source system's integration is told about a record (召回, 重新提交): read by the
    integration API or a webhook adapter; ``delivered_at`` is set once it was handed over."""

    __tablename__ = "source_notices"
    __table_args__ = (Index("ix_source_notices_source", "source_name", "delivered_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    source_name: Mapped[str] = mapped_column(String(64))  # Source.name = Document.source_system
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(String(32))  # recalled | resubmitted | overdue
    payload: Mapped[dict] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]
