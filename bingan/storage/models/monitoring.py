"""Collection monitoring (采集监控): each source server's reachability checked every minute (the
up/down history, pruned), alert episodes (a source down, a jump of its failures) and the
heartbeats of our collection workers."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bingan.storage.models.base import Base, utcnow


class SourceProbe(Base):
    """One reachability check of a source server (TCP or HTTP with a short timeout)."""

    __tablename__ = "source_probes"
    __table_args__ = (Index("ix_source_probes_source_checked", "source_id", "checked_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    checked_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    up: Mapped[bool]
    latency_ms: Mapped[int] = mapped_column(default=0)
    detail: Mapped[str] = mapped_column(String(200), default="")  # Chinese: why it is down


class MonitoringAlert(Base):
    """An episode (告警): open while the condition lasts; its holders are told once, when it opens."""

    __tablename__ = "monitoring_alerts"
    __table_args__ = (Index("ix_monitoring_alerts_source_kind", "source_id", "kind", "closed_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # down | failures
    opened_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    closed_at: Mapped[datetime | None]
    detail: Mapped[str] = mapped_column(Text, default="")


class WorkerHeartbeat(Base):
    """The last sign of life of one collection worker process (written by its beat tick)."""

    __tablename__ = "worker_heartbeats"
    worker: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)
