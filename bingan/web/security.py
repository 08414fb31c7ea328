"""Cookie names, the signing secret and CSRF tokens (double submit, bound to the session cookie)."""
from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import HTTPException, Request

from bingan.access import audit_head
from bingan.config import Settings

SESSION_COOKIE = "bingan_session"
PRELOGIN_COOKIE = "bingan_pre"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Routes with their own authentication (an API key, not the browser session) skip CSRF.
CSRF_EXEMPT_PREFIXES = ("/api/v1/ingest",)
CSRF_ERROR = "页面已过期或请求来源不可信（CSRF 校验失败），请刷新页面后重试"


def secret_key(settings: Settings) -> bytes:
    """The installation's secret (BINGAN_SECRET_KEY or HOME/secret.key); shared with the audit head file."""
    return audit_head.secret_key(settings)


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
    sent = request.headers.get("x-csrf-token", "")
    content_type = request.headers.get("content-type", "")
    if not sent and content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        sent = str((await request.form()).get("csrf_token", ""))
    base = csrf_base(request)
    if not base or not sent or not hmac.compare_digest(sent, csrf_token_for(request.app.state.secret, base)):
        raise HTTPException(status_code=403, detail=CSRF_ERROR)


def secure_cookies(request: Request, configured: bool) -> bool:
    return configured or request.url.scheme == "https"
