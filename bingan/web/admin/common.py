"""Helpers the administration pages and API share: messages back to a form, typed codes and dates, the audit filter."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse

from bingan import clock
from bingan.access.administration import AdminError
from bingan.access.audit_query import AuditFilter
from bingan.web.inputs import parse_id


def done(back: str, message: str) -> RedirectResponse:
    separator = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{separator}message={quote(message)}", status_code=303)


def codes(text: str | list[str] | None) -> list[str]:
    """Codes typed as "0301, 0302" (full-width commas and spaces too) or sent as a list."""
    if text is None:
        return []
    if isinstance(text, list):
        return [c.strip() for c in text if c.strip()]
    return [c.strip() for c in text.replace("，", ",").replace(" ", ",").split(",") if c.strip()]


def end_of_day(value: str) -> datetime | None:
    """A date typed in the form (the hospital's day) as the UTC end of that day; AdminError when malformed."""
    if not value.strip():
        return None
    try:
        day = date.fromisoformat(value.strip())
    except ValueError as error:
        raise AdminError("日期格式应为 YYYY-MM-DD") from error
    return clock.day_bounds(day)[1] - timedelta(seconds=1)


def audit_filter(request: Request) -> AuditFilter:
    params = request.query_params
    return AuditFilter(
        username=params.get("username", "").strip(), action=params.get("action", ""),
        result=params.get("result", ""), record_id=parse_id(params.get("record_id")),
        client_ip=params.get("client_ip", "").strip(),
        date_from=_date_or_none(params.get("date_from")), date_to=_date_or_none(params.get("date_to")),
    )


def _date_or_none(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None
