"""Retention (保存期限与销毁): how long records are kept, and the register of destroyed records
(销毁清册) with the hashes of everything that was destroyed."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bingan.storage.models.base import Base, utcnow
from bingan.storage.models.organisation import User
from bingan.storage.models.records import Record


class RetentionRule(Base):
    """Keep records of a visit type (and optionally a record kind) ``years`` after the patient's
    last stay or visit of that type (inpatient 30, outpatient 15: 2013 regulation art. 29)."""

    __tablename__ = "retention_rules"
    __table_args__ = (UniqueConstraint("visit_type", "record_kind"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    visit_type: Mapped[str] = mapped_column(String(16))
    record_kind: Mapped[str] = mapped_column(String(16), default="")  # "" = every kind
    years: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Destruction(Base):
    """A record whose content was destroyed after an approved request: the tombstone. The record
    row and its document list stay (the register names what was destroyed); page text, page
    images and files are gone. ``documents``: [{document_id, title, type, versions: [{number,
    sha256, size, pages}]}]. ``files_removed_at``: when the encrypted files left the volumes."""

    __tablename__ = "destructions"
    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id"), unique=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("approval_requests.id"))
    last_visit_on: Mapped[date]
    due_on: Mapped[date]
    reason: Mapped[str] = mapped_column(Text, default="")
    documents: Mapped[list] = mapped_column(default=list)
    destroyed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    destroyed_at: Mapped[datetime] = mapped_column(default=utcnow)
    files_removed_at: Mapped[datetime | None] = mapped_column()
    record: Mapped[Record] = relationship()
    destroyed_by: Mapped[User | None] = relationship()
