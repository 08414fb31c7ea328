"""The record page's archive-signature panel (loaded by htmx): 已签章：who, when, timestamp
authority, the last verification, and 验证 (verification on demand)."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bingan.records import jobs
from bingan.records.archive_signature import service
from bingan.storage.blobs.port import open_blob_store
from bingan.web.deps import RecordAccess, record_gate
from bingan.web.render import page

router = APIRouter(include_in_schema=False)


def _panel(request: Request, access: RecordAccess) -> Response:
    ctx, record = access.ctx, access.record
    return page(request, "archive_signature/_panel.html", ctx, record=record,
                signature=service.latest(ctx.session, record.id),
                job=service.unfinished_job(ctx.session, record.id),
                job_states=jobs.STATE_NAMES)


@router.get("/records/{record_id}/archive-signature", response_class=HTMLResponse)
def record_panel(request: Request, access: RecordAccess = record_gate("view")) -> Response:
    return _panel(request, access)


@router.post("/records/{record_id}/archive-signature/verify")
def verify(request: Request, access: RecordAccess = record_gate("view")) -> Response:
    """验证: the verdict is kept on the signature, so without htmx the record page shows it too."""
    ctx, record = access.ctx, access.record
    service.verify_record(ctx.session, open_blob_store(request.app.state.settings), ctx.actor, record)
    if request.headers.get("HX-Request"):
        return _panel(request, access)
    return RedirectResponse(f"/records/{record.id}#archive-signature", status_code=303)
