"""IP rules (security administrator); hospital name, logo, theme colour and announcements (system administrator)."""
from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from bingan.access import access_rules as rules
from bingan.records import announcements
from bingan.storage.models import IpRule
from bingan.web.admin import appearance
from bingan.web.admin.common import codes, done
from bingan.web.deps import DB, Ctx, permission, public
from bingan.web.errors import back_on_refusal
from bingan.web.inputs import RowId
from bingan.web.render import page

router = APIRouter(include_in_schema=False)


def _messages(request: Request) -> dict:
    return {"error": request.query_params.get("error", ""), "message": request.query_params.get("message", "")}


@router.get("/admin/rules", response_class=HTMLResponse)
def ip_rules_page(request: Request, ctx: Ctx = permission("ip_rules.manage")) -> Response:
    rows = ctx.session.scalars(sa.select(IpRule).order_by(IpRule.id)).all()
    return page(request, "admin/ip_rules.html", ctx, rules=rows, kinds=rules.IP_KINDS, client_ip=ctx.ip,
                **_messages(request))


@router.post("/admin/ip-rules", dependencies=[back_on_refusal("/admin/rules")])
def ip_rule_add(cidr: str = Form(""), kind: str = Form("block"), note: str = Form(""),
                ctx: Ctx = permission("ip_rules.manage")) -> Response:
    rules.add_ip_rule(ctx.session, ctx.actor, cidr, kind, note)
    return done("/admin/rules", "规则已添加")


@router.post("/admin/ip-rules/{item_id}", dependencies=[back_on_refusal("/admin/rules")])
def ip_rule_change(item_id: RowId, action: str = Form(...), ctx: Ctx = permission("ip_rules.manage")) -> Response:
    rules.change_ip_rule(ctx.session, ctx.actor, item_id, action)
    return done("/admin/rules", f"规则已{rules.RULE_ACTIONS[action]}")


# --- appearance ------------------------------------------------------------------------------

@router.get("/admin/appearance", response_class=HTMLResponse)
def appearance_page(request: Request, ctx: Ctx = permission("system.settings")) -> Response:
    return page(request, "admin/appearance.html", ctx, max_kb=appearance.MAX_LOGO_BYTES // 1024, **_messages(request))


@router.post("/admin/appearance", dependencies=[back_on_refusal("/admin/appearance")])
def appearance_save(hospital_name: str = Form(""), theme_color: str = Form(""),
                    ctx: Ctx = permission("system.settings")) -> Response:
    value = appearance.update(ctx.session, hospital_name, theme_color)
    ctx.audit("settings", object_type="appearance", detail={"医院名称": value["hospital_name"],
                                                            "主题色": value["theme_color"]})
    return done("/admin/appearance", "外观已保存")


@router.post("/admin/appearance/logo", dependencies=[back_on_refusal("/admin/appearance")])
async def logo_upload(logo: UploadFile | None = File(None), remove: str = Form(""),
                      ctx: Ctx = permission("system.settings")) -> Response:
    data = await logo.read(appearance.MAX_LOGO_BYTES + 1) if logo is not None else b""
    if remove:
        appearance.remove_logo(ctx.session)
    else:
        appearance.set_logo(ctx.session, data)
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
    return page(request, "admin/announcements.html", ctx, rows=announcements.all_announcements(ctx.session),
                **_messages(request))


@router.post("/admin/announcements", dependencies=[back_on_refusal("/admin/announcements")])
def announcements_add(title: str = Form(""), body: str = Form(""), days: int = Form(30), roles: str = Form(""),
                      ctx: Ctx = permission("announcements.manage")) -> Response:
    announcements.publish(ctx.session, ctx.actor, title, body, days, codes(roles))
    return done("/admin/announcements", "公告已发布")


@router.post("/admin/announcements/{item_id}/delete", dependencies=[back_on_refusal("/admin/announcements")])
def announcements_delete(item_id: RowId, ctx: Ctx = permission("announcements.manage")) -> Response:
    announcements.withdraw(ctx.session, ctx.actor, item_id)
    return done("/admin/announcements", "公告已删除")
