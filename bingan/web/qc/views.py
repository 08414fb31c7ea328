"""Archive QC pages: the worklist with quick filters and batch pass, the QC screen (documents in
filing order, the page viewer, self-check, history and the comment form), the owners' list of
records returned to them with the reply and resubmit form, and the QC history with its xlsx."""
from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bingan import clock
from bingan.formats.spreadsheet import Spreadsheet
from bingan.records.qc import screen, service, worklist
from bingan.storage.models.qc import COMMENT_KINDS
from bingan.web import navigation
from bingan.web.deps import Ctx, RecordAccess, permission, record_gate, signed_in
from bingan.web.inputs import RowId
from bingan.web.render import page

router = APIRouter(include_in_schema=False)
WORKLIST_PATH, HISTORY_PATH, RETURNED_PATH = "/qc", "/qc/history", "/qc/returned"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
navigation.register_counter("qc_returned", lambda ctx: worklist.returned_count(ctx.session, ctx.user))
navigation.register("归档管理", "归档质控", WORKLIST_PATH, "qc.review")
navigation.register("归档管理", "质控记录", HISTORY_PATH, "qc.review")
navigation.register("归档管理", "退回给我的病案", RETURNED_PATH, "record.submit", counter="qc_returned")


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


@router.get(WORKLIST_PATH, response_class=HTMLResponse)
def worklist_page(request: Request, filter: str = Query("", max_length=16),
                  state: str = Query("pending", max_length=16),
                  department: str = Query("", max_length=32), discharged_from: str = Query("", max_length=10),
                  discharged_to: str = Query("", max_length=10), page_number: int = Query(1, alias="page", ge=1,
                                                                                          le=10_000),
                  ctx: Ctx = permission("qc.review")) -> Response:
    ask = worklist.WorklistQuery(filter=filter if filter in worklist.FILTERS else "",
                                 state=state if state in worklist.STATES else "pending", department=department,
                                 discharged_from=_day(discharged_from), discharged_to=_day(discharged_to),
                                 page=page_number)
    found = worklist.worklist(ctx.session, ctx.subject, ask)
    return page(request, "qc/worklist.html", ctx, ask=ask, found=found, filters=worklist.FILTERS,
                states=worklist.STATE_NAMES, pages=max(1, -(-found.total // ask.per_page)))


@router.post("/qc/batch-pass", response_class=HTMLResponse)
def batch_pass_form(request: Request, record_ids: list[int] = Form(default_factory=list),
                    ctx: Ctx = permission("qc.review")) -> Response:
    results = service.batch_pass(ctx.session, ctx.actor, ctx.user, record_ids)
    return page(request, "qc/batch.html", ctx, results=results)


@router.get(HISTORY_PATH, response_class=HTMLResponse)
def history_page(request: Request, outcome: str = Query("", max_length=16),
                 record_number: str = Query("", max_length=32), department: str = Query("", max_length=32),
                 reviewer: str = Query("", max_length=64), started_from: str = Query("", max_length=10),
                 started_to: str = Query("", max_length=10), ctx: Ctx = permission("qc.review")) -> Response:
    ask = worklist.HistoryQuery(outcome=outcome, record_number=record_number, department=department,
                                reviewer=reviewer, started_from=_day(started_from), started_to=_day(started_to))
    rows = worklist.history(ctx.session, ctx.subject, ask)
    return page(request, "qc/history.html", ctx, ask=ask, rows=rows, outcomes=worklist.OUTCOMES,
                query=request.url.query)


@router.get(HISTORY_PATH + ".xlsx")
def history_export(request: Request, outcome: str = Query("", max_length=16),
                   record_number: str = Query("", max_length=32), department: str = Query("", max_length=32),
                   reviewer: str = Query("", max_length=64), started_from: str = Query("", max_length=10),
                   started_to: str = Query("", max_length=10), ctx: Ctx = permission("qc.review")) -> Response:
    ask = worklist.HistoryQuery(outcome=outcome, record_number=record_number, department=department,
                                reviewer=reviewer, started_from=_day(started_from), started_to=_day(started_to))
    rows = worklist.history(ctx.session, ctx.subject, ask, limit=worklist.MAX_EXPORT)
    book = Spreadsheet()
    sheet = book.sheet("质控记录", worklist.HISTORY_HEADERS)
    for row in rows:
        sheet.append(worklist.history_cells(row))
    ctx.audit("export", object_type="qc_history", detail={"导出": "质控记录", "行数": len(rows),
                                                          "条件": request.url.query})
    name = f"qc-history-{clock.file_stamp()}.xlsx"
    return Response(book.close(), media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"',
                                                            "Cache-Control": "no-store"})


@router.get(RETURNED_PATH, response_class=HTMLResponse)
def returned_page(request: Request, ctx: Ctx = signed_in()) -> Response:
    records = ctx.session.scalars(worklist.returned_to(ctx.user)).all()
    return page(request, "qc/returned.html", ctx, records=records)


@router.get(RETURNED_PATH + "/{record_id}", response_class=HTMLResponse)
def reply_page(request: Request, access: RecordAccess = record_gate("view")) -> Response:
    ctx, record = access.ctx, access.record
    returned = service.open_return(ctx.session, record.id) if record.status == "returned" else None
    comments = worklist.return_comments(ctx.session, returned) if returned else []
    return page(request, "qc/reply.html", ctx, record=record, returned=returned, comments=comments,
                kinds=COMMENT_KINDS)


@router.post(RETURNED_PATH + "/{record_id}")
async def reply_form(request: Request, access: RecordAccess = record_gate("view")) -> Response:
    """Saves the replies (reply_<comment id>); with action=resubmit also resubmits."""
    form = await request.form()
    replies = [(int(key.removeprefix("reply_")), str(value)) for key, value in form.multi_items()
               if key.startswith("reply_") and key.removeprefix("reply_").isdigit()]
    ctx, record = access.ctx, access.record
    if form.get("action") == "resubmit":
        service.resubmit(ctx.session, ctx.actor, ctx.user, record, replies)
        return RedirectResponse(f"/records/{record.id}", status_code=303)
    service.reply(ctx.session, ctx.actor, ctx.user, record, replies)
    return RedirectResponse(f"{RETURNED_PATH}/{record.id}", status_code=303)


@router.get("/qc/{record_id}", response_class=HTMLResponse)
def qc_screen(request: Request, doc: int = Query(0, ge=0, le=2**31 - 1), number: int = Query(1, alias="page", ge=1,
                                                                                             le=100_000),
              access: RecordAccess = record_gate("qc")) -> Response:
    ctx, record = access.ctx, access.record
    view = screen.screen(ctx.session, ctx.subject, record)
    current = next((e for e in view.entries if e.document.id == doc), view.entries[0] if view.entries else None)
    number = min(number, max(current.version.page_count, 1)) if current else 1
    may_review = record.status in ("submitted", "qc") and service.may_review(ctx.session, ctx.user, record,
                                                                            view.review)
    response = page(request, "qc/screen.html", ctx, view=view, record=record, current=current, number=number,
                    may_review=may_review, kinds=COMMENT_KINDS, change_names=screen.CHANGE_NAMES,
                    unsent=[c for c in view.comments if c.return_id is None])
    ctx.audit("view", object_type="record", object_id=record.id, record_id=record.id, detail={"界面": "质控"})
    return response


def _back(record_id: int, doc: int = 0, number: int = 1) -> Response:
    where = f"/qc/{record_id}" + (f"?doc={doc}&page={number}" if doc else "")
    return RedirectResponse(where, status_code=303)


@router.post("/qc/{record_id}/take")
def take_form(access: RecordAccess = record_gate("qc")) -> Response:
    service.take(access.ctx.session, access.ctx.actor, access.ctx.user, access.record)
    return _back(access.record.id)


@router.post("/qc/{record_id}/comments")
def comment_form(document_id: int = Form(..., ge=1, le=2**31 - 1), page_number: int = Form(..., alias="page", ge=1,
                                                                                            le=100_000),
                 kind: str = Form(..., max_length=16), text: str = Form(..., max_length=service.MAX_TEXT),
                 access: RecordAccess = record_gate("qc")) -> Response:
    ctx = access.ctx
    service.comment(ctx.session, ctx.actor, ctx.user, access.record, document_id, page_number, kind, text)
    return _back(access.record.id, document_id, page_number)


@router.post("/qc/{record_id}/comments/{comment_id}/delete")
def comment_delete_form(comment_id: RowId, access: RecordAccess = record_gate("qc")) -> Response:
    service.delete_comment(access.ctx.session, access.ctx.actor, access.ctx.user, access.record, comment_id)
    return _back(access.record.id)


@router.post("/qc/{record_id}/return")
def return_form(access: RecordAccess = record_gate("qc")) -> Response:
    service.return_record(access.ctx.session, access.ctx.actor, access.ctx.user, access.record)
    return RedirectResponse(WORKLIST_PATH, status_code=303)


@router.post("/qc/{record_id}/pass")
def pass_form(override_reason: str = Form("", max_length=service.MAX_TEXT),
              access: RecordAccess = record_gate("qc")) -> Response:
    ctx = access.ctx
    passed = service.pass_record(ctx.session, ctx.actor, ctx.user, access.record, override_reason)
    return RedirectResponse(WORKLIST_PATH if passed.archived else f"/qc/{access.record.id}", status_code=303)
