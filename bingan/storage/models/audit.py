"""Audit events (审计日志), chained by a keyed hash so that any edit, insertion or deletion is detectable."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from bingan.storage.models.base import Base, utcnow


class AuditEvent(Base):
    """Who did what to which record, document or page, when, from where, and the result."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_at", "at"),
        Index("ix_audit_events_record", "record_id"),
        Index("ix_audit_events_user", "user_id", "at"),
        Index("ix_audit_events_chain_seq", "chain_seq", unique=True),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    user_id: Mapped[int | None]
    username: Mapped[str] = mapped_column(String(64), default="")
    action: Mapped[str] = mapped_column(String(32))  # login, view, download, print, export, change…
    object_type: Mapped[str] = mapped_column(String(32), default="")
    object_id: Mapped[str] = mapped_column(String(64), default="")
    record_id: Mapped[int | None]
    document_id: Mapped[int | None]
    page: Mapped[int | None]
    client_ip: Mapped[str] = mapped_column(String(64), default="")
    result: Mapped[str] = mapped_column(String(16), default="ok")  # ok | denied | failed
    detail: Mapped[dict] = mapped_column(default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64), default="")
    hash: Mapped[str] = mapped_column(String(64), default="")
    # 1 = SHA-256 without a key (events from before migration 0005), 2 = HMAC-SHA256 under the audit
    # key; the writer always sets 2, so a row inserted behind its back defaults to the suspicious 1.
    chain_version: Mapped[int] = mapped_column(server_default="1")
    # Appended events are signed at once (row_mac) and chained later by the sealer (access/audit_seal),
    # which gives each its place in the chain: chain_seq is NULL until then.
    row_mac: Mapped[str] = mapped_column(String(64), default="", server_default="")
    chain_seq: Mapped[int | None]


class SystemSetting(Base):
    """Settings an administrator edits in the UI (logo, theme colour, announcements…)."""

    __tablename__ = "system_settings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
