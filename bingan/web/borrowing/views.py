"""Borrowing pages: the borrowing search and application form (借阅申请), the lists (我的借阅 /
待我审批 / 全部借阅) with filters and xlsx export, one borrowing with its renewals, return,
revocation and the views made during it (浏览内容跟踪), the record room's settings, and the record
page's panel with the user's running borrowing of that record."""
from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bingan.records.borrowing import service
from bingan.records.borrowing.service import Criteria, Filters
from bingan.web import navigation
from bingan.web.deps import Ctx, RecordAccess, permission, record_gate, signed_in
from bingan.web.inputs import RowId
from bingan.web.render import page

router = APIRouter(include_in_schema=False)
navigation.register("借阅与封存", "借阅申请", "/borrowing/apply", "borrow.apply")
navigation.register("借阅与封存", "借阅", "/borrowing", "borrow.apply", "borrow.manage", "record.approve")
navigation.register("借阅与封存", "借阅设置", "/borrowing/settings", "borrow.manage")


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


@router.get("/borrowing/apply", response_class=HTMLResponse)
def apply_page(request: Request, record_number: str = "", patient_name: str = "", id_number: str = "",
               inpatient_number: str = "", discharged_from: str = "", discharged_to: str = "", department: str = "",
               ctx: Ctx = permission("borrow.apply")) -> Response:
    criteria = Criteria(record_number[:32], patient_name[:100], id_number[:32], inpatient_number[:32],
                        _date(discharged_from), _date(discharged_to), department[:32])
    found = service.search(ctx.session, ctx.actor, ctx.user, criteria, ctx.ip) if criteria.given() else None
    return page(request, "borrowing/apply.html", ctx, criteria=criteria, found=found,
                purposes=service.purposes(ctx.session), max_days=service.max_days_for(ctx.session, ctx.user),
                categories=service.category_names(ctx.session), default_days=service.DEFAULT_DAYS)


@router.post("/borrowing/apply")
def apply_form(request: Request, record_ids: list[int] = Form([]), days: int = Form(service.DEFAULT_DAYS),
               purpose: str = Form(""), reason: str = Form(""), categories: list[str] = Form([]),
               ctx: Ctx = permission("borrow.apply")) -> Response:
    made = service.apply(ctx.session, ctx.actor, ctx.user, record_ids, days, purpose, reason, categories, ctx.ip)
    return RedirectResponse(f"/borrowing/{made[0].id}" if len(made) == 1 else "/borrowing", status_code=303)


def _filters(state: str, department: str, applied_from: str, applied_to: str) -> Filters:
    return Filters(state[:16], department[:32], _date(applied_from), _date(applied_to))


@router.get("/borrowing", response_class=HTMLResponse)
def list_page(request: Request, box: str = "mine", state: str = "", department: str = "", applied_from: str = "",
              applied_to: str = "", ctx: Ctx = signed_in()) -> Response:
    filters = _filters(state, department, applied_from, applied_to)
    rows = service.box(ctx.session, ctx.user, box, filters)
    boxes = {code: name for code, name in service.BOXES.items() if code != "all" or ctx.can("borrow.manage")}
    return page(request, "borrowing/list.html", ctx, rows=[service.summary(b) for b in rows], box=box, boxes=boxes,
                states=service.STATES, filters=filters, query=request.url.query)


@router.get("/borrowing/settings", response_class=HTMLResponse)
def settings_page(request: Request, ctx: Ctx = permission("borrow.manage")) -> Response:
    return page(request, "borrowing/settings.html", ctx, purposes=service.purposes(ctx.session),
                limits=service.max_days_by_role(ctx.session))


@router.post("/borrowing/settings/purposes")
def purpose_add(name: str = Form(...), ctx: Ctx = permission("borrow.manage")) -> Response:
    service.add_purpose(ctx.session, ctx.actor, name)
    return RedirectResponse("/borrowing/settings", status_code=303)


@router.post("/borrowing/settings/purposes/{purpose_id}/retire")
def purpose_retire(purpose_id: RowId, ctx: Ctx = permission("borrow.manage")) -> Response:
    service.retire_purpose(ctx.session, ctx.actor, purpose_id)
    return RedirectResponse("/borrowing/settings", status_code=303)


@router.post("/borrowing/settings/days")
async def days_save(request: Request, ctx: Ctx = permission("borrow.manage")) -> Response:
    form = await request.form()
    limits = {code: int(str(form.get(f"days_{code}", "")).strip() or 0)
              for code in service.max_days_by_role(ctx.session) if str(form.get(f"days_{code}", "")).strip().isdigit()}
    service.save_max_days(ctx.session, ctx.actor, limits)
    return RedirectResponse("/borrowing/settings", status_code=303)


@router.get("/borrowing/{borrow_id}", response_class=HTMLResponse)
def detail_page(request: Request, borrow_id: RowId, ctx: Ctx = signed_in()) -> Response:
    borrowing = service.visible(ctx.session, ctx.user, borrow_id)
    return page(request, "borrowing/detail.html", ctx, row=service.summary(borrowing), borrowing=borrowing,
                renewals=service.renewals_of(ctx.session, borrowing),
                views=service.views_during(ctx.session, borrowing),
                mine=borrowing.applicant_id == ctx.user.id, manager=ctx.can("borrow.manage"),
                categories=service.category_names(ctx.session), max_days=service.max_days_for(ctx.session, ctx.user))


@router.get("/records/{record_id}/borrowing-panel", response_class=HTMLResponse)
def record_panel(request: Request, access: RecordAccess = record_gate("view")) -> Response:
    """The record page's panel (loaded by htmx): until when the user borrows this record, with 归还;
    nothing when the user reads it by right rather than by a borrowing."""
    ctx = access.ctx
    borrowing = service.lent_to(ctx.session, ctx.user, access.record.id)
    return page(request, "borrowing/_record_panel.html", ctx,
                row=service.summary(borrowing) if borrowing else None)


@router.post("/borrowing/{borrow_id}/renew")
def renew_form(borrow_id: RowId, days: int = Form(...), reason: str = Form(""), ctx: Ctx = signed_in()) -> Response:
    service.renew(ctx.session, ctx.actor, ctx.user, borrow_id, days, reason)
    return RedirectResponse(f"/borrowing/{borrow_id}", status_code=303)


@router.post("/borrowing/{borrow_id}/return")
def return_form(borrow_id: RowId, note: str = Form(""), ctx: Ctx = signed_in()) -> Response:
    service.return_early(ctx.session, ctx.actor, ctx.user, borrow_id, note)
    return RedirectResponse(f"/borrowing/{borrow_id}", status_code=303)


@router.post("/borrowing/{borrow_id}/revoke")
def revoke_form(borrow_id: RowId, reason: str = Form(""), ctx: Ctx = permission("borrow.manage")) -> Response:
    service.revoke(ctx.session, ctx.actor, ctx.user, borrow_id, reason)
    return RedirectResponse(f"/borrowing/{borrow_id}", status_code=303)
