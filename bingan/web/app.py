"""The FastAPI application factory: routers, templates, static assets, error pages, security headers."""
from __future__ import annotations

import importlib
import logging
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from bingan.config import Settings, get_settings
from bingan.storage.db import get_engine
from bingan.web.deps import LoginRequired, public
from bingan.web.errors import add_error_handlers, wants_json
from bingan.web.inputs import input_guard
from bingan.web.retry import RetryLocked
from bingan.web.security import PRELOGIN_COOKIE, csrf_guard, secret_key
from bingan.web.status import database_check
from bingan.web.templating import HERE, filesize, templates

__all__ = ["create_app", "filesize", "templates"]
REPO_ROOT = HERE.parent.parent
log = logging.getLogger(__name__)
ROUTER_MODULES = (
    "bingan.web.auth.views", "bingan.web.home.views", "bingan.web.search.views",
    "bingan.web.records.views", "bingan.web.lookup.views", "bingan.web.personal.views",
    "bingan.web.admin.views", "bingan.web.admin.leak_views",
    "bingan.web.admin.users_views", "bingan.web.admin.system_views", "bingan.web.api.admin_views",
    "bingan.web.api.views",
)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="Bingan 病案 API", version="0.1.0", docs_url="/api/docs", redoc_url=None,
        openapi_url="/api/v1/openapi.json", dependencies=[Depends(csrf_guard), Depends(input_guard)],
    )
    app.state.settings = settings
    app.state.engine = get_engine(settings)
    app.state.secret = secret_key(settings)
    _mount_assets(app)
    _add_healthz(app)
    for name in ROUTER_MODULES:
        app.include_router(importlib.import_module(name).router)
    _include_push_api(app)
    _add_handlers(app)
    _add_headers(app)
    app.add_middleware(RetryLocked)  # outermost but the error page: sees the raw OperationalError
    return app


def _mount_assets(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    vendor = REPO_ROOT / "node_modules"
    if vendor.is_dir():
        app.mount("/vendor", StaticFiles(directory=vendor), name="vendor")


def _add_healthz(app: FastAPI) -> None:
    @app.get("/healthz", include_in_schema=False, dependencies=[public()])
    def healthz() -> JSONResponse:
        check = database_check(app.state.engine)
        return JSONResponse({"ok": check.ok, "database": check.detail}, status_code=200 if check.ok else 503)


def _include_push_api(app: FastAPI) -> None:
    """The ingest push API authenticates by API key (its own router), not by the browser session."""
    try:
        module = importlib.import_module("bingan.ingest.push_api")
    except ImportError:
        return
    router = getattr(module, "router", None)
    if router is not None:
        app.include_router(router)
        app.add_middleware(module.PushGate)  # refuses before the body is read


def _add_handlers(app: FastAPI) -> None:
    add_error_handlers(app)

    @app.exception_handler(LoginRequired)
    def login_required(request: Request, exc: LoginRequired) -> Response:
        if wants_json(request):
            return JSONResponse({"detail": exc.message or "请先登录"}, status_code=401)
        target = exc.location
        if target == "/login":
            target = f"/login?next={quote(str(request.url.path))}"
            if exc.message:
                target += f"&message={quote(exc.message)}"
        if request.headers.get("hx-request"):
            return Response(status_code=204, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)


def _add_headers(app: FastAPI) -> None:
    @app.middleware("http")
    async def headers(request: Request, call_next):
        response = await call_next(request)
        new_prelogin = getattr(request.state, "new_prelogin", "")
        if new_prelogin and not request.cookies.get(PRELOGIN_COOKIE):
            response.set_cookie(PRELOGIN_COOKIE, new_prelogin, httponly=True, samesite="lax", path="/")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if not request.url.path.startswith(("/static", "/vendor")):
            response.headers.setdefault("Cache-Control", "no-store")  # patient data stays off shared caches
        return response
