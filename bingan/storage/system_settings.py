"""Reading and writing the settings administrators edit in the UI (one JSON value per key)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from bingan.storage.models import SystemSetting


def read_setting(session: Session, key: str) -> dict:
    """A copy of the stored value; empty when the key was never written."""
    setting = session.get(SystemSetting, key)
    return dict(setting.value) if setting else {}


def write_setting(session: Session, key: str, value: dict) -> None:
    """Insert or replace the value in the caller's transaction."""
    setting = session.get(SystemSetting, key)
    if setting is None:
        session.add(SystemSetting(key=key, value=value))
    else:
        setting.value = value
    session.flush()
