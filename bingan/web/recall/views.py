"""The recall page of a record (召回): its state, the printed-copies warning, the application
form, past recalls and their pinned versions (召回前版本) with links to view and compare them."""
from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bingan.access.policy import decide_for
from bingan.records.recall import service
from bingan.web.deps import RecordAccess, record_gate
from bingan.web.render import page

router = APIRouter(include_in_schema=False)


@router.get("/records/{record_id}/recall", response_class=HTMLResponse)
def recall_page(request: Request, access: RecordAccess = record_gate("view")) -> Response:
    ctx, record = access.ctx, access.record
    view = service.overview(ctx.session, record)
    may_apply = (record.status == "archived" and view.pending is None
                 and bool(decide_for(ctx.subject, "apply_recall", record)))
    documents = service.current_documents(ctx.session, record.id) if may_apply else []
    response = page(request, "recall/record.html", ctx, record=record, view=view, may_apply=may_apply,
                    documents=documents, state_name=service.lifecycle.state_name(record.status),
                    last_day=service.last_day, compare_url=service.compare_url,
                    max_days=service.MAX_DEADLINE_DAYS)
    ctx.audit("view", object_type="recall", object_id=record.id, record_id=record.id)
    return response


@router.post("/records/{record_id}/recall")
def apply_form(reason: str = Form("", max_length=2000), deadline_days: int = Form(7, ge=1, le=365),
               document_ids: list[int] = Form([]), access: RecordAccess = record_gate("apply_recall")) -> Response:
    ctx = access.ctx
    request = service.apply(ctx.session, ctx.actor, ctx.user, access.record, reason, deadline_days, document_ids)
    return RedirectResponse(f"/approvals/{request.id}", status_code=303)
