"""IP rules (security administrator); hospital name, logo, theme colour and announcements (system administrator)."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from bingan.access import access_rules as rules
from bingan.access.administration import AdminError
from bingan.storage.models import Announcement, IpRule, Role, utcnow
from bingan.web.admin import appearance
from bingan.web.admin.common import codes, done, refuse
from bingan.web.deps import DB, Ctx, permission, public
from bingan.web.inputs import RowId
from bingan.web.render import page

router = APIRouter(include_in_schema=False)
RULE_ACTIONS = {"enable": "启用", "disable": "停用", "delete": "删除"}


def _messages(request: Request) -> dict:
    return {"error": request.query_params.get("error", ""), "message": request.query_params.get("message", "")}


@router.get("/admin/rules", response_class=HTMLResponse)
def ip_rules_page(request: Request, ctx: Ctx = permission("ip_rules.manage")) -> Response:
    rows = ctx.session.scalars(sa.select(IpRule).order_by(IpRule.id)).all()
    return page(request, "admin/ip_rules.html", ctx, rules=rows, kinds=rules.IP_KINDS, client_ip=ctx.ip,
                **_messages(request))


@router.post("/admin/ip-rules")
def ip_rule_add(cidr: str = Form(""), kind: str = Form("block"), note: str = Form(""),
                ctx: Ctx = permission("ip_rules.manage")) -> Response:
    try:
        rules.add_ip_rule(ctx.session, ctx.actor, cidr, kind, note)
    except AdminError as error:
        return refuse(ctx, "/admin/rules", error)
    return done("/admin/rules", "规则已添加")


@router.post("/admin/ip-rules/{item_id}")
def ip_rule_change(item_id: RowId, action: str = Form(...), ctx: Ctx = permission("ip_rules.manage")) -> Response:
    try:
        change_ip_rule(ctx, item_id, action)
    except AdminError as error:
        return refuse(ctx, "/admin/rules", error)
    return done("/admin/rules", f"规则已{RULE_ACTIONS[action]}")


def change_ip_rule(ctx: Ctx, rule_id: int, action: str) -> None:
    if action not in RULE_ACTIONS:
        raise AdminError("未知操作")
    if action == "delete":
        rules.delete_ip_rule(ctx.session, ctx.actor, rule_id)
    else:
        rules.set_ip_rule_active(ctx.session, ctx.actor, rule_id, action == "enable")


# --- appearance ------------------------------------------------------------------------------

@router.get("/admin/appearance", response_class=HTMLResponse)
def appearance_page(request: Request, ctx: Ctx = permission("system.settings")) -> Response:
    return page(request, "admin/appearance.html", ctx, max_kb=appearance.MAX_LOGO_BYTES // 1024, **_messages(request))


@router.post("/admin/appearance")
def appearance_save(hospital_name: str = Form(""), theme_color: str = Form(""),
                    ctx: Ctx = permission("system.settings")) -> Response:
    try:
        value = appearance.update(ctx.session, hospital_name, theme_color)
    except AdminError as error:
        return refuse(ctx, "/admin/appearance", error)
    ctx.audit("settings", object_type="appearance", detail={"医院名称": value["hospital_name"],
                                                            "主题色": value["theme_color"]})
    return done("/admin/appearance", "外观已保存")


@router.post("/admin/appearance/logo")
async def logo_upload(logo: UploadFile | None = File(None), remove: str = Form(""),
                      ctx: Ctx = permission("system.settings")) -> Response:
    data = await logo.read(appearance.MAX_LOGO_BYTES + 1) if logo is not None else b""
    try:
        if remove:
            appearance.remove_logo(ctx.session)
        else:
            appearance.set_logo(ctx.session, data)
    except AdminError as error:
        return refuse(ctx, "/admin/appearance", error)
    ctx.audit("settings", object_type="logo", detail={"操作": "删除" if remove else "上传", "大小": len(data)})
    return done("/admin/appearance", "图标已删除" if remove else "图标已更新")


@router.get("/branding/logo", dependencies=[public()])
def logo_image(session=DB) -> Response:
    """The hospital logo: public, the login page shows it too; no patient data."""
    found = appearance.logo(session)
    if found is None:
        return Response(status_code=404)
    data, media_type = found
    return Response(data, media_type=media_type, headers={"Cache-Control": "public, max-age=86400"})


# --- announcements ---------------------------------------------------------------------------

@router.get("/admin/announcements", response_class=HTMLResponse)
def announcements_page(request: Request, ctx: Ctx = permission("announcements.manage")) -> Response:
    rows = ctx.session.scalars(sa.select(Announcement).order_by(Announcement.published_at.desc())).all()
    return page(request, "admin/announcements.html", ctx, rows=rows, **_messages(request))


@router.post("/admin/announcements")
def announcements_add(title: str = Form(""), body: str = Form(""), days: int = Form(30), roles: str = Form(""),
                      ctx: Ctx = permission("announcements.manage")) -> Response:
    try:
        add_announcement(ctx, title, body, days, codes(roles))
    except AdminError as error:
        return refuse(ctx, "/admin/announcements", error)
    return done("/admin/announcements", "公告已发布")


def add_announcement(ctx: Ctx, title: str, body: str, days: int, role_codes: list[str]) -> Announcement:
    title = title.strip()
    if not title or len(title) > 200:
        raise AdminError("公告标题不能为空，且不超过200个字")
    if not 0 <= days <= 3650:
        raise AdminError("有效天数应在0–3650之间（0为长期）")
    known = set(ctx.session.scalars(sa.select(Role.code).where(Role.code.in_(role_codes))))
    if set(role_codes) - known:
        raise AdminError(f"未知角色：{'、'.join(sorted(set(role_codes) - known))}")
    announcement = Announcement(title=title, body=body[:5000], roles=role_codes, author_id=ctx.user.id,
                                expires_at=utcnow() + timedelta(days=days) if days else None)
    ctx.session.add(announcement)
    ctx.session.flush()
    ctx.audit("announcement", object_type="announcement", object_id=announcement.id, detail={"标题": title})
    return announcement


@router.post("/admin/announcements/{item_id}/delete")
def announcements_delete(item_id: RowId, ctx: Ctx = permission("announcements.manage")) -> Response:
    try:
        delete_announcement(ctx, item_id)
    except AdminError as error:
        return refuse(ctx, "/admin/announcements", error)
    return done("/admin/announcements", "公告已删除")


def delete_announcement(ctx: Ctx, announcement_id: int) -> None:
    announcement = ctx.session.get(Announcement, announcement_id)
    if announcement is None:
        raise AdminError("公告不存在")
    ctx.audit("announcement", object_type="announcement", object_id=announcement.id,
              detail={"操作": "删除", "标题": announcement.title})
    ctx.session.delete(announcement)
