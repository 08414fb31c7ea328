"""The record page, the page viewer, page images, thumbnails and downloads — all behind the gate."""
from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from bingan.access.permissions import SEES_RECORD_READERS
from bingan.access.policy import CONFIDENTIALITY_NAMES, decide_for
from bingan.ingest import record_sources
from bingan.records import personal
from bingan.records.collection import collection_picture, state_name
from bingan.records.pages import thumbnail
from bingan.records.timeline import timeline
from bingan.storage.models import Version
from bingan.web.deps import RecordAccess, Refused, document_gate, record_gate
from bingan.web.inputs import PageNumber, RowId, VersionParam
from bingan.web.records import images, service
from bingan.web.records.images import check_page, chosen_version, overlay_lines, renderer
from bingan.web.render import page

if TYPE_CHECKING:
    from bingan.storage.blobs.port import BlobStore

router = APIRouter(include_in_schema=False)
STREAM_BLOCK = 1024 * 1024
PLAYABLE_TYPE = "video/mp4"


@router.get("/records/{record_id}", response_class=HTMLResponse)
def record_page(request: Request, access: RecordAccess = record_gate("view")) -> Response:
    ctx, record = access.ctx, access.record
    prefs = personal.preferences(ctx.user)
    groups = service.documents_by_category(ctx.session, ctx.subject, record, prefs.hidden_categories)
    with_readers = any(ctx.can(code) for code in SEES_RECORD_READERS)
    response = page(request, "records/record.html", ctx, record=record, groups=groups, with_readers=with_readers,
                    events=timeline(ctx.session, record.id, with_readers=with_readers),
                    collection=collection_picture(ctx.session, record) if ctx.can("record.change") else None,
                    item_state=state_name, recollected=request.query_params.get("recollected", "")[:200],
                    favourite=personal.favourite_of(ctx.session, ctx.user, record.id),
                    folders=personal.folders(ctx.session, ctx.user),
                    confidentiality=CONFIDENTIALITY_NAMES[record.confidentiality])
    # Written after rendering: the write lock is held only from here to the commit.
    ctx.audit("view", object_type="record", object_id=record.id, record_id=record.id)
    personal.note_view(ctx.session, ctx.user, record.id)
    return response


@router.post("/records/{record_id}/sources/{source_id}/recollect")
def recollect_source(source_id: RowId, access: RecordAccess = record_gate("change")) -> Response:
    """重新采集: this source, this record; the answer is shown on the record page."""
    done = record_sources.recollect(access.ctx.session, access.ctx.actor, access.record, source_id)
    return RedirectResponse(f"/records/{access.record.id}?{urlencode({'recollected': done})}#collection",
                            status_code=303)


@router.get("/documents/{document_id}/pages/{number}", response_class=HTMLResponse)
def viewer(request: Request, number: PageNumber, version: VersionParam = None,
           access: RecordAccess = document_gate("view")) -> Response:
    chosen = chosen_version(access, version)
    check_page(chosen, number)
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
    return images.page_image(request, number, version, access)


@router.get("/documents/{document_id}/pages/{number}/thumb")
def page_thumbnail(request: Request, number: PageNumber, version: VersionParam = None,
                   access: RecordAccess = document_gate("view")) -> Response:
    """A small page image is still the page: audited like the viewer (queued, written at commit)."""
    chosen = chosen_version(access, version)
    check_page(chosen, number)
    base = renderer(request).base(chosen.sha256, chosen.media_type, number)
    data = thumbnail(base, overlay_lines(request, access.ctx))
    access.ctx.audit("view", object_type="thumbnail", object_id=access.document.id, record_id=access.record.id,
                     document_id=access.document.id, page=number, detail={"版本": chosen.number})
    return Response(data, media_type=images.JPEG, headers={"Cache-Control": "private, no-store"})


@router.get("/documents/{document_id}/download")
def download(
    request: Request, version: VersionParam = None, access: RecordAccess = document_gate("download")
) -> Response:
    """The original file, streamed from the blob store: a 4 GB video never sits in memory."""
    chosen = chosen_version(access, version)
    store = _blobs(request)
    size = store.size(chosen.sha256)
    access.ctx.audit("download", object_type="document", object_id=access.document.id, record_id=access.record.id,
                     document_id=access.document.id, detail={"版本": chosen.number, "大小": size})
    filename = chosen.filename or f"document-{access.document.id}"
    return StreamingResponse(_blob_bytes(store, chosen.sha256, 0, size),
                             media_type=chosen.media_type or "application/octet-stream",
                             headers={"Content-Disposition": f"attachment; filename*=UTF-8''{_quote(filename)}",
                                      "Content-Length": str(size)})


@router.get("/documents/{document_id}/video")
def video(request: Request, version: VersionParam = None, access: RecordAccess = document_gate("view")) -> Response:
    """Video playback (A10) with byte ranges, so the player can seek; the visible watermark is an
    overlay the page draws over the player.

    The original file is a download: only a user who may download it plays it; anyone else who
    may view gets the browser-playable rendition made at collection, or a refusal if there is none.
    Every request is audited once with the bytes it asked for (a player makes a handful of
    requests per playback and seek; the blocks of one response are not events).
    """
    chosen = chosen_version(access, version)
    if not chosen.media_type.startswith("video/"):
        raise HTTPException(status_code=404, detail="该文书不是视频")
    sha256, kind = _playback_file(access, chosen)
    store = _blobs(request)
    size = store.size(sha256)
    wanted = byte_range(request.headers.get("range"), size)
    start, end = wanted or (0, size - 1)
    access.ctx.audit("view", object_type="video", object_id=access.document.id, record_id=access.record.id,
                     document_id=access.document.id,
                     detail={"版本": chosen.number, "文件": kind, "字节": f"{start}-{end}/{size}"})
    headers = {"Accept-Ranges": "bytes", "Content-Length": str(end - start + 1), "Cache-Control": "private, no-store"}
    if wanted:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    media_type = chosen.media_type if sha256 == chosen.sha256 else PLAYABLE_TYPE
    return StreamingResponse(_blob_bytes(store, sha256, start, end - start + 1),
                             status_code=206 if wanted else 200, media_type=media_type, headers=headers)


def _playback_file(access: RecordAccess, chosen: Version) -> tuple[str, str]:
    """(blob, what it is in the audit trail) this user may play."""
    ctx = access.ctx
    if decide_for(ctx.subject, "download", access.record, document=access.document):
        return chosen.sha256, "原始文件"
    if chosen.playable_sha256:
        return chosen.playable_sha256, "在线播放版本"
    reason = "该视频没有可在线播放的版本，播放原始文件需要下载权限"
    ctx.audit("denied", object_type="video", object_id=access.document.id, record_id=access.record.id,
              document_id=access.document.id, result="denied", detail={"操作": "play", "原因": reason})
    ctx.session.commit()  # the refusal is audited even though the request fails
    raise Refused(reason)


_RANGE = re.compile(r"bytes=([0-9]*)-([0-9]*)")
MAX_OFFSET_DIGITS = 19  # beyond any file; int() of thousands of digits would be an error, not a 416


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last byte) of a single-range request; None serves the whole file.

    Multi-range and malformed headers are ignored (RFC 9110 lets a server answer 200 with all of
    it); a range outside the file answers 416.
    """
    found = _RANGE.fullmatch((header or "").strip())
    if not found or found.groups() == ("", ""):
        return None
    first, last = found.groups()
    if max(len(first), len(last)) > MAX_OFFSET_DIGITS:
        raise _unsatisfiable(size)
    if not first:  # "bytes=-N": the last N bytes
        start, end = max(size - int(last), 0), size - 1
    else:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        raise _unsatisfiable(size)
    return start, end


def _unsatisfiable(size: int) -> HTTPException:
    return HTTPException(status_code=416, detail="请求的字节范围超出文件大小",
                         headers={"Content-Range": f"bytes */{size}"})


def _blobs(request: Request) -> BlobStore:
    from bingan.storage.blobs.port import open_blob_store

    return open_blob_store(request.app.state.settings)


def _blob_bytes(store: BlobStore, sha256: str, start: int, length: int) -> Iterator[bytes]:
    """Decrypted bytes in blocks, read while the response is sent (after the request's commit)."""
    with store.open(sha256) as reader:
        reader.seek(start)
        while length > 0:
            block = reader.read(min(STREAM_BLOCK, length))
            if not block:
                return
            length -= len(block)
            yield block


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name)
