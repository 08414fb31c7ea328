"""Leak tracing (F2 甄别) for the security administrator: upload a photo or screenshot of a page,
pick the page or let the system find it among recently served pages, get the user and time back.
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from PIL import Image

from bingan.formats import watermark
from bingan.formats.base import FormatError
from bingan.formats.images import open_upload
from bingan.records.pages import PageRenderer
from bingan.storage.models import AuditEvent, Document, User, Version
from bingan.web.deps import Ctx, permission
from bingan.web.inputs import parse_id
from bingan.web.render import page

router = APIRouter(include_in_schema=False)
CANDIDATES = 60  # most recently served distinct pages compared when the page is not given
MAX_UPLOAD = 25 * 1024 * 1024
MAX_PHOTO_PIXELS = 50_000_000  # a 50-MP phone photo; decoding more is a bomb, not a picture of a page
PHOTO_RULE = "支持 JPEG、PNG，不超过 25 MB、5000 万像素"


@dataclass
class Finding:
    document_id: int
    page: int
    version: Version
    score: int


def _renderer(request: Request) -> PageRenderer:
    app = request.app
    if not hasattr(app.state, "renderer"):
        app.state.renderer = PageRenderer(app.state.settings)
    return app.state.renderer


def candidates(ctx: Ctx) -> list[tuple[int, int]]:
    """Distinct (document, page) pairs from recent page_view events, newest first."""
    rows = ctx.session.execute(
        sa.select(AuditEvent.document_id, AuditEvent.page).where(AuditEvent.action == "page_view")
        .order_by(AuditEvent.id.desc()).limit(2000)
    ).all()
    seen: list[tuple[int, int]] = []
    for document_id, number in rows:
        if document_id and number and (document_id, number) not in seen:
            seen.append((document_id, number))
        if len(seen) >= CANDIDATES:
            break
    return seen


def find_page(request: Request, ctx: Ctx, suspect: Image.Image, pairs: list[tuple[int, int]]) -> Finding | None:
    renderer, best = _renderer(request), None
    for document_id, number in pairs:
        document = ctx.session.get(Document, document_id)
        version = ctx.session.get(Version, document.current_version_id) if document else None
        if version is None:
            continue
        score = watermark.match_score(suspect, renderer.base(version.sha256, version.media_type, number))
        if best is None or score > best.score:
            best = Finding(document_id, number, version, score)
    return best


@router.get("/admin/leak", response_class=HTMLResponse)
def leak_form(request: Request, ctx: Ctx = permission("leak.trace")) -> Response:
    return page(request, "admin/leak.html", ctx, result=None, error="")


@router.post("/admin/leak", response_class=HTMLResponse)
async def leak_trace(
    request: Request, file: UploadFile = File(...), document_id: str = Form(""), page_number: str = Form(""),
    ctx: Ctx = permission("leak.trace"),
) -> Response:
    data = await file.read(MAX_UPLOAD + 1)
    try:
        if len(data) > MAX_UPLOAD:
            raise ValueError
        suspect = open_upload(data, MAX_PHOTO_PIXELS).convert("RGB")
    except (FormatError, ValueError, OSError, SyntaxError) as error:
        reason = error.message if isinstance(error, FormatError) else "无法读取上传的图片"
        return page(request, "admin/leak.html", ctx, status_code=400, result=None, error=f"{reason}（{PHOTO_RULE}）")
    chosen = parse_id(document_id), parse_id(page_number)
    pairs = [chosen] if chosen[0] and chosen[1] else candidates(ctx)
    finding = find_page(request, ctx, suspect, pairs)
    if finding is None:
        return page(request, "admin/leak.html", ctx, status_code=404, result=None, error="没有找到可比对的页面")
    base = _renderer(request).base(finding.version.sha256, finding.version.media_type, finding.page)
    extraction = watermark.extract_invisible(suspect, base)
    user = ctx.session.get(User, extraction.payload.user_id) if extraction.payload else None
    ctx.audit("leak_trace", object_type="document", object_id=finding.document_id, document_id=finding.document_id,
              page=finding.page, detail={"结果": user.username if user else "未识别",
                                         "置信度": round(extraction.confidence, 2)})
    return page(request, "admin/leak.html", ctx, result={"finding": finding, "extraction": extraction, "user": user},
                error="")
