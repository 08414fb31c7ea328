"""Tiers' timed job: once a night, at BINGAN_TIER_MOVE_HOUR, the move to cold volumes starts as a
background job (it may take hours; the beat tick must not)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bingan import clock
from bingan.config import get_settings
from bingan.records import jobs
from bingan.records.tiers.service import MOVE_JOB, SYSTEM
from bingan.storage.blobs.port import open_blob_store
from bingan.storage.blobs.tiering import has_cold_volumes
from bingan.storage.system_settings import read_setting, write_setting

STARTED = "tiers.move_started"  # system setting: {"on": the hospital date of the last nightly start}


def start_nightly_move(session: Session, now: datetime) -> int:
    settings = get_settings()
    local = clock.local(now)
    if local.hour < settings.tier_move_hour or settings.blob_backend != "local":
        return 0
    today = local.date().isoformat()
    if read_setting(session, STARTED).get("on") == today:
        return 0
    write_setting(session, STARTED, {"on": today})
    if not has_cold_volumes(open_blob_store(settings)):
        return 0
    return jobs.start(session, SYSTEM, MOVE_JOB, {}, owner=None).id
