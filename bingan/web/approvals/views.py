"""Approval pages: the boxes (待办 / 我的申请 / 已办), one request with its step chain, opinions and
decision form, attachments (camera capture), in-app messages, and the flow editor."""
from __future__ import annotations

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bingan.records.approvals import engine, flow_admin, flows, inbox, notifier
from bingan.records.approvals.defaults import default_flow
from bingan.storage.blobs.port import open_blob_store
from bingan.web import navigation
from bingan.web.deps import Ctx, permission, signed_in
from bingan.web.inputs import RowId
from bingan.web.render import page

router = APIRouter(include_in_schema=False)
ATTACHMENT_PATH = "/approvals/attachments"
navigation.register_counter("approvals", lambda ctx: inbox.todo_count(ctx.session, ctx.user))
navigation.register_counter("messages", lambda ctx: notifier.unread_count(ctx.session, ctx.user))
navigation.register("", "消息", "/messages", counter="messages")
navigation.register("系统设置", "审批流程", "/admin/flows", "flows.manage")


@router.get("/approvals", response_class=HTMLResponse)
def approvals_page(request: Request, box: str = "todo", ctx: Ctx = signed_in()) -> Response:
    rows = inbox.box(ctx.session, ctx.user, box)
    return page(request, "approvals/list.html", ctx, rows=[inbox.summary(row) for row in rows], box=box,
                boxes=inbox.BOXES, todo=inbox.todo_count(ctx.session, ctx.user))


@router.get("/approvals/{approval_id}", response_class=HTMLResponse)
def approval_page(request: Request, approval_id: RowId, ctx: Ctx = signed_in()) -> Response:
    view = inbox.request_view(ctx.session, ctx.user, approval_id)
    return page(request, "approvals/detail.html", ctx, view=view, actions=inbox.ACTION_NAMES)


@router.post("/approvals/{approval_id}/decision")
def decision_form(approval_id: RowId, decision: str = Form(...), opinion: str = Form(""),
                  to_step: int = Form(0), ctx: Ctx = signed_in()) -> Response:
    engine.decide(ctx.session, ctx.actor, ctx.user, approval_id, decision, opinion, to_step)
    return RedirectResponse(f"/approvals/{approval_id}", status_code=303)


@router.post("/approvals/{approval_id}/resubmit")
def resubmit_form(approval_id: RowId, opinion: str = Form(""), ctx: Ctx = signed_in()) -> Response:
    engine.resubmit(ctx.session, ctx.actor, ctx.user, approval_id, opinion)
    return RedirectResponse(f"/approvals/{approval_id}", status_code=303)


@router.post("/approvals/{approval_id}/withdraw")
def withdraw_form(approval_id: RowId, ctx: Ctx = signed_in()) -> Response:
    engine.withdraw(ctx.session, ctx.actor, ctx.user, approval_id)
    return RedirectResponse(f"/approvals/{approval_id}", status_code=303)


@router.post(ATTACHMENT_PATH)
def attach(request: Request, approval_id: int = Form(..., ge=1, le=2**31 - 1), file: UploadFile = File(...),
           ctx: Ctx = signed_in()) -> Response:
    store = open_blob_store(request.app.state.settings)
    inbox.add_attachment(ctx.session, ctx.actor, ctx.user, store, approval_id, file.filename or "",
                         file.content_type or "", file.file.read(inbox.MAX_ATTACHMENT + 1))
    return RedirectResponse(f"/approvals/{approval_id}", status_code=303)


@router.get(ATTACHMENT_PATH + "/{attachment_id}")
def attachment(request: Request, attachment_id: RowId, ctx: Ctx = signed_in()) -> Response:
    store = open_blob_store(request.app.state.settings)
    found, stream = inbox.open_attachment(ctx.session, ctx.user, store, attachment_id)
    ctx.audit("approval.attachment_view", object_type="approval", object_id=found.request_id,
              detail={"附件": found.filename})
    return Response(stream.read(), media_type=found.media_type,
                    headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"})


@router.get("/messages", response_class=HTMLResponse)
def messages_page(request: Request, ctx: Ctx = signed_in()) -> Response:
    return page(request, "approvals/messages.html", ctx, rows=notifier.messages_of(ctx.session, ctx.user))


@router.post("/messages/{message_id}/read")
def message_read(message_id: RowId, ctx: Ctx = signed_in()) -> Response:
    notifier.mark_read(ctx.session, ctx.user, message_id)
    return RedirectResponse("/messages", status_code=303)


@router.get("/admin/flows", response_class=HTMLResponse)
def flows_page(request: Request, ctx: Ctx = permission("flows.manage")) -> Response:
    return page(request, "approvals/flows.html", ctx, kinds=flow_admin.flows_by_kind(ctx.session),
                format_steps=flows.format_steps, new_flow=default_flow, campuses=flow_admin.campuses(ctx.session))


@router.post("/admin/flows")
def flow_save(flow_id: int = Form(0), kind: str = Form(...), name: str = Form(...), position: int = Form(100),
              campus: str = Form(""), min_confidentiality: str = Form(""), restricted_tag: bool = Form(False),
              other_department: bool = Form(False), record_kind: str = Form(""), steps: str = Form(...),
              active: bool = Form(False), ctx: Ctx = permission("flows.manage")) -> Response:
    rules = flow_admin.FlowForm(kind=kind, name=name, position=position, campus=campus,
                                min_confidentiality=min_confidentiality, restricted_tag=restricted_tag,
                                other_department=other_department, record_kind=record_kind, steps=steps,
                                active=active)
    flow_admin.save_flow(ctx.session, ctx.actor, flow_id or None, rules)
    return RedirectResponse("/admin/flows", status_code=303)


@router.post("/admin/flows/{flow_id}/delete")
def flow_delete(flow_id: RowId, ctx: Ctx = permission("flows.manage")) -> Response:
    flow_admin.delete_flow(ctx.session, ctx.actor, flow_id)
    return RedirectResponse("/admin/flows", status_code=303)
