"""Retention pages (保存期限与到期销毁): the records due, the application to destroy a selection,
the keeping periods, and the destruction register (销毁清册) with its xlsx export."""
from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bingan import clock
from bingan.records.retention import service
from bingan.web import navigation
from bingan.web.deps import Ctx, permission
from bingan.web.downloads import xlsx_response
from bingan.web.render import page

router = APIRouter(include_in_schema=False)
DUE_PATH, REGISTER_PATH = "/retention", "/retention/register"
navigation.register("归档管理", "到期病案与销毁", DUE_PATH, "retention.manage")
navigation.register("归档管理", "销毁清册", REGISTER_PATH, "retention.manage")


@router.get(DUE_PATH, response_class=HTMLResponse)
def due_page(request: Request, ctx: Ctx = permission("retention.manage")) -> Response:
    today = clock.local_date(clock.now())
    return page(request, "retention/due.html", ctx, today=today, due=service.due_records(ctx.session, today),
                rules=service.rules(ctx.session), visit_types=service.VISIT_TYPES)


@router.post(DUE_PATH)
def apply_form(record_ids: list[int] = Form([]), reason: str = Form("", max_length=2000),
               ctx: Ctx = permission("retention.manage")) -> Response:
    requests = service.apply_destroy(ctx.session, ctx.actor, ctx.user, record_ids, reason)
    return RedirectResponse(f"/approvals/{requests[0].id}" if len(requests) == 1 else "/approvals?box=mine",
                            status_code=303)


@router.post("/retention/rules")
def rule_form(visit_type: str = Form(...), record_kind: str = Form("", max_length=16),
              years: int = Form(..., ge=1, le=100), ctx: Ctx = permission("retention.manage")) -> Response:
    service.save_rule(ctx.session, ctx.actor, visit_type, record_kind, years)
    return RedirectResponse(DUE_PATH, status_code=303)


@router.get(REGISTER_PATH, response_class=HTMLResponse)
def register_page(request: Request, ctx: Ctx = permission("retention.manage")) -> Response:
    return page(request, "retention/register.html", ctx, rows=service.register_rows(ctx.session))


@router.get(REGISTER_PATH + ".xlsx")
def register_export(ctx: Ctx = permission("retention.manage")) -> Response:
    rows = [service.register_cells(row) for row in service.register_rows(ctx.session, limit=100_000)]
    ctx.audit("export", object_type="destruction_register", detail={"行数": len(rows)})
    return xlsx_response(
        f"销毁清册-{clock.file_stamp()}.xlsx", "销毁清册",
        service.REGISTER_HEADERS, rows)
