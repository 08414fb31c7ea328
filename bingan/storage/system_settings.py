"""Reading and writing the settings administrators edit in the UI (one JSON value per key)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from bingan.storage import access_generation
from bingan.storage.models import SystemSetting


def read_setting(session: Session, key: str) -> dict:
    """A copy of the stored value; empty when the key was never written."""
    setting = session.get(SystemSetting, key)
    return dict(setting.value) if setting else {}


def read_watched_setting(session: Session, key: str) -> dict:
    """``read_setting`` for a key every request reads (``access_generation.WATCHED_SETTINGS``):
    this process's copy while the access generation stands, so a change shows at once."""
    if key not in access_generation.WATCHED_SETTINGS:
        raise ValueError(f"{key} is not watched by the access generation")
    return dict(access_generation.kept(session, ("setting", key), lambda s: read_setting(s, key)))


def write_setting(session: Session, key: str, value: dict) -> None:
    """Insert or replace the value in the caller's transaction."""
    setting = session.get(SystemSetting, key)
    if setting is None:
        session.add(SystemSetting(key=key, value=value))
    else:
        setting.value = value
    session.flush()
