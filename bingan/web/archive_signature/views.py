"""The record page's archive-signature panel (loaded by htmx): 已签章：who, when, timestamp
authority, the last verification, and 验证 (verification on demand)."""
from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bingan.access.policy import decide_for
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


@router.get("/records/{record_id}/archive-signature/copy")
def signed_copy(request: Request, access: RecordAccess = record_gate("download")) -> Response:
    """The signed archive copy (one PDF: every document's file, signed): only for whoever may
    download every document in it (the category templates of graded access)."""
    ctx, record = access.ctx, access.record
    documents = service.current_documents(ctx.session, record.id)
    if not all(decide_for(ctx.subject, "download", record, document=document) for document in documents):
        raise HTTPException(status_code=403, detail="签章归档副本含有您无权下载的文书类别，不能下载")
    signature, data = service.signed_copy_of(ctx.session, open_blob_store(request.app.state.settings), record)
    ctx.audit("archive.copy_download", object_type="archive_signature", object_id=signature.id, record_id=record.id,
              detail={"SHA-256": signature.copy_sha256, "文书数": signature.documents})
    name = quote(f"签章归档副本-{record.record_number}-{record.stay_number}.pdf")
    return Response(data, media_type="application/pdf",
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{name}"})


@router.post("/records/{record_id}/archive-signature/verify")
def verify(request: Request, access: RecordAccess = record_gate("view")) -> Response:
    """验证: the verdict is kept on the signature, so without htmx the record page shows it too."""
    ctx, record = access.ctx, access.record
    service.verify_record(ctx.session, open_blob_store(request.app.state.settings), ctx.actor, record)
    if request.headers.get("HX-Request"):
        return _panel(request, access)
    return RedirectResponse(f"/records/{record.id}#archive-signature", status_code=303)
