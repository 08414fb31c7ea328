"""The record page, the page viewer, page images, thumbnails and downloads — all behind the gate."""
from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from bingan.access.policy import CONFIDENTIALITY_NAMES
from bingan.formats import watermark
from bingan.storage.models import Version, utcnow
from bingan.web.deps import Ctx, RecordAccess, document_gate, record_gate
from bingan.web.inputs import PageNumber, VersionParam
from bingan.web.personal import service as personal
from bingan.web.records import service
from bingan.web.records.rendering import PageRenderer, serve_page, thumbnail
from bingan.web.render import hospital_name, page

router = APIRouter(include_in_schema=False)
JPEG = "image/jpeg"


def renderer(request: Request) -> PageRenderer:
    """One renderer (and memory cache) per application."""
    app = request.app
    if not hasattr(app.state, "renderer"):
        app.state.renderer = PageRenderer(app.state.settings, app.state.secret)
    return app.state.renderer


def overlay_lines(request: Request, ctx: Ctx) -> tuple[str, ...]:
    return watermark.visible_lines(ctx.user.full_name, ctx.user.staff_number or ctx.user.username, ctx.ip,
                                   hospital_name(request, ctx.session), utcnow())


@router.get("/records/{record_id}", response_class=HTMLResponse)
def record_page(request: Request, access: RecordAccess = record_gate("view")) -> Response:
    ctx, record = access.ctx, access.record
    prefs = personal.preferences(ctx.user)
    groups = service.documents_by_category(ctx.session, ctx.subject, record, prefs.hidden_categories)
    response = page(request, "records/record.html", ctx, record=record, groups=groups,
                    events=service.timeline(ctx.session, record.id),
                    favourite=personal.is_favourite(ctx.session, ctx.user, record.id),
                    confidentiality=CONFIDENTIALITY_NAMES[record.confidentiality])
    # Written after rendering: the write lock is held only from here to the commit.
    ctx.audit("view", object_type="record", object_id=record.id, record_id=record.id)
    personal.note_view(ctx.session, ctx.user, record.id)
    return response


def _version(access: RecordAccess, version_id: int | None) -> Version:
    version = service.version_of(access.ctx.session, access.document, version_id)
    if version is None:
        raise HTTPException(status_code=404, detail="该文书没有可显示的版本")
    return version


def _check_page(version: Version, number: int) -> None:
    if version.page_count and number > version.page_count:
        raise HTTPException(status_code=404, detail=f"页码超出范围（共{version.page_count}页）")


@router.get("/documents/{document_id}/pages/{number}", response_class=HTMLResponse)
def viewer(request: Request, number: PageNumber, version: VersionParam = None,
           access: RecordAccess = document_gate("view")) -> Response:
    chosen = _version(access, version)
    _check_page(chosen, number)
    ctx = access.ctx
    ctx.audit("view", object_type="document", object_id=access.document.id, record_id=access.record.id,
              document_id=access.document.id, page=number, detail={"版本": chosen.number})
    is_video = chosen.media_type.startswith("video/")
    return page(request, "records/viewer.html", ctx, record=access.record, document=access.document,
                version=chosen, number=number, pages=range(1, max(chosen.page_count, 1) + 1),
                is_video=is_video, lines=overlay_lines(request, ctx))


@router.get("/documents/{document_id}/pages/{number}/image")
def page_image(request: Request, number: PageNumber, version: VersionParam = None,
               access: RecordAccess = document_gate("view")) -> Response:
    chosen = _version(access, version)
    _check_page(chosen, number)
    ctx, now = access.ctx, utcnow()
    base = renderer(request).base(chosen.sha256, chosen.media_type, number)
    data = serve_page(base, user_id=ctx.user.id, lines=overlay_lines(request, ctx), when=now)
    ctx.audit("page_view", object_type="document", object_id=access.document.id, record_id=access.record.id,
              document_id=access.document.id, page=number,
              detail={"版本": chosen.number, "水印分钟": watermark.Payload.at(ctx.user.id, now).minute})
    return Response(data, media_type=JPEG, headers={"Cache-Control": "no-store"})


@router.get("/documents/{document_id}/pages/{number}/thumb")
def page_thumbnail(request: Request, number: PageNumber, version: VersionParam = None,
                   access: RecordAccess = document_gate("view")) -> Response:
    chosen = _version(access, version)
    _check_page(chosen, number)
    base = renderer(request).base(chosen.sha256, chosen.media_type, number)
    return Response(thumbnail(base, overlay_lines(request, access.ctx)), media_type=JPEG,
                    headers={"Cache-Control": "private, no-store"})


@router.get("/documents/{document_id}/download")
def download(
    request: Request, version: VersionParam = None, access: RecordAccess = document_gate("download")
) -> Response:
    from bingan.storage.blobs.port import open_blob_store

    chosen = _version(access, version)
    with open_blob_store(request.app.state.settings).open(chosen.sha256) as stream:
        data = stream.read()
    access.ctx.audit("download", object_type="document", object_id=access.document.id, record_id=access.record.id,
                     document_id=access.document.id, detail={"版本": chosen.number, "大小": len(data)})
    filename = chosen.filename or f"document-{access.document.id}"
    return Response(data, media_type=chosen.media_type or "application/octet-stream",
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{_quote(filename)}"})


@router.get("/documents/{document_id}/video")
def video(request: Request, version: VersionParam = None, access: RecordAccess = document_gate("view")) -> Response:
    """Video playback (A10); the visible watermark is an overlay the page draws over the player."""
    from bingan.storage.blobs.port import open_blob_store

    chosen = _version(access, version)
    if not chosen.media_type.startswith("video/"):
        raise HTTPException(status_code=404, detail="该文书不是视频")
    with open_blob_store(request.app.state.settings).open(chosen.sha256) as stream:
        data = stream.read()
    access.ctx.audit("view", object_type="video", object_id=access.document.id, record_id=access.record.id,
                     document_id=access.document.id)
    return Response(data, media_type=chosen.media_type)


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name)
