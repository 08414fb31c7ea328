"""Capacity of the blob volumes (容量监控, V10): a sample per volume per day, the growth rate over
the last weeks, days until full, and the 80 % / 90 % alert levels."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.storage.blobs.port import VolumeStatus
from bingan.storage.models.capacity import VolumeSample

WINDOW_DAYS = 30  # the growth rate is measured over this many days of samples
LEVELS = ((0.9, "alert"), (0.8, "warn"))  # fill ratio → level, highest first


@dataclass(frozen=True)
class Forecast:
    path: str
    size: int  # what the volume can hold: its configured capacity, else used + free on its disk
    used: int
    fill: float  # used / size
    growth_per_day: float | None  # bytes a day over the window; None with fewer than two days sampled
    days_until_full: int | None
    level: str  # ok | warn (≥ 80 %) | alert (≥ 90 %)
    history: list[tuple[date, int]] = field(default_factory=list)


def record_samples(session: Session, volumes: list[VolumeStatus], today: date) -> int:
    """Today's use of every volume, replacing an earlier sample of the same day."""
    for volume in volumes:
        sample = session.scalars(sa.select(VolumeSample).where(
            VolumeSample.path == volume.path, VolumeSample.sampled_on == today)).one_or_none()
        if sample is None:
            session.add(VolumeSample(path=volume.path, sampled_on=today, used_bytes=volume.used_bytes,
                                     free_bytes=volume.free_bytes))
        else:
            sample.used_bytes, sample.free_bytes = volume.used_bytes, volume.free_bytes
    session.flush()
    return len(volumes)


def sampled_on(session: Session, day: date) -> bool:
    return session.scalar(sa.select(sa.func.count()).select_from(VolumeSample)
                          .where(VolumeSample.sampled_on == day)) > 0


def forecast(session: Session, volume: VolumeStatus, today: date) -> Forecast:
    history = [(row.sampled_on, row.used_bytes) for row in session.scalars(
        sa.select(VolumeSample).where(VolumeSample.path == volume.path,
                                      VolumeSample.sampled_on > today - timedelta(days=WINDOW_DAYS))
        .order_by(VolumeSample.sampled_on))]
    size = volume.capacity or volume.used_bytes + volume.free_bytes
    fill = volume.used_bytes / size if size else 0.0
    growth = _growth(history)
    days = None
    if growth and growth > 0:
        days = int((size - volume.used_bytes) / growth)
    level = next((name for threshold, name in LEVELS if fill >= threshold), "ok")
    return Forecast(volume.path, size, volume.used_bytes, fill, growth, days, level, history)


def _growth(history: list[tuple[date, int]]) -> float | None:
    if len(history) < 2:
        return None
    (first_day, first_used), (last_day, last_used) = history[0], history[-1]
    return (last_used - first_used) / (last_day - first_day).days
