"""The hospital's time (医院本地时间): the one way dates and times become what users see.

Times are stored as UTC instants (the database's naive values are UTC). Every date a user sees,
filters by, counts or exports — and every export file name — is in the hospital's time zone,
``BINGAN_TIME_ZONE`` (default Asia/Shanghai): a patient discharged at 07:30 on 1 March, Beijing
time, was discharged on 1 March, not on 28 February.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from bingan.config import get_settings


def zone() -> ZoneInfo:
    return ZoneInfo(get_settings().time_zone)  # ZoneInfo caches one object per name


def instant(value: date | datetime) -> datetime:
    """An aware datetime; a naive one is UTC, as the database stores it; a date (a query's
    bound, a day without a time) is the start of that day in the hospital's time."""
    if not isinstance(value, datetime):
        return day_start(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def local(value: date | datetime) -> datetime:
    """The moment on the hospital's clock (aware, with its offset); a date is its first moment."""
    return instant(value).astimezone(zone())


def local_date(value: date | datetime) -> date:
    """The hospital's calendar day of a moment; a date is already one."""
    return local(value).date() if isinstance(value, datetime) else value


def day_start(day: date) -> datetime:
    """The UTC instant the hospital's day begins (a date filter's bound)."""
    return datetime.combine(day, time.min, tzinfo=zone()).astimezone(UTC)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of the hospital's day as UTC instants."""
    return day_start(day), day_start(day + timedelta(days=1))


def sql_local_date(column: sa.ColumnElement, dialect: str) -> sa.ColumnElement:
    """The hospital's calendar day of a stored moment, computed by the database: a DATE on
    PostgreSQL, 'YYYY-MM-DD' text on SQLite (``str()`` of either is the ISO date)."""
    if dialect == "postgresql":
        return sa.func.date(sa.func.timezone(zone().key, column))
    offset = now().utcoffset()
    return sa.func.date(column, f"{int(offset.total_seconds()) if offset else 0:+d} seconds")


def now() -> datetime:
    return datetime.now(UTC).astimezone(zone())


def iso(value: datetime | None) -> str | None:
    """ISO 8601 with the hospital's offset (2025-03-01T07:30:00+08:00), for the JSON API."""
    return local(value).isoformat() if value else None


def file_stamp() -> str:
    """The hospital's present time for export file names (audit-20250301-0730.xlsx)."""
    return f"{now():%Y%m%d-%H%M}"
