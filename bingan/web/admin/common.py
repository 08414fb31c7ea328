"""Helpers the administration views share: refusing with a Chinese message that changes nothing."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from urllib.parse import quote

from fastapi import HTTPException
from fastapi.responses import RedirectResponse

from bingan import clock
from bingan.access.administration import AdminError
from bingan.web.deps import Ctx


def refuse(ctx: Ctx, back: str, error: AdminError | str) -> RedirectResponse:
    """Undo whatever the request changed and go back to the form with the reason."""
    ctx.session.rollback()
    separator = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{separator}error={quote(str(error))}", status_code=303)


def api_refuse(ctx: Ctx, error: AdminError | str) -> HTTPException:
    ctx.session.rollback()
    return HTTPException(status_code=400, detail=str(error))


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
