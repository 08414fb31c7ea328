"""临时授权 (grants): whoever holds grants.manage gives a user a time-bounded right on a record named
by its record number, and revokes it (bingan/access/grants.py)."""
from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from bingan.access.grants import grant, recent_grants, record_by_number, revoke
from bingan.access.permissions import ACTION_NAMES, GRANTABLE
from bingan.web.admin.common import done
from bingan.web.deps import Ctx, permission
from bingan.web.inputs import RowId
from bingan.web.render import page

router = APIRouter(include_in_schema=False)
BACK = "/admin/grants"


@router.get("/admin/grants", response_class=HTMLResponse)
def grants_page(request: Request, ctx: Ctx = permission("grants.manage")) -> Response:
    params = request.query_params
    return page(request, "admin/grants.html", ctx, grants=recent_grants(ctx.session),
                actions=[(action, ACTION_NAMES[action]) for action in GRANTABLE], action_names=ACTION_NAMES,
                error=params.get("error", ""), message=params.get("message", ""))


@router.post("/admin/grants")
def grant_add(
    username: str = Form(..., max_length=64), record_number: str = Form(..., max_length=32),
    stay: int = Form(1, ge=1, le=999), actions: list[str] = Form(["view"]), days: int = Form(7, ge=1, le=90),
    reason: str = Form("", max_length=255), ctx: Ctx = permission("grants.manage"),
) -> Response:
    record = record_by_number(ctx.session, record_number, stay)
    grant(ctx.session, ctx.actor, ctx.user, username, record.id, actions, days, reason)
    return done(BACK, f"已授权 {username.strip()} 访问病案 {record.record_number} 第 {stay} 次住院")


@router.post("/admin/grants/{grant_id}/revoke")
def grant_revoke(
    grant_id: RowId, reason: str = Form("", max_length=255), ctx: Ctx = permission("grants.manage"),
) -> Response:
    revoke(ctx.session, ctx.actor, grant_id, reason)
    return done(BACK, "授权已撤销")
