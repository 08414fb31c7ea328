"""The FastAPI application factory: routers, templates, static assets."""
from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from bingan.config import Settings, get_settings
from bingan.storage.db import get_engine
from bingan.web.status import database_check, status_report

HERE = Path(__file__).parent
REPO_ROOT = HERE.parent.parent
templates = Jinja2Templates(directory=HERE / "templates")


def filesize(value: int | None) -> str:
    """Bytes as a short human figure (1.5 GB)."""
    size = float(value or 0)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return ""


templates.env.filters["filesize"] = filesize


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(title="Bingan 病案", version="0.1.0", docs_url="/api/docs", openapi_url="/api/v1/openapi.json")
    app.state.settings = settings
    app.state.engine = get_engine(settings)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    vendor = REPO_ROOT / "node_modules"
    if vendor.is_dir():
        app.mount("/vendor", StaticFiles(directory=vendor), name="vendor")

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> JSONResponse:
        check = database_check(app.state.engine)
        return JSONResponse({"ok": check.ok, "database": check.detail}, status_code=200 if check.ok else 503)

    @app.get("/admin/status", response_class=HTMLResponse)
    def status_page(request: Request) -> HTMLResponse:
        report = status_report(app.state.settings, app.state.engine)
        return templates.TemplateResponse(request, "status.html", {"report": report, "settings": settings})

    @app.get("/api/v1/status")
    def status_json() -> dict:
        return status_report(app.state.settings, app.state.engine)

    return app
