"""Sign-on without a typed password: the hospital's single sign-on (OIDC or CAS, BINGAN_SSO) and CA
certificate login through the TLS proxy (BINGAN_CLIENT_CERT_HEADER). The checks live in
bingan.access.sso; here the redirects, the signed cookie carrying state across them, and the pages."""
from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from bingan.access.sessions import LoginRefused, sign_in_verified
from bingan.access.sso import cas, client_certificates, oidc
from bingan.access.sso.identities import Asserted, user_for
from bingan.config import Settings
from bingan.storage.models import utcnow
from bingan.web.auth.views import _after_login, _safe_next
from bingan.web.deps import DB, client_ip, public
from bingan.web.render import page
from bingan.web.security import SESSION_COOKIE, cookie_options

router = APIRouter(include_in_schema=False)
STATE_COOKIE = "bingan_sso"
STATE_SECONDS = 600  # a sign-on left at the provider's page longer than this starts again
CALLBACK = "/login/sso/callback"


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _signer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(request.app.state.secret, salt="bingan-sso-state")


def _external(request: Request, path: str) -> str:
    return str(request.base_url).rstrip("/") + path


@router.get("/login/sso", dependencies=[public()])
def sso_start(request: Request, next: str = "/") -> Response:
    settings = _settings(request)
    if not settings.sso:
        raise HTTPException(status_code=404, detail="未启用统一身份认证")
    carried = {"kind": settings.sso, "next": _safe_next(next)}
    try:
        if settings.sso == "oidc":
            url, pending = oidc.start(settings, _external(request, CALLBACK))
            carried.update(pending)
        else:
            url = cas.login_url(settings, _external(request, CALLBACK))
    except LoginRefused as refusal:
        return _refused_page(request, None, str(refusal))
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(STATE_COOKIE, _signer(request).dumps(carried), max_age=STATE_SECONDS,
                        **cookie_options(request))
    return response


@router.get(CALLBACK, dependencies=[public()])
def sso_callback(request: Request, session: Session = DB) -> Response:
    settings = _settings(request)
    if not settings.sso:
        raise HTTPException(status_code=404, detail="未启用统一身份认证")
    try:
        carried = _signer(request).loads(request.cookies.get(STATE_COOKIE, ""), max_age=STATE_SECONDS)
    except BadSignature:
        return _refused_page(request, session, "统一身份认证登录已过期或不是从本页发起，请重新登录")
    params = dict(request.query_params)
    try:
        if carried.get("kind") == "oidc" == settings.sso:
            signed_on = oidc.finish(settings, _external(request, CALLBACK), carried, params)
            asserted, second = signed_on.asserted, oidc.second_factor_asserted(settings, signed_on.amr)
        elif carried.get("kind") == "cas" == settings.sso:
            asserted, second = cas.validate(settings, _external(request, CALLBACK), params.get("ticket", "")), False
        else:
            raise LoginRefused("统一身份认证方式已更改，请重新登录")
        response = _signed_in(request, session, asserted, settings.sso, second, carried.get("next", "/"))
    except LoginRefused as refusal:
        return _refused_page(request, session, str(refusal))
    response.delete_cookie(STATE_COOKIE, path="/")
    return response


@router.get("/login/certificate", dependencies=[public()])
def certificate_login(request: Request, next: str = "/", session: Session = DB) -> Response:
    settings = _settings(request)
    if not settings.client_cert_header:
        raise HTTPException(status_code=404, detail="未启用 CA 证书登录")
    value = request.headers.get(settings.client_cert_header, "")
    try:
        # Only a trusted TLS proxy may say which certificate the browser showed (client_address.py).
        if not request.scope.get("bingan.via_trusted_proxy") or not value:
            raise LoginRefused("未收到客户端证书：请插入 CA 证书（USB Key）后经医院 HTTPS 地址访问")
        cert = client_certificates.check(settings, client_certificates.from_header(value), utcnow())
        # The certificate (a key the user holds, unlocked by its PIN) is the second factor itself.
        return _signed_in(request, session, client_certificates.asserted(settings, cert), "certificate", True,
                          next)
    except LoginRefused as refusal:
        return _refused_page(request, session, str(refusal))


@router.get("/login/sso/logout", response_class=HTMLResponse, dependencies=[public()])
def provider_logout(request: Request, via: str = "") -> Response:
    """After Bingan's session ended: on to the provider's logout, from a page of its own because
    the Content-Security-Policy (form-action 'self') stops the logout form's redirect leaving the site."""
    url = provider_logout_url(request, via)
    if url is None:
        return RedirectResponse("/login?message=已退出登录", status_code=303)
    return page(request, "auth/sso_logout.html", None, url=url)


def provider_logout_url(request: Request, method: str) -> str | None:
    """The identity provider's logout for a session opened through it (None: nothing to end there)."""
    settings = _settings(request)
    back = _external(request, "/login")  # the address registered at the provider: plain, no query
    if method == "oidc" == settings.sso:
        return oidc.logout_url(settings, back)
    if method == "cas" == settings.sso:
        return cas.logout_url(settings, back)
    return None


def _signed_in(request: Request, session: Session, asserted: Asserted, method: str, second_factor: bool,
               next_path: str) -> Response:
    ip = client_ip(request)
    user = user_for(session, asserted, _settings(request), ip)
    result = sign_in_verified(session, user, ip, request.headers.get("user-agent", ""), method, second_factor)
    session.flush()
    response = RedirectResponse(_after_login(user, result.web_session, next_path), status_code=303)
    response.set_cookie(SESSION_COOKIE, result.token, **cookie_options(request))
    return response


def _refused_page(request: Request, session: Session | None, reason: str) -> Response:
    if session is not None:
        session.commit()  # the refusal's audit event is kept
    response = page(request, "auth/login.html", None, status_code=401, session=session, next="/", message="",
                    error=reason)
    response.delete_cookie(STATE_COOKIE, path="/")
    return response
