"""Jinja2 templates shared by every router, with the filters the pages use."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from fastapi.templating import Jinja2Templates

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
CHINA = timezone(timedelta(hours=8), "CST")


def filesize(value: int | None) -> str:
    """Bytes as a short human figure (1.5 GB)."""
    size = float(value or 0)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return ""


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Stored times are UTC; hospitals read Beijing time."""
    if value is None:
        return "-"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(CHINA).strftime(fmt)


def local_date(value: datetime | None) -> str:
    return local_time(value, "%Y-%m-%d")


templates.env.filters["filesize"] = filesize
templates.env.filters["localtime"] = local_time
templates.env.filters["localdate"] = local_date
