"""Capacity of the blob volumes (V10): a sample per volume per day, the growth rate and days until
full from the samples, and the system administrators told once at 80 % and once at 90 %."""
from __future__ import annotations

import io
import os
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "access"))

from world import build_world

from bingan.config import get_settings, reset_settings
from bingan.storage.blobs.port import Placement, VolumeStatus, open_blob_store
from bingan.storage.capacity import forecast, record_samples
from bingan.storage.models import Message
from bingan.storage.models.capacity import VolumeSample
from bingan.worker.capacity import sample_capacity

MIB = 1024 * 1024


def _volume(used: int, free: int = 1000 * MIB, capacity: int | None = None) -> VolumeStatus:
    return VolumeStatus("/srv/v1", "rw", free, used, capacity, None)


def test_growth_and_days_until_full_come_from_the_samples_of_the_last_thirty_days(session):
    start = date(2026, 11, 1)
    for day in range(0, 40, 5):  # 8 samples, 10 MiB a day; the first two fall outside the window
        record_samples(session, [_volume(100 * MIB + day * 10 * MIB)], start + timedelta(days=day))
    outlook = forecast(session, _volume(450 * MIB, free=550 * MIB), start + timedelta(days=35))
    assert outlook.growth_per_day == 10 * MIB
    assert outlook.days_until_full == 55 and round(outlook.fill, 2) == 0.45 and outlook.level == "ok"
    assert [day for day, _ in outlook.history] == [start + timedelta(days=d) for d in (10, 15, 20, 25, 30, 35)]


def test_one_day_gives_no_rate_and_a_configured_capacity_is_the_size(session):
    record_samples(session, [_volume(85 * MIB, capacity=100 * MIB)], date(2026, 12, 7))
    outlook = forecast(session, _volume(85 * MIB, capacity=100 * MIB), date(2026, 12, 7))
    assert (outlook.growth_per_day, outlook.days_until_full, outlook.level) == (None, None, "warn")
    assert forecast(session, _volume(95 * MIB, capacity=100 * MIB), date(2026, 12, 7)).level == "alert"


def test_a_second_sample_the_same_day_replaces_the_first(session):
    record_samples(session, [_volume(1 * MIB)], date(2026, 12, 7))
    record_samples(session, [_volume(2 * MIB)], date(2026, 12, 7))
    assert session.scalars(sa.select(VolumeSample.used_bytes)).all() == [2 * MIB]


def test_the_administrators_hear_once_at_eighty_and_once_at_ninety_percent(session, monkeypatch, tmp_path):
    build_world(session, with_documents=False)
    session.commit()
    monkeypatch.setenv("BINGAN_BLOB_VOLUMES", f"{tmp_path / 'small'}@1M")
    reset_settings()
    store = open_blob_store(get_settings())

    def fill_to(kib: int, day: int) -> None:
        while store.volumes_status()[0].used_bytes < kib * 1024:
            store.put(io.BytesIO(os.urandom(50_000)),
                      Placement("main", "0000001", 1, date(2026, 12, 1), "scan.pdf"))
        sample_capacity(session, datetime(2026, 12, day, 4, tzinfo=UTC))
        session.flush()

    fill_to(500, 1)
    fill_to(830, 2)
    fill_to(850, 3)
    fill_to(930, 4)
    titles = session.scalars(sa.select(Message.title).where(Message.kind == "capacity").order_by(Message.id)).all()
    assert len(titles) == 2  # the test hospital has one system administrator
    assert titles[0].startswith("存储卷已用 8") and titles[1].startswith("存储卷已用 9")


def test_the_volumes_are_sampled_once_a_day(session, tmp_path, monkeypatch):
    monkeypatch.setenv("BINGAN_BLOB_VOLUMES", str(tmp_path / "v1"))
    reset_settings()
    assert sample_capacity(session, datetime(2026, 12, 7, 1, tzinfo=UTC)) == 1
    assert sample_capacity(session, datetime(2026, 12, 7, 9, tzinfo=UTC)) == 0
    assert sample_capacity(session, datetime(2026, 12, 7, 17, tzinfo=UTC)) == 1  # 01:00 on the 8th in Beijing
