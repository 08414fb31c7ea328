"""The borrowing JSON API (a contract for integrators): search, apply, renew, return, revoke, the
lists and one borrowing with the views tracked during it. Decisions go through
/api/v1/approvals/{id}/decision: a borrowing's id is its approval request's id."""
from __future__ import annotations

from datetime import date
from typing import Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from bingan import clock
from bingan.formats.spreadsheet import Spreadsheet
from bingan.records.borrowing import service
from bingan.web.deps import Ctx, permission, signed_in
from bingan.web.inputs import RowId

router = APIRouter(prefix="/api/v1", tags=["借阅"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class ApplyBody(BaseModel):
    record_ids: list[int] = Field(..., min_length=1, max_length=service.MAX_RECORDS,
                                  description="要借阅的病案编号（可多份）")
    days: int = Field(service.DEFAULT_DAYS, ge=1, le=366, description="借阅天数（不超过角色上限）")
    purpose: str = Field(..., max_length=50, description="借阅用途（借阅用途词典中的一项）")
    reason: str = Field(..., max_length=2000, description="借阅理由")
    categories: list[str] | None = Field(None, max_length=50, description="只借阅这些病案分类（代码）；不填为全部")


class RenewBody(BaseModel):
    days: int = Field(..., ge=1, le=366, description="续借天数")
    reason: str = Field(..., max_length=2000, description="续借理由")


class NoteBody(BaseModel):
    note: str = Field("", max_length=2000)


class RevokeBody(BaseModel):
    reason: str = Field(..., max_length=2000, description="收回原因（借阅人可见）")


def _detail(ctx: Ctx, borrowing_id: int) -> dict:
    borrowing = service.visible(ctx.session, ctx.user, borrowing_id)
    views = service.views_during(ctx.session, borrowing)
    return {**service.summary(borrowing),
            "renewals": [{"id": r.id, "days": r.days, "status": r.request.status, "applied_at": clock.iso(r.created_at)}
                         for r in service.renewals_of(ctx.session, borrowing)],
            "views": [{"at": clock.iso(v.at), "action": v.action, "document": v.document, "page": v.page,
                       "client_ip": v.client_ip} for v in views]}


@router.get("/borrowing/search", summary="借阅检索：只显示病案号、姓名（脱敏）、科室、出院日期")
def search(record_number: str = Query("", max_length=32), patient_name: str = Query("", max_length=100),
           id_number: str = Query("", max_length=32), inpatient_number: str = Query("", max_length=32),
           discharged_from: date | None = None, discharged_to: date | None = None,
           department: str = Query("", max_length=32), ctx: Ctx = permission("borrow.apply")) -> dict:
    criteria = service.Criteria(record_number, patient_name, id_number, inpatient_number, discharged_from,
                                discharged_to, department)
    found = service.search(ctx.session, ctx.actor, ctx.user, criteria, ctx.ip)
    return {"count": len(found), "items": [
        {"record_id": c.record_id, "record_number": c.record_number, "stay": c.stay, "patient": c.masked_name,
         "department": c.department, "discharged_on": c.discharged_on.isoformat() if c.discharged_on else None,
         "can_view": c.can_view, "open_borrowing": c.open_borrowing} for c in found]}


@router.post("/borrowing", summary="申请借阅一份或多份病案（每份病案按其审批流程审批）", status_code=201)
def apply(body: ApplyBody, ctx: Ctx = permission("borrow.apply")) -> dict:
    made = service.apply(ctx.session, ctx.actor, ctx.user, body.record_ids, body.days, body.purpose, body.reason,
                         body.categories, ctx.ip)
    items = [service.summary(b) for b in made]
    return {**items[0], "items": items}


@router.get("/borrowing", summary="借阅列表：mine 我的借阅 / todo 待我审批 / all 全部借阅（借阅管理）")
def borrowings(box: Literal["mine", "todo", "all"] = "mine", state: str = Query("", max_length=16),
               department: str = Query("", max_length=32), applied_from: date | None = None,
               applied_to: date | None = None, ctx: Ctx = signed_in()) -> dict:
    rows = service.box(ctx.session, ctx.user, box, service.Filters(state, department, applied_from, applied_to))
    return {"box": box, "count": len(rows), "items": [service.summary(b) for b in rows]}


@router.get("/borrowing/export.xlsx", summary="借阅列表导出为 xlsx（筛选条件同列表）")
def export(box: Literal["mine", "todo", "all"] = "mine", state: str = Query("", max_length=16),
           department: str = Query("", max_length=32), applied_from: date | None = None,
           applied_to: date | None = None, ctx: Ctx = signed_in()) -> Response:
    filters = service.Filters(state, department, applied_from, applied_to)
    rows = [service.summary(b) for b in service.box(ctx.session, ctx.user, box, filters)]
    book = Spreadsheet()
    sheet = book.sheet("借阅", service.EXPORT_HEADERS)
    for values in service.export_rows(rows, service.category_names(ctx.session)):
        sheet.append(values)
    ctx.audit("borrow.export", object_type="borrowing", detail={"列表": box, "条数": len(rows)})
    name = f"borrowing-{clock.file_stamp()}.xlsx"
    return Response(book.close(), media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/borrowing/{borrow_id}", summary="一次借阅：状态、续借、借阅期间的浏览记录")
def borrowing(borrow_id: RowId, ctx: Ctx = signed_in()) -> dict:
    return _detail(ctx, borrow_id)


@router.post("/borrowing/{borrow_id}/renew", summary="申请续借（按续借流程审批，通过后延长原授权）", status_code=201)
def renew(borrow_id: RowId, body: RenewBody, ctx: Ctx = signed_in()) -> dict:
    renewal = service.renew(ctx.session, ctx.actor, ctx.user, borrow_id, body.days, body.reason)
    return {"id": renewal.id, "request_id": renewal.id, "borrowing_id": renewal.borrowing_id, "days": renewal.days,
            "status": renewal.request.status, "applied_at": clock.iso(renewal.created_at)}


@router.post("/borrowing/{borrow_id}/return", summary="提前归还：立即结束查阅权限")
def return_(borrow_id: RowId, body: NoteBody | None = None, ctx: Ctx = signed_in()) -> dict:
    service.return_early(ctx.session, ctx.actor, ctx.user, borrow_id, body.note if body else "")
    return _detail(ctx, borrow_id)


@router.post("/borrowing/{borrow_id}/revoke", summary="病案室收回借阅（须填写原因）")
def revoke(borrow_id: RowId, body: RevokeBody, ctx: Ctx = permission("borrow.manage")) -> dict:
    service.revoke(ctx.session, ctx.actor, ctx.user, borrow_id, body.reason)
    return _detail(ctx, borrow_id)


@router.get("/borrowing-purposes", summary="借阅用途词典")
def purposes(ctx: Ctx = signed_in()) -> dict:
    return {"items": [p.name for p in service.purposes(ctx.session)],
            "max_days": service.max_days_for(ctx.session, ctx.user)}
