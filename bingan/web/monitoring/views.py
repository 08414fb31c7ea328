"""Collection monitoring pages: all sources, one source (its deliveries, failures with retry, runs,
up/down history) and the full-screen big screen, which draws itself from the JSON API."""
from __future__ import annotations

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bingan.ingest import monitoring
from bingan.storage.models import utcnow
from bingan.web import navigation
from bingan.web.deps import Ctx, permission
from bingan.web.inputs import RowId
from bingan.web.render import page

router = APIRouter(include_in_schema=False)
navigation.register("采集监控", "来源监控", "/monitoring", monitoring.OPERATORS)
navigation.register("采集监控", "大屏展示", "/bigscreen", "bigscreen.view")
WINDOW = Query("today", pattern="^(today|7d|30d)$")


@router.get("/monitoring", response_class=HTMLResponse)
def overview_page(request: Request, window: str = WINDOW, ctx: Ctx = permission(monitoring.OPERATORS)) -> Response:
    now = utcnow()
    return page(request, "monitoring/overview.html", ctx, rows=monitoring.overview(ctx.session, now, window),
                workers=monitoring.workers(ctx.session, now), window=window, windows=monitoring.WINDOWS)


@router.get("/monitoring/sources/{source_id}", response_class=HTMLResponse)
def source_page(request: Request, source_id: RowId, window: str = WINDOW, retried: int = Query(-1, ge=-1),
                ctx: Ctx = permission(monitoring.OPERATORS)) -> Response:
    detail = monitoring.source_detail(ctx.session, source_id, utcnow(), window)
    return page(request, "monitoring/source.html", ctx, detail=detail, window=window, windows=monitoring.WINDOWS,
                retried=retried, show_records=ctx.can("record.view"), run_seconds=monitoring.run_seconds,
                alert_names=monitoring.ALERT_NAMES)


@router.post("/monitoring/sources/{source_id}/retry")
def retry(source_id: RowId, item_id: int | None = Form(None, ge=1),
          failure_code: str | None = Form(None, max_length=32),
          ctx: Ctx = permission(monitoring.OPERATORS)) -> Response:
    count = monitoring.retry(ctx.session, ctx.actor, source_id, item_id=item_id, failure_code=failure_code)
    return RedirectResponse(f"/monitoring/sources/{source_id}?retried={count}", status_code=303)


@router.get("/bigscreen", response_class=HTMLResponse)
def bigscreen_page(request: Request, ctx: Ctx = permission("bigscreen.view")) -> Response:
    return page(request, "monitoring/bigscreen.html", ctx)
