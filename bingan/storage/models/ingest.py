"""Collection (采集): sources as data, their code mappings, collection runs and collected items.

The database holds each collected item's state; broker messages are only kicks (a worker
killed mid-task loses its message on every embedded broker), so a sweeper re-queues items
whose lease ran out.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bingan.storage.models.base import Base, Timestamped, utcnow
from bingan.storage.models.documents import DocumentType
from bingan.storage.models.organisation import Campus

SOURCE_KINDS = ("emr", "his", "lis", "pacs", "pathology", "ecg", "transfusion", "anaesthesia", "manual", "other")
TRANSPORTS = ("http_push", "http_pull", "ftp", "soap", "folder", "basic_data", "manual")
ITEM_STATES = ("pending", "fetched", "stored", "extracted", "indexed", "failed")
ACTIVE_ITEM_STATES = ("pending", "fetched", "stored", "extracted")
RUN_STATES = ("running", "done", "failed")


class Source(Timestamped, Base):
    """A hospital system Bingan collects from; its schedule is data, read by the beat tick."""

    __tablename__ = "sources"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)  # also Document.source_system
    title: Mapped[str] = mapped_column(String(100), default="")  # shown to users, e.g. 电子病历系统
    kind: Mapped[str] = mapped_column(String(16), default="other")
    transport: Mapped[str] = mapped_column(String(16), default="http_push")
    campus_id: Mapped[int | None] = mapped_column(ForeignKey("campuses.id"))
    endpoint: Mapped[str] = mapped_column(String(500), default="")  # URL, ftp://host:port/dir, folder path
    options: Mapped[dict] = mapped_column(default=dict)  # transport details (paths, SOAP operation, done dir…)
    credentials: Mapped[str] = mapped_column(Text, default="")  # AES-GCM sealed JSON, see ingest/secrets.py
    api_key_hash: Mapped[str] = mapped_column(String(64), default="", index=True)  # SHA-256 of the push key
    periods: Mapped[list] = mapped_column(default=list)  # [{"days": [1..7], "start": "HH:MM", "end": "HH:MM"}]
    interval_minutes: Mapped[int] = mapped_column(default=15)  # pull every N minutes inside the periods
    collection_delay_hours: Mapped[int] = mapped_column(default=0)  # wait after discharge before collecting
    recollect_days: Mapped[int] = mapped_column(default=0)  # keep re-collecting N days after discharge
    rate_limit_per_minute: Mapped[int] = mapped_column(default=0)  # 0 = unlimited
    max_bytes: Mapped[int] = mapped_column(default=0)  # 0 = the global push limit
    create_missing_records: Mapped[bool] = mapped_column(default=False)
    fallback_document_type_id: Mapped[int | None] = mapped_column(ForeignKey("document_types.id"))
    field_mapping: Mapped[dict] = mapped_column(default=dict)  # basic data: our field -> their field
    enabled: Mapped[bool] = mapped_column(default=True)
    cursor: Mapped[str] = mapped_column(Text, default="")  # the peer's "changed since" marker
    last_run_at: Mapped[datetime | None]
    next_run_at: Mapped[datetime | None] = mapped_column(index=True)
    heartbeat_at: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(Text, default="")
    campus: Mapped[Campus | None] = relationship()
    fallback_document_type: Mapped[DocumentType | None] = relationship()
    mappings: Mapped[list[SourceMapping]] = relationship(back_populates="source", cascade="all, delete-orphan")


class SourceMapping(Base):
    """One of the source's category or document-type codes and the standard document type it means (Q4)."""

    __tablename__ = "source_mappings"
    __table_args__ = (UniqueConstraint("source_id", "source_code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    source_code: Mapped[str] = mapped_column(String(100))
    source_name: Mapped[str] = mapped_column(String(100), default="")
    document_type_id: Mapped[int] = mapped_column(ForeignKey("document_types.id", ondelete="CASCADE"))
    source: Mapped[Source] = relationship(back_populates="mappings")
    document_type: Mapped[DocumentType] = relationship()


class CollectionRun(Base):
    """One pass of a pull connector over a source."""

    __tablename__ = "collection_runs"
    __table_args__ = (Index("ix_collection_runs_source_started", "source_id", "started_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16), default="running")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    cursor_before: Mapped[str] = mapped_column(Text, default="")
    cursor_after: Mapped[str] = mapped_column(Text, default="")
    items_seen: Mapped[int] = mapped_column(default=0)
    items_new: Mapped[int] = mapped_column(default=0)
    error: Mapped[str] = mapped_column(Text, default="")


class CollectionRound(Base):
    """One source due again for one record at ``due_at`` (the EMR reported the record complete, and
    the source's own delay after that); the beat tick makes the source due and marks it started."""

    __tablename__ = "collection_rounds"
    __table_args__ = (Index("ix_collection_rounds_due", "started_at", "due_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(32), default="record_complete")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime]
    started_at: Mapped[datetime | None]


class CollectedItem(Timestamped, Base):
    """One document reported by a source, walked through the pipeline; the row is its only state.

    ``revision`` is what the source says about this content (modification time, etag or the
    SHA-256 of pushed bytes): the same report twice never makes a second item.
    """

    __tablename__ = "collected_items"
    __table_args__ = (
        UniqueConstraint("source_id", "source_document_id", "revision"),
        Index("ix_collected_items_state_due", "state", "next_attempt_at"),
        Index("ix_collected_items_record", "record_number", "stay"),
        Index("ix_collected_items_created_source", "created_at", "source_id", "state"),  # monitoring's counts
        Index("ix_collected_items_state_updated", "state", "updated_at", "source_id"),  # failures: when, where
        # one source's page: its counts by state in a window, its waiting and failed items (covering)
        Index("ix_collected_items_source_state", "source_id", "state", "created_at", "updated_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("collection_runs.id", ondelete="SET NULL"))
    source_document_id: Mapped[str] = mapped_column(String(128))
    revision: Mapped[str] = mapped_column(String(128), default="")
    record_number: Mapped[str] = mapped_column(String(32), default="")
    stay: Mapped[int] = mapped_column(default=1)
    visit_type: Mapped[str] = mapped_column(String(16), default="inpatient")
    document_type_code: Mapped[str] = mapped_column(String(100), default="")
    title: Mapped[str] = mapped_column(String(200), default="")
    filename: Mapped[str] = mapped_column(String(255), default="")
    author: Mapped[str] = mapped_column(String(64), default="")
    signed_at: Mapped[datetime | None]
    origin: Mapped[str] = mapped_column(String(16), default="collected")
    item_metadata: Mapped[dict] = mapped_column("metadata", default=dict)  # fetch reference, patient data…
    staged_path: Mapped[str] = mapped_column(String(500), default="")  # fetched bytes awaiting the blob store
    state: Mapped[str] = mapped_column(String(16), default="pending")
    resume_state: Mapped[str] = mapped_column(String(16), default="")  # where a retry of a failed item starts
    failure_code: Mapped[str] = mapped_column(String(32), default="")
    failure_reason: Mapped[str] = mapped_column(Text, default="")  # Chinese, shown to users
    failure_detail: Mapped[str] = mapped_column(Text, default="")  # technical, for the log
    retry_count: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]  # not before (retry backoff, collection delay)
    kicked_at: Mapped[datetime | None]  # last broker message sent; the sweeper re-kicks after a lease
    locked_until: Mapped[datetime | None]
    locked_by: Mapped[str] = mapped_column(String(64), default="")
    heartbeat_at: Mapped[datetime | None]
    sha256: Mapped[str] = mapped_column(String(64), default="")
    size: Mapped[int] = mapped_column(default=0)
    media_type: Mapped[str] = mapped_column(String(100), default="")
    record_id: Mapped[int | None] = mapped_column(ForeignKey("records.id"))
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    version_id: Mapped[int | None] = mapped_column(ForeignKey("versions.id"))
    new_version: Mapped[bool] = mapped_column(default=False)  # False: same content as a version we had
    indexed_at: Mapped[datetime | None]
    source: Mapped[Source] = relationship()
