"""The capacity timed job: sample every volume's use once a day (one row per volume per day) and
tell the system administrators when a volume reaches 80 % and again at 90 % (V10)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bingan import clock
from bingan.access.holders import users_holding
from bingan.config import get_settings
from bingan.records.approvals.notifier import notify
from bingan.storage.blobs.port import open_blob_store
from bingan.storage.capacity import Forecast, forecast, record_samples, sampled_on
from bingan.storage.system_settings import read_setting, write_setting

ALERTED = "capacity.alerted"  # system setting: the level each volume was last reported at
RANK = {"ok": 0, "warn": 1, "alert": 2}


def sample_capacity(session: Session, now: datetime) -> int:
    """Once a day: counting a volume's files walks its pointer tree, too slow for every tick."""
    today = clock.local_date(now)
    if sampled_on(session, today):
        return 0
    volumes = open_blob_store(get_settings()).volumes_status()
    record_samples(session, volumes, today)
    alerted = read_setting(session, ALERTED)
    for volume in volumes:
        outlook = forecast(session, volume, today)
        if RANK[outlook.level] > RANK[alerted.get(outlook.path, "ok")]:
            _tell(session, outlook)
        alerted[outlook.path] = outlook.level
    write_setting(session, ALERTED, alerted)
    return len(volumes)


def _tell(session: Session, outlook: Forecast) -> None:
    days = f"，按近期增长约 {outlook.days_until_full} 天后写满" if outlook.days_until_full is not None else ""
    title = f"存储卷已用 {outlook.fill:.0%}"
    body = (f"{outlook.path} 已用 {outlook.fill:.0%}{days}。请增加存储卷（BINGAN_BLOB_VOLUMES）或扩容；"
            "热存储卷也可配置冷存储卷（:cold）把旧病案移出。")
    for user in users_holding(session, "system.status"):
        notify(session, user, "capacity", title, body, "/admin/status")
