"""Cookie names, the signing secret and CSRF tokens (double submit, bound to the session cookie)."""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets

from fastapi import HTTPException, Request
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bingan.access.embed import framing_origins
from bingan.config import Settings

SESSION_COOKIE = "bingan_session"
EMBED_COOKIE = "bingan_embed"  # set by a signed embed link: who may frame the pages (access/embed.py)
PRELOGIN_COOKIE = "bingan_pre"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Routes with their own authentication (an API key, not the browser session) skip CSRF.
CSRF_EXEMPT_PREFIXES = ("/api/v1/ingest",)
CSRF_ERROR = "页面已过期或请求来源不可信（CSRF 校验失败），请刷新页面后重试"


def secret_key(settings: Settings) -> bytes:
    """The web application's secret (CSRF tokens, the page cache): BINGAN_SECRET_KEY, or a random key
    generated once into HOME/secret.key (0600). The audit chain has its own key (audit_head), so
    whoever learns this one still cannot forge audit events."""
    if settings.secret_key:
        return settings.secret_key.encode()
    path = settings.resolved_home / "secret.key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip().encode()  # made on an earlier start or by another process
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


def api_bearer(request: Request) -> str:
    """The API token of a hospital system calling /api/ (Authorization: Bearer …), or ""."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not request.url.path.startswith("/api/"):
        return ""
    return token.strip()


def csrf_token_for(key: bytes, cookie_value: str) -> str:
    """A token only a page served to the holder of this cookie can know."""
    return hmac.new(key, b"csrf:" + cookie_value.encode(), hashlib.sha256).hexdigest()


def csrf_base(request: Request) -> str:
    return request.cookies.get(SESSION_COOKIE) or request.cookies.get(PRELOGIN_COOKIE) or ""


def request_csrf_token(request: Request) -> str:
    """The token pages embed in forms; also starts the pre-login cookie when needed."""
    base = csrf_base(request)
    if not base:
        base = getattr(request.state, "new_prelogin", "") or secrets.token_urlsafe(24)
        request.state.new_prelogin = base
    return csrf_token_for(request.app.state.secret, base)


async def csrf_guard(request: Request) -> None:
    """Applied to every route: unsafe methods need the token from a form field or X-CSRF-Token."""
    if request.method in SAFE_METHODS or request.url.path.startswith(CSRF_EXEMPT_PREFIXES):
        return
    if api_bearer(request):  # no cookie is used, so no other site can make the browser send it
        return
    sent = request.headers.get("x-csrf-token", "")
    content_type = request.headers.get("content-type", "")
    if not sent and content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        sent = str((await request.form()).get("csrf_token", ""))
    base = csrf_base(request)
    if not base or not sent or not hmac.compare_digest(sent, csrf_token_for(request.app.state.secret, base)):
        raise HTTPException(status_code=403, detail=CSRF_ERROR)


def cookie_options(request: Request) -> dict:
    """Both cookies (session and pre-login): HttpOnly, SameSite=Lax, and Secure when the request came
    by https or BINGAN_SECURE_COOKIES says users reach Bingan by https (through a TLS proxy)."""
    secure = request.app.state.settings.secure_cookies or request.url.scheme == "https"
    return {"httponly": True, "samesite": "lax", "path": "/", "secure": secure}


# Everything the pages load comes from this server: no inline script or style, no CDN, no framing.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data: blob:",
    "object-src 'none'", "base-uri 'self'", "form-action 'self'", "frame-ancestors 'none'",
))
HSTS = "max-age=31536000"
ASSET_PREFIXES = ("/static/", "/vendor/")


class SecurityHeaders:
    """Headers on every answer, the refusals of the gates in front of the routes included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                _add_security_headers(MutableHeaders(scope=message), scope)
            await send(message)

        await self.app(scope, receive, with_headers)


def framed_policy(origins: list[str]) -> str:
    """The policy of a page that a hospital system on the allow-list may show in its iframe (W1)."""
    return CONTENT_SECURITY_POLICY.replace("frame-ancestors 'none'", "frame-ancestors 'self' " + " ".join(origins))


def _embedding_origins(scope: Scope) -> list[str]:
    """The origins a signed embed link allowed this browser's pages to be framed by (its cookie)."""
    cookie = cookie_parser(Headers(scope=scope).get("cookie", "")).get(EMBED_COOKIE, "")
    app = scope.get("app")
    if not cookie or app is None:
        return []
    return framing_origins(app.state.secret, cookie)


def _add_security_headers(headers: MutableHeaders, scope: Scope) -> None:
    origins = _embedding_origins(scope)
    headers.setdefault("Content-Security-Policy", framed_policy(origins) if origins else CONTENT_SECURITY_POLICY)
    if scope["scheme"] == "https":  # over plain HTTP browsers ignore it, and a proxy may decide otherwise
        headers.setdefault("Strict-Transport-Security", HSTS)
    if "frame-ancestors 'none'" in headers["Content-Security-Policy"]:
        headers.setdefault("X-Frame-Options", "DENY")  # browsers without CSP level 2
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    if not scope["path"].startswith(ASSET_PREFIXES):
        headers.setdefault("Cache-Control", "no-store")  # patient data stays off shared caches
