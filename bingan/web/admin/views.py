"""Administration pages: status (system admin), audit viewer (audit admin), announcements,
IP rules and security settings (security admin); grants are in grants_views.py."""
from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bingan import clock
from bingan.access.audit_names import ACTION_NAMES
from bingan.access.audit_query import RESULT_NAMES, describe, export_xlsx, search_events
from bingan.access.security_settings import SecuritySettings, save_security_settings, security_settings
from bingan.web.admin.common import audit_filter
from bingan.web.deps import Ctx, permission
from bingan.web.inputs import MAX_ID, OffsetParam
from bingan.web.render import page
from bingan.web.search.service import index_of
from bingan.web.status import status_report

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 100


@router.get("/admin/status", response_class=HTMLResponse)
def status_page(request: Request, ctx: Ctx = permission("system.status")) -> Response:
    report = status_report(request.app.state.settings, request.app.state.engine, index_of(request))
    return page(request, "status.html", ctx, report=report)


@router.get("/admin/audit", response_class=HTMLResponse)
def audit_page(request: Request, offset: OffsetParam = 0, ctx: Ctx = permission("audit.read")) -> Response:
    flt = audit_filter(request)
    total, events = search_events(ctx.session, flt, limit=PAGE_SIZE, offset=offset)
    ctx.audit("view", object_type="audit", detail={"筛选": {k: str(v) for k, v in vars(flt).items() if v}})
    query = request.url.query
    return page(request, "admin/audit.html", ctx, events=describe(ctx.session, events), total=total, flt=flt,
                offset=offset,
                page_size=PAGE_SIZE, actions=ACTION_NAMES, results=RESULT_NAMES, query=query)


@router.get("/admin/audit/export.xlsx")
def audit_export(request: Request, ctx: Ctx = permission("audit.export")) -> Response:
    flt = audit_filter(request)
    ctx.audit("audit_export", object_type="audit", detail={"筛选": {k: str(v) for k, v in vars(flt).items() if v}})
    data = export_xlsx(ctx.session, flt)
    name = f"audit-{clock.file_stamp()}.xlsx"
    return Response(data, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/admin/security", response_class=HTMLResponse)
def security_page(request: Request, ctx: Ctx = permission("users.manage")) -> Response:
    return page(request, "admin/security.html", ctx, values=security_settings(ctx.session),
                error=request.query_params.get("error", ""))


@router.post("/admin/security")
def security_save(
    lockout_attempts: int = Form(5, le=1000), lockout_minutes: int = Form(10, le=10080),
    idle_minutes: int = Form(15, le=MAX_ID), session_max_hours: int = Form(12, le=720),
    address_failures: int = Form(10, le=100000), address_minutes: int = Form(15, le=10080),
    password_max_age_days: int = Form(90, le=36500), password_history: int = Form(5, ge=0, le=24),
    audit_retention_days: int = Form(180, le=36500),
    ctx: Ctx = permission("users.manage"),
) -> Response:
    # Every setting has a field on the form: a setting missing here would be reset on each save.
    values = SecuritySettings(
        lockout_attempts=lockout_attempts, lockout_minutes=max(1, lockout_minutes),
        idle_minutes=min(max(1, idle_minutes), 30), session_max_hours=session_max_hours,
        address_failures=address_failures, address_minutes=address_minutes,
        password_max_age_days=max(0, password_max_age_days), password_history=password_history,
        audit_retention_days=audit_retention_days,
    )
    save_security_settings(ctx.session, values)
    ctx.audit("settings", object_type="security", detail={k: str(v) for k, v in vars(values).items()})
    return RedirectResponse("/admin/security", status_code=303)
