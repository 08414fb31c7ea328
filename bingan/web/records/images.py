"""Page images (页面图像) for the viewer and the API: the version asked for, the page checked,
a watermarked JPEG served and audited the same way whichever of them asks."""
from __future__ import annotations

from fastapi import HTTPException, Request
from fastapi.responses import Response

from bingan.formats import watermark
from bingan.records.pages import PageRenderer, serve_page
from bingan.storage.models import Version, utcnow
from bingan.web.deps import Ctx, RecordAccess
from bingan.web.records import service
from bingan.web.render import hospital_name

JPEG = "image/jpeg"


def renderer(request: Request) -> PageRenderer:
    """One renderer (and memory cache) per application."""
    app = request.app
    if not hasattr(app.state, "renderer"):
        app.state.renderer = PageRenderer(app.state.settings)
    return app.state.renderer


def overlay_lines(request: Request, ctx: Ctx) -> tuple[str, ...]:
    return watermark.visible_lines(ctx.user.full_name, ctx.user.staff_number or ctx.user.username, ctx.ip,
                                   hospital_name(request, ctx.session), utcnow())


def chosen_version(access: RecordAccess, version_id: int | None) -> Version:
    version = service.version_of(access.ctx.session, access.document, version_id)
    if version is None:
        raise HTTPException(status_code=404, detail="该文书没有可显示的版本")
    return version


def check_page(version: Version, number: int) -> None:
    if version.page_count and number > version.page_count:
        raise HTTPException(status_code=404, detail=f"页码超出范围（共{version.page_count}页）")


def page_image(request: Request, number: int, version_id: int | None, access: RecordAccess) -> Response:
    """The page as a JPEG with the visible watermark and the invisible one naming the reader."""
    chosen = chosen_version(access, version_id)
    check_page(chosen, number)
    ctx, now = access.ctx, utcnow()
    base = renderer(request).base(chosen.sha256, chosen.media_type, number)
    data = serve_page(base, user_id=ctx.user.id, lines=overlay_lines(request, ctx), when=now)
    ctx.audit("page_view", object_type="document", object_id=access.document.id, record_id=access.record.id,
              document_id=access.document.id, page=number,
              detail={"版本": chosen.number, "水印分钟": watermark.Payload.at(ctx.user.id, now).minute})
    return Response(data, media_type=JPEG, headers={"Cache-Control": "no-store"})
