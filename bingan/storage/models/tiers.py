"""Where a blob lives (冷热分层): one row per blob the tier policy ever moved; no row = hot."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from bingan.storage.models.base import Base, utcnow

TIERS = ("hot", "cold")
REASONS = ("age", "read", "prefetch", "manual")


class BlobTier(Base):
    """The tier and volume holding a blob. ``settled`` is False from the commit that switched the
    row until the copy on the other tier is removed: a rerun finishes those first."""

    __tablename__ = "blob_tiers"
    __table_args__ = (Index("ix_blob_tiers_tier_settled", "tier", "settled"),)
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    tier: Mapped[str] = mapped_column(String(8), default="hot")  # hot | cold
    volume: Mapped[str] = mapped_column(String(500), default="")
    settled: Mapped[bool] = mapped_column(default=False)
    reason: Mapped[str] = mapped_column(String(16), default="age")  # age | read | prefetch | manual
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    promoted_at: Mapped[datetime | None]  # last brought back to hot (kept hot a while after)
