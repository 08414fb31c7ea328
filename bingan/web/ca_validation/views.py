"""The record page's document-signature panel (文书电子签名, loaded by htmx): each signed document's
signatures with the local verdict and the latest online check (已联机验证（OCSP，时间）：有效 …)."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from bingan.access.policy import decide_for
from bingan.records.ca_validation import service
from bingan.web.deps import RecordAccess, record_gate
from bingan.web.render import page

router = APIRouter(include_in_schema=False)


@router.get("/records/{record_id}/document-signatures", response_class=HTMLResponse)
def record_panel(request: Request, access: RecordAccess = record_gate("view")) -> Response:
    ctx, record = access.ctx, access.record
    documents = service.record_signatures(
        ctx.session, record.id, lambda d: bool(decide_for(ctx.subject, "view", record, document=d)))
    return page(request, "ca_validation/_panel.html", ctx, record=record, documents=documents,
                enabled=service.enabled(request.app.state.settings),
                method=service.METHOD_NAMES.get(request.app.state.settings.ca_validation, ""))
