"""Daily samples of each blob volume's use (容量监控): growth rate and days until full."""
from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bingan.storage.models.base import Base


class VolumeSample(Base):
    """A volume's use on one day (the hospital's date); rewritten through the day, so the last
    sample of a day is its closing figure."""

    __tablename__ = "volume_samples"
    __table_args__ = (UniqueConstraint("path", "sampled_on"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(String(500))
    sampled_on: Mapped[date]
    used_bytes: Mapped[int] = mapped_column(BigInteger)
    free_bytes: Mapped[int] = mapped_column(BigInteger)
