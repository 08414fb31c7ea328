"""Rendering pages: the common context (user, menu, CSRF token, theme) every template receives."""
from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from bingan.storage.models import SystemSetting
from bingan.web.deps import Ctx
from bingan.web.security import request_csrf_token
from bingan.web.templating import templates

# (permission or "" for everyone, label, path); the menu shows what the user may open.
MENU = [
    ("", "首页", "/"),
    ("search.use", "检索", "/search"),
    ("lookup.use", "批量查询", "/lookup"),
    ("", "浏览历史", "/history"),
    ("", "收藏夹", "/favourites"),
    ("audit.read", "审计日志", "/admin/audit"),
    ("leak.trace", "泄露溯源", "/admin/leak"),
    ("system.status", "系统状态", "/admin/status"),
    ("users.manage", "用户", "/admin/users"),
    ("roles.manage", "角色权限", "/admin/roles"),
    ("ip_rules.manage", "访问规则", "/admin/rules"),
    ("users.manage", "安全设置", "/admin/security"),
    ("system.settings", "外观", "/admin/appearance"),
    ("announcements.manage", "公告", "/admin/announcements"),
]
DEFAULT_THEME = {"theme_color": "#1f5f8b", "logo_url": ""}


def appearance(session: Session | None, hospital_name: str = "") -> dict[str, str]:
    """Theme colour, logo address and hospital name; the configured name until an administrator sets one."""
    theme = {**DEFAULT_THEME, "hospital_name": hospital_name}
    setting = session.get(SystemSetting, "appearance") if session is not None else None
    stored = {k: v for k, v in (setting.value if setting else {}).items() if k != "logo"}  # not the bytes
    return {**theme, **{k: v for k, v in stored.items() if v}}


def hospital_name(request: Request, session: Session | None) -> str:
    return appearance(session, request.app.state.settings.hospital_name)["hospital_name"]


def page(request: Request, template: str, ctx: Ctx | None, status_code: int = 200,
         session: Session | None = None, **data: Any) -> HTMLResponse:
    menu = []
    if ctx is not None:
        menu = [(label, path) for perm, label, path in MENU if not perm or ctx.can(perm)]
    context = {
        "settings": request.app.state.settings, "ctx": ctx, "user": ctx.user if ctx else None,
        "menu": menu, "csrf_token": request_csrf_token(request),
        "theme": appearance(session or (ctx.session if ctx else None), request.app.state.settings.hospital_name),
        **data,
    }
    return templates.TemplateResponse(request, template, context, status_code=status_code)
