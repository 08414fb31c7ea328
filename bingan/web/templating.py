"""Jinja2 templates shared by every router, with the filters the pages use."""
from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from fastapi.templating import Jinja2Templates

from bingan import clock

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")


def filesize(value: int | None) -> str:
    """Bytes as a short human figure (1.5 GB)."""
    size = float(value or 0)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return ""


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Stored times are UTC; the hospital reads its own time (clock.local)."""
    if value is None:
        return "-"
    return clock.local(value).strftime(fmt)


def local_date(value: date | datetime | None) -> str:
    """The hospital's day; a date (a search hit's discharge day) is one already."""
    if value is None:
        return "-"
    return clock.local_date(value).isoformat()


templates.env.filters["filesize"] = filesize
templates.env.filters["localtime"] = local_time
templates.env.filters["localdate"] = local_date
