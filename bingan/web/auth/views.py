"""Login, logout, first-login password change and the TOTP second factor (S4)."""
from __future__ import annotations

from urllib.parse import quote, urlparse

import segno
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from bingan.access.accounts import FIRST_ADMIN_PASSWORD_FILE, forget_first_admin_password
from bingan.access.sealed_secrets import SecretBox
from bingan.access.sessions import (
    LoginRefused,
    change_password,
    confirm_enrolment,
    login,
    logout,
    provisioning_uri,
    start_enrolment,
    verify_second_factor,
)
from bingan.web.deps import DB, Ctx, client_ip, pending, pending_stage, public
from bingan.web.render import page
from bingan.web.security import SESSION_COOKIE, cookie_options

router = APIRouter(include_in_schema=False)


def _safe_next(target: str) -> str:
    """Only same-site paths: an open redirect would help phishing."""
    parsed = urlparse(target or "/")
    if parsed.scheme or parsed.netloc or not (target or "/").startswith("/") or target.startswith("//"):
        return "/"
    return target or "/"


@router.get("/login", response_class=HTMLResponse, dependencies=[public()])
def login_form(request: Request, next: str = "/", message: str = "", session: Session = DB) -> Response:
    return page(request, "auth/login.html", None, session=session, next=_safe_next(next), message=message,
                error="")


@router.post("/login", dependencies=[public()])
def login_submit(
    request: Request,
    username: str = Form(""),
    password: str = Form(""),
    next: str = Form("/"),
    session: Session = DB,
) -> Response:
    try:
        result = login(session, username.strip(), password, client_ip(request),
                       request.headers.get("user-agent", ""),
                       password_for_sso_users=request.app.state.settings.sso_password_login)
    except LoginRefused as refusal:
        session.commit()  # failed attempts and lockouts must be kept
        return page(request, "auth/login.html", None, status_code=401, session=session,
                    next=_safe_next(next), message="", error=str(refusal), username=username)
    session.flush()
    response = RedirectResponse(_after_login(result.web_session.user, result.web_session, next), status_code=303)
    response.set_cookie(SESSION_COOKIE, result.token, **cookie_options(request))
    return response


def _after_login(user, web_session, next_path: str) -> str:
    stage = pending_stage(Ctx(user, web_session, "", None))  # type: ignore[arg-type]
    return stage or _safe_next(next_path)


@router.post("/logout", dependencies=[public()])
def logout_submit(request: Request, session: Session = DB) -> Response:
    from bingan.access.sessions import find_session

    web_session = find_session(session, request.cookies.get(SESSION_COOKIE))
    method = web_session.login_method if web_session is not None else "password"
    if web_session is not None:
        logout(session, web_session, client_ip(request))
    # A session opened by single sign-on also ends at the identity provider (via a page: CSP form-action)
    target = f"/login/sso/logout?via={method}" if method in ("oidc", "cas") else "/login?message=已退出登录"
    response = RedirectResponse(target, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/account/password", response_class=HTMLResponse)
def password_form(request: Request, ctx: Ctx = pending()) -> Response:
    return page(request, "auth/password.html", ctx, problems=[], forced=ctx.user.must_change_password)


@router.post("/account/password")
def password_submit(
    request: Request,
    current: str = Form(""),
    new: str = Form(""),
    confirm: str = Form(""),
    ctx: Ctx = pending(),
) -> Response:
    problems = change_password(ctx.session, ctx.user, current, new, confirm, ctx.ip, ctx.web_session)
    if problems:
        return page(request, "auth/password.html", ctx, status_code=400, problems=problems,
                    forced=ctx.user.must_change_password)
    if ctx.user.username == "admin":
        forget_first_admin_password(request.app.state.settings.resolved_home / FIRST_ADMIN_PASSWORD_FILE)
    return RedirectResponse(pending_stage(ctx) or "/?message=密码已修改", status_code=303)


@router.get("/account/totp", response_class=HTMLResponse)
def totp_enrol_form(request: Request, ctx: Ctx = pending()) -> Response:
    return _enrol_page(request, ctx, "")


def _enrol_page(request: Request, ctx: Ctx, error: str, status_code: int = 200) -> Response:
    secret = start_enrolment(ctx.session, ctx.user, _box(request))
    uri = provisioning_uri(ctx.user, secret, request.app.state.settings.hospital_name + " 病案")
    qr_svg = segno.make(uri, error="m").svg_inline(scale=5)
    return page(request, "auth/totp_enrol.html", ctx, status_code=status_code, uri=uri, secret=secret,
                qr_svg=qr_svg, error=error, replacing=bool(ctx.user.totp_secret))


def _box(request: Request) -> SecretBox:
    return SecretBox.of(request.app.state.settings)


@router.post("/account/totp")
def totp_enrol_submit(request: Request, code: str = Form(""), current_code: str = Form(""),
                      ctx: Ctx = pending()) -> Response:
    try:
        if not confirm_enrolment(ctx.session, ctx.user, ctx.web_session, code, ctx.ip, _box(request),
                                 current_code=current_code):
            return _enrol_page(request, ctx, "请先扫描二维码", status_code=400)
    except LoginRefused as refusal:
        return _code_refused(request, ctx, str(refusal), lambda error: _enrol_page(request, ctx, error, 400))
    return RedirectResponse(pending_stage(ctx) or "/", status_code=303)


def _code_refused(request: Request, ctx: Ctx, message: str, again) -> Response:
    """Keep the counted failure; a locked account goes back to the login page with the reason."""
    ctx.session.commit()
    if ctx.user.locked_until is not None:  # locked: every session of the user has ended
        response = RedirectResponse(f"/login?message={quote(message)}", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response
    return again(message)


@router.get("/login/totp", response_class=HTMLResponse)
def totp_form(request: Request, ctx: Ctx = pending()) -> Response:
    return page(request, "auth/totp.html", ctx, error="")


@router.post("/login/totp")
def totp_submit(request: Request, code: str = Form(""), ctx: Ctx = pending()) -> Response:
    try:
        verify_second_factor(ctx.session, ctx.user, ctx.web_session, code, ctx.ip, _box(request))
    except LoginRefused as refusal:
        return _code_refused(request, ctx, str(refusal),
                             lambda error: page(request, "auth/totp.html", ctx, status_code=400, error=error))
    return RedirectResponse(pending_stage(ctx) or "/", status_code=303)
