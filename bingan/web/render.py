"""Rendering pages: the common context (user, menu and breadcrumbs, CSRF token, theme) every template receives."""
from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from bingan.storage.system_settings import read_watched_setting
from bingan.web.deps import Ctx
from bingan.web.navigation import menu_for
from bingan.web.security import request_csrf_token
from bingan.web.templating import templates

DEFAULT_THEME = {"theme_color": "#1f5f8b", "logo_url": ""}


def appearance(session: Session | None, hospital_name: str = "") -> dict[str, str]:
    """Theme colour, logo address and hospital name; the configured name until an administrator sets one."""
    theme = {**DEFAULT_THEME, "hospital_name": hospital_name}
    value = read_watched_setting(session, "appearance") if session is not None else {}
    stored = {k: v for k, v in value.items() if k != "logo"}  # not the bytes
    return {**theme, **{k: v for k, v in stored.items() if v}}


def hospital_name(request: Request, session: Session | None) -> str:
    return appearance(session, request.app.state.settings.hospital_name)["hospital_name"]


def page(request: Request, template: str, ctx: Ctx | None, status_code: int = 200,
         session: Session | None = None, **data: Any) -> HTMLResponse:
    menu = menu_for(request.app, ctx) if ctx is not None else None
    context = {
        "settings": request.app.state.settings, "ctx": ctx, "user": ctx.user if ctx else None,
        "menu": menu, "crumbs": menu.crumbs(request.url.path) if menu else [],  # a page may pass its own
        "csrf_token": request_csrf_token(request),
        "theme": appearance(session or (ctx.session if ctx else None), request.app.state.settings.hospital_name),
        **data,
    }
    return templates.TemplateResponse(request, template, context, status_code=status_code)
