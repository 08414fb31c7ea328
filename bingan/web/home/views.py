"""Home pages by role (E1, E2): everyone's to-do list (todo.py), operators the collection and
queue state, readers their recent and favourite records."""
from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bingan.access.policy import decide_for
from bingan.records import lifecycle, personal
from bingan.storage.models import CollectedItem, Document, Record, utcnow
from bingan.web import navigation
from bingan.web.deps import Ctx, signed_in
from bingan.web.home import todo
from bingan.web.render import page
from bingan.web.status import QUEUE_STATES

router = APIRouter(include_in_schema=False)
OPERATOR_PERMISSIONS = ("system.status", "record.change", "audit.read", "users.manage")
navigation.register_counter("home", todo.home_count)
navigation.register_counter("applications", todo.applications_count)


def collection_summary(ctx: Ctx) -> dict[str, object]:
    """Counts an archivist or administrator checks first thing in the morning."""
    session = ctx.session
    by_status = session.execute(sa.select(Record.status, sa.func.count()).group_by(Record.status)).all()
    since = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    today = session.scalar(sa.select(sa.func.count(Document.id)).where(Document.created_at >= since))
    return {"by_status": {lifecycle.state_name(status): count for status, count in by_status},
            "documents_today": today or 0, "queue": _queue(ctx)}


def _queue(ctx: Ctx) -> dict[str, int]:
    """Collected items by pipeline state, named as on the status page."""
    rows = ctx.session.execute(
        sa.select(CollectedItem.state, sa.func.count()).group_by(CollectedItem.state)).all()
    return {QUEUE_STATES.get(state, state): count for state, count in rows}


def _visible(ctx: Ctx, rows: list) -> list:
    return [row for row in rows if decide_for(ctx.subject, "view", row[1])]


@router.get("/", response_class=HTMLResponse)
def home(request: Request, ctx: Ctx = signed_in()) -> Response:
    prefs = personal.preferences(ctx.user)
    if prefs.start_page != "/" and request.query_params.get("home") != "1" and not request.query_params:
        return RedirectResponse(prefs.start_page, status_code=303)
    operator = any(ctx.can(code) for code in OPERATOR_PERMISSIONS)
    reader = ctx.can("record.view")
    recent = _visible(ctx, personal.history(ctx.session, ctx.user, limit=10)) if reader else []
    favourites = _visible(ctx, personal.favourites(ctx.session, ctx.user)) if reader else []
    return page(
        request, "home/home.html", ctx, operator=operator, reader=reader,
        summary=collection_summary(ctx) if operator else None, todo=todo.todo_for(ctx),
        expiring_days=todo.EXPIRING_DAYS, recent=recent, favourites=favourites[:10],
        announcements=personal.announcements_for(ctx.session, ctx.user),
        message=request.query_params.get("message", ""),
    )
