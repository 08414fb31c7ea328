"""The FastAPI application factory: routers, templates, static assets, error pages, the HTTP edge
(client address, body limits, security headers)."""
from __future__ import annotations

import logging
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.types import Scope

from bingan.config import Settings, get_settings
from bingan.ingest.historical import HISTORICAL_IMPORT
from bingan.records.approvals.inbox import MAX_ATTACHMENT
from bingan.records.jobs import register as register_job
from bingan.records.workflows import install as install_workflows
from bingan.storage.db import REQUEST_SLOTS, get_engine
from bingan.web.admin import api as admin_api
from bingan.web.admin import (
    backup_api,
    backup_views,
    dictionary_views,
    grants_views,
    leak_views,
    system_views,
    users_views,
)
from bingan.web.admin import views as admin_views
from bingan.web.admin.appearance import MAX_LOGO_BYTES
from bingan.web.approvals import api as approvals_api
from bingan.web.approvals import views as approvals_views
from bingan.web.archive_signature import api as archive_signature_api
from bingan.web.archive_signature import views as archive_signature_views
from bingan.web.auth import sso as auth_sso
from bingan.web.auth import views as auth_views
from bingan.web.body_limit import MIB, MULTIPART_OVERHEAD, BodyLimit
from bingan.web.borrowing import api as borrowing_api
from bingan.web.borrowing import views as borrowing_views
from bingan.web.ca_validation import api as ca_validation_api
from bingan.web.ca_validation import views as ca_validation_views
from bingan.web.client_address import ClientAddress
from bingan.web.completeness import api as completeness_api
from bingan.web.completeness import views as completeness_views
from bingan.web.deps import LoginRequired, public, signed_in
from bingan.web.devices import api as devices_api
from bingan.web.devices import views as devices_views
from bingan.web.digitisation import api as digitisation_api
from bingan.web.digitisation import import_api, import_views
from bingan.web.digitisation import views as digitisation_views
from bingan.web.errors import add_error_handlers, wants_json
from bingan.web.home import views as home_views
from bingan.web.inputs import input_guard
from bingan.web.integration import api as integration_api
from bingan.web.integration import views as integration_views
from bingan.web.jobs import api as jobs_api
from bingan.web.jobs import views as jobs_views
from bingan.web.lookup import api as lookup_api
from bingan.web.lookup import views as lookup_views
from bingan.web.lookup.service import MAX_NUMBERS
from bingan.web.monitoring import api as monitoring_api
from bingan.web.monitoring import views as monitoring_views
from bingan.web.personal import api as personal_api
from bingan.web.personal import views as personal_views
from bingan.web.push import api as push_api
from bingan.web.qc import api as qc_api
from bingan.web.qc import views as qc_views
from bingan.web.recall import api as recall_api
from bingan.web.recall import views as recall_views
from bingan.web.records import api as records_api
from bingan.web.records import views as records_views
from bingan.web.release import api as release_api
from bingan.web.release import (
    exports_api,
    exports_views,
    kiosk_views,
    ledger_api,
    ledger_views,
    online_api,
    online_views,
    rules_views,
    share_api,
    share_views,
)
from bingan.web.release import views as release_views
from bingan.web.reports import api as reports_api
from bingan.web.reports import views as reports_views
from bingan.web.request_slots import RequestSlots
from bingan.web.retention import api as retention_api
from bingan.web.retention import views as retention_views
from bingan.web.retry import RetryLocked
from bingan.web.scoring import api as scoring_api
from bingan.web.scoring import views as scoring_views
from bingan.web.sealing import api as sealing_api
from bingan.web.sealing import views as sealing_views
from bingan.web.search import api as search_api
from bingan.web.search import views as search_views
from bingan.web.security import (
    PRELOGIN_COOKIE,
    SecurityHeaders,
    cookie_options,
    csrf_guard,
    request_csrf_token,
    secret_key,
)
from bingan.web.sources import api as sources_api
from bingan.web.sources import views as sources_views
from bingan.web.statistics import api as statistics_api
from bingan.web.statistics import views as statistics_views
from bingan.web.status import database_check
from bingan.web.templating import HERE, filesize, templates
from bingan.web.versions import api as versions_api
from bingan.web.versions import views as versions_views

__all__ = ["create_app", "filesize", "templates"]
REPO_ROOT = HERE.parent.parent
log = logging.getLogger(__name__)
# Every page and API, in the order their routes are matched; imported plainly, so a router that
# fails to import fails start-up instead of vanishing.
ROUTERS = (
    auth_views.router, auth_sso.router, home_views.router, search_views.router,
    records_views.router, lookup_views.router, personal_views.router,
    admin_views.router, grants_views.router, leak_views.router,
    users_views.router, system_views.router, dictionary_views.router, backup_views.router, backup_api.router,
    admin_api.router, records_api.router, search_api.router, lookup_api.router, personal_api.router,
    approvals_views.router, approvals_api.router,
    jobs_views.router, jobs_api.router, retention_views.router, retention_api.router,
    versions_views.router, versions_api.router,
    recall_views.router, recall_api.router,
    sealing_views.router, sealing_api.router,
    archive_signature_views.router, archive_signature_api.router,
    ca_validation_views.router, ca_validation_api.router,
    release_views.router, release_api.router, exports_views.router, exports_api.router,
    share_views.router, share_api.router, ledger_views.router, ledger_api.router, rules_views.router,
    online_views.router, online_api.router, kiosk_views.router,
    borrowing_views.router, borrowing_api.router,
    completeness_views.router, completeness_api.router,
    digitisation_api.router,
    digitisation_views.router,
    sources_views.router, sources_api.router,
    import_views.router, import_api.router,
    reports_views.router, reports_api.router,
    statistics_views.router, statistics_api.router,
    devices_views.router, devices_api.router,
    integration_views.router, integration_api.router,  # before qc_api, whose /qc/{record_id} would take /qc/results
    qc_views.router, qc_api.router,
    scoring_views.router, scoring_api.router,
    monitoring_views.router, monitoring_api.router,
    push_api.router,  # authenticated by API key (PushGate), not by the browser session
)
# The front-end files the pages use; nothing else under node_modules is served.
VENDOR_FILES = frozenset({
    "htmx.org/dist/htmx.min.js", "swagger-ui-dist/swagger-ui-bundle.js", "swagger-ui-dist/swagger-ui.css",
    "echarts/dist/echarts.min.js",
})


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(  # the API description and its page are served behind the login (_add_api_docs)
        title="Bingan 病案 API", version="0.1.0", docs_url=None, redoc_url=None, openapi_url=None,
        dependencies=[Depends(csrf_guard), Depends(input_guard)],
    )
    app.state.settings = settings
    app.state.engine = get_engine(settings)
    app.state.secret = secret_key(settings)
    install_workflows()
    register_job(HISTORICAL_IMPORT)  # an ingest job: records/workflows.py may not import ingest
    _mount_assets(app)
    _add_healthz(app)
    _add_favicon(app)
    _add_api_docs(app)
    for router in ROUTERS:
        app.include_router(router)
    app.add_middleware(push_api.PushGate)  # refuses an unknown key or an oversized push before the body is read
    _add_handlers(app)
    # Added inside out. The pre-login cookie is read from the request state of the run RetryLocked
    # kept; RetryLocked sees the raw OperationalError and replays bodies already bounded; the security
    # headers reach every answer, the body limit's included; the client address comes first of all.
    _add_prelogin_cookie(app)
    app.add_middleware(RetryLocked)
    app.add_middleware(BodyLimit, ceiling=settings.max_request_mb * MIB, routes=_body_limits())
    app.add_middleware(RequestSlots, slots=REQUEST_SLOTS)  # a request waiting for its turn holds nothing
    app.add_middleware(SecurityHeaders)
    app.add_middleware(ClientAddress, trusted_proxies=settings.trusted_proxies)
    return app


def _body_limits() -> dict[str, int | None]:
    """Routes taking more than a form (FORM_BYTES): uploads their own size; None for the push API,
    whose gate bounds it by the pushing source's limit."""
    lookup = MAX_NUMBERS * 48 + MULTIPART_OVERHEAD  # a long record number and its separator, per number
    return {
        push_api.PUSH_PATH: None,
        "/admin/leak": leak_views.MAX_UPLOAD + MULTIPART_OVERHEAD,
        "/admin/appearance/logo": MAX_LOGO_BYTES + MULTIPART_OVERHEAD,
        "/lookup": lookup, "/api/v1/lookup": lookup,
        "/approvals/attachments": MAX_ATTACHMENT + MULTIPART_OVERHEAD,
        digitisation_api.SCANS_PATH: digitisation_api.MAX_UPLOAD,
        digitisation_api.RESHOOT_PATH: digitisation_api.MAX_UPLOAD,
        digitisation_views.UPLOAD_PATH: digitisation_api.MAX_UPLOAD,
        digitisation_views.RESHOOT_PATH: digitisation_api.MAX_UPLOAD,
        scoring_views.EDIT_PATH: scoring_views.EDIT_BYTES,
    }


class VendorFiles(StaticFiles):
    """Only the listed files: no directory listing, no package.json or README of the packages around them."""

    def __init__(self, directory: str, files: frozenset[str]) -> None:
        super().__init__(directory=directory)
        self.files = files

    async def get_response(self, path: str, scope: Scope) -> Response:
        if path not in self.files:
            raise HTTPException(status_code=404)
        return await super().get_response(path, scope)


def _mount_assets(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    vendor = REPO_ROOT / "node_modules"
    if vendor.is_dir():
        app.mount("/vendor", VendorFiles(str(vendor), VENDOR_FILES), name="vendor")


def _add_healthz(app: FastAPI) -> None:
    @app.get("/healthz", include_in_schema=False, dependencies=[public()])
    def healthz() -> JSONResponse:
        """For load balancers: up or not, nothing about the database or versions (the status page has those)."""
        ok = database_check(app.state.engine).ok
        return JSONResponse({"ok": ok}, status_code=200 if ok else 503)


def _add_favicon(app: FastAPI) -> None:
    @app.get("/favicon.ico", include_in_schema=False, dependencies=[public()])
    def favicon() -> FileResponse:
        """Browsers ask for /favicon.ico whatever the page links: the same SVG icon (modern browsers take it)."""
        return FileResponse(HERE / "static" / "favicon.svg", media_type="image/svg+xml",
                            headers={"Cache-Control": "public, max-age=86400"})


def _add_api_docs(app: FastAPI) -> None:
    """The API description and its Swagger UI (assets under /vendor), for signed-in users only."""

    @app.get("/api/v1/openapi.json", include_in_schema=False, dependencies=[signed_in()])
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/api/docs", include_in_schema=False, response_class=HTMLResponse, dependencies=[signed_in()])
    def api_docs(request: Request) -> Response:
        return templates.TemplateResponse(request, "api_docs.html", {"csrf_token": request_csrf_token(request)})


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


def _add_prelogin_cookie(app: FastAPI) -> None:
    @app.middleware("http")
    async def prelogin_cookie(request: Request, call_next):
        response = await call_next(request)
        new_prelogin = getattr(request.state, "new_prelogin", "")
        if new_prelogin and not request.cookies.get(PRELOGIN_COOKIE):
            response.set_cookie(PRELOGIN_COOKIE, new_prelogin, **cookie_options(request))
        return response
