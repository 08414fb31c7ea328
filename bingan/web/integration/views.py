"""Integration pages: the signed embed entry (/embed), notices settings and delivery log (系统设置),
API tokens and embed systems (安全管理), and each user's WeCom / DingTalk binding (账号)."""
from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from bingan.access import api_tokens, embed
from bingan.errors import Refusal
from bingan.records.approvals.notifier import notify
from bingan.records.notices import service as notices
from bingan.records.notices.channels import BINDINGS, CHANNELS
from bingan.records.patients import parse_time
from bingan.web import navigation
from bingan.web.deps import DB, Ctx, client_ip, permission, public, signed_in
from bingan.web.inputs import RowId
from bingan.web.render import page
from bingan.web.security import EMBED_COOKIE, SESSION_COOKIE, cookie_options, framed_policy

router = APIRouter(include_in_schema=False)
navigation.register("系统设置", "消息通知", "/admin/notices", "system.settings")
navigation.register("系统设置", "接口与嵌入", "/admin/integration", "users.manage")
navigation.register("", "通知绑定", "/account/notices")

EVENT_KINDS = {"return": "质控退回/审批退回", "approval": "审批待办与结果", "reminder": "催办与到期提醒",
               "borrow": "借阅", "recall": "召回", "seal": "封存", "collection": "采集失败", "capacity": "存储容量",
               "overdue": "归档超期"}


@router.get("/embed", response_class=HTMLResponse, dependencies=[public()])
def embed_entry(request: Request, session: Session = DB) -> Response:
    """Open the page a hospital system's signed link names, for the member of staff it names."""
    params = {key: value[:200] for key, value in request.query_params.items()}
    try:
        opened = embed.open_link(session, params, client_ip(request))
    except embed.LinkRefused as refusal:
        session.commit()  # the refusal is audited, and a replayed nonce stays used
        # 403 for a registered system's link refused; 400 for a link no registered system made
        response = page(request, "integration/embed_refused.html", None, session=session, message=str(refusal),
                        status_code=403 if refusal.system is not None else 400)
        if refusal.system is not None:  # shown inside the system's iframe, not a blank blocked frame
            response.headers["Content-Security-Policy"] = framed_policy(refusal.system.origins)
        return response
    token = embed.open_session(session, opened, client_ip(request), request.headers.get("user-agent", ""))
    session.flush()
    response = RedirectResponse(opened.path, status_code=303)
    options = cookie_options(request)
    if options["secure"]:  # a cross-site iframe gets its cookies only with SameSite=None (https only)
        options["samesite"] = "none"
    response.set_cookie(SESSION_COOKIE, token, **options)
    response.set_cookie(EMBED_COOKIE, embed.frame_token(request.app.state.secret, opened.system.origins), **options)
    response.headers["Content-Security-Policy"] = framed_policy(opened.system.origins)
    return response


# ---- notices: settings and delivery log (系统设置) -------------------------------------------------

@router.get("/admin/notices", response_class=HTMLResponse)
def notices_page(request: Request, status: str = Query("", pattern="^(|pending|sent|failed)$"),
                 channel: str = Query("", max_length=16), ctx: Ctx = permission("system.settings")) -> Response:
    rows, total = notices.delivery_log(ctx.session, status=status, channel=channel if channel in CHANNELS else "")
    return page(request, "notices/settings.html", ctx, channels=notices.channels(ctx.session),
                site_url=notices.site_url(ctx.session), event_kinds=EVENT_KINDS, deliveries=rows, total=total,
                status=status, channel=channel, status_names=notices.STATUS_NAMES, channel_kinds=CHANNELS)


@router.post("/admin/notices/site")
def notices_site(site_url: str = Form("", max_length=200), ctx: Ctx = permission("system.settings")) -> Response:
    notices.save_site_url(ctx.session, ctx.actor, site_url)
    return RedirectResponse("/admin/notices", status_code=303)


@router.post("/admin/notices/channels/{code}")
async def notices_channel(request: Request, code: str = Path(..., max_length=16, pattern=r"^[a-z_]+$"),
                          ctx: Ctx = permission("system.settings")) -> Response:
    form = await request.form()
    values = {key: str(form.get(key, ""))[:500] for key in form if key not in {"csrf_token", "secret", "kinds"}}
    notices.save_channel(ctx.session, ctx.actor, code[:16], enabled=form.get("enabled") == "on", values=values,
                         kinds=[str(k)[:32] for k in form.getlist("kinds")], secret=str(form.get("secret", ""))[:500])
    return RedirectResponse("/admin/notices", status_code=303)


@router.post("/admin/notices/test")
def notices_test(ctx: Ctx = permission("system.settings")) -> Response:
    """A test notice to the administrator themself, through every enabled channel."""
    notify(ctx.session, ctx.user, "test", "病案系统测试通知", "收到此消息说明通知渠道配置正确。", "/admin/notices")
    return RedirectResponse("/admin/notices", status_code=303)


@router.post("/admin/notices/deliveries/{delivery_id}/retry")
def notices_retry(delivery_id: RowId, ctx: Ctx = permission("system.settings")) -> Response:
    notices.retry_now(ctx.session, ctx.actor, delivery_id)
    return RedirectResponse("/admin/notices?status=pending", status_code=303)


# ---- API tokens and embed systems (安全管理) --------------------------------------------------------

def _integration(request: Request, ctx: Ctx, **shown: object) -> Response:
    return page(request, "integration/admin.html", ctx, tokens=api_tokens.tokens(ctx.session),
                grantable=api_tokens.GRANTABLE, systems=embed.systems(ctx.session), targets=embed.TARGETS, **shown)


@router.get("/admin/integration", response_class=HTMLResponse)
def integration_page(request: Request, ctx: Ctx = permission("users.manage")) -> Response:
    return _integration(request, ctx)


@router.post("/admin/integration/tokens", response_class=HTMLResponse)
def token_create(request: Request, name: str = Form("", max_length=100), permissions: list[str] = Form([]),
                 expires: str = Form("", max_length=40), ctx: Ctx = permission("users.manage")) -> Response:
    row, token = api_tokens.create_token(ctx.session, ctx.actor, ctx.user, name, [p[:64] for p in permissions],
                                         _expiry(expires))
    return _integration(request, ctx, new_token=token, new_token_name=row.name)


def _expiry(text: str) -> datetime | None:
    if not text.strip():
        return None
    try:
        return parse_time(text)
    except ValueError as exc:
        raise Refusal("有效期应写成日期，例如 2027-12-31") from exc


@router.post("/admin/integration/tokens/{token_id}/revoke")
def token_revoke(token_id: RowId, ctx: Ctx = permission("users.manage")) -> Response:
    api_tokens.revoke_token(ctx.session, ctx.actor, token_id)
    return RedirectResponse("/admin/integration", status_code=303)


@router.post("/admin/integration/systems", response_class=HTMLResponse)
def system_create(request: Request, code: str = Form("", max_length=32), name: str = Form("", max_length=100),
                  origins: str = Form("", max_length=2000), ctx: Ctx = permission("users.manage")) -> Response:
    system, secret = embed.create_system(ctx.session, ctx.actor, code, name, origins.split())
    return _integration(request, ctx, new_secret=secret, new_system=system.name)


@router.post("/admin/integration/systems/{system_id}/enabled")
def system_enabled(system_id: RowId, enabled: str = Form(""), ctx: Ctx = permission("users.manage")) -> Response:
    embed.set_enabled(ctx.session, ctx.actor, system_id, enabled == "on")
    return RedirectResponse("/admin/integration", status_code=303)


# ---- each user's binding ------------------------------------------------------------------------

@router.get("/account/notices", response_class=HTMLResponse)
def binding_page(request: Request, ctx: Ctx = signed_in()) -> Response:
    return page(request, "notices/binding.html", ctx, bindings=notices.bindings_of(ctx.session, ctx.user),
                names=BINDINGS)


@router.post("/account/notices")
def binding_save(wecom: str = Form("", max_length=64), dingtalk: str = Form("", max_length=64),
                 ctx: Ctx = signed_in()) -> Response:
    for channel, external_id in (("wecom", wecom), ("dingtalk", dingtalk)):
        if notices.bound_id(ctx.session, ctx.user, channel) != external_id.strip():
            notices.bind(ctx.session, ctx.actor, ctx.user, channel, external_id)
    return RedirectResponse("/account/notices", status_code=303)
