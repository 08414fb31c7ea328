"""Retention's timed job: the files of destroyed records leave the volumes after the destruction commits."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bingan.config import get_settings
from bingan.records.retention.service import remove_destroyed_files
from bingan.storage.blobs.port import open_blob_store


def remove_files(session: Session, now: datetime) -> int:
    return remove_destroyed_files(session, open_blob_store(get_settings()), now)
