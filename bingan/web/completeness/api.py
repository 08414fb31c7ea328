"""The completeness JSON API: submission for archiving, the self-check report, missing and special marks.

A refused submission answers 409 with ``detail`` (the reason) and ``checks`` (the stored report):
the check run and the refusal are kept, the record is unchanged.
"""
from __future__ import annotations

from datetime import date
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from bingan.records.completeness import checks, marks, service
from bingan.records.completeness import visit_scope as scopes
from bingan.web.deps import Ctx, RecordAccess, gate_record, load_record, permission, record_gate
from bingan.web.inputs import RowId

router = APIRouter(prefix="/api/v1", tags=["完整性与提交"])
MAX_ID = 2**31 - 1


class MarkBody(BaseModel):
    kind: Literal["missing", "special"]
    reason: str = Field(..., max_length=marks.MAX_REASON)
    category: int | None = Field(None, ge=1, le=MAX_ID, description="缺少的病案分类 id")
    document_type: int | None = Field(None, ge=1, le=MAX_ID, description="缺少的文书类型 id")
    expected_date: date | None = Field(None, description="预计补交日期")
    special_kind: str = Field("", max_length=64, description="特殊病案类型（取自特殊病案类型字典）")


class VisitScopeBody(BaseModel):
    visit_scope: Literal["inpatient", "outpatient", "both"] = Field(
        ..., description="住院 inpatient、门诊 outpatient 或两者 both")


class CloseBody(BaseModel):
    note: str = Field(..., max_length=1000, description="关闭说明，如：已补收病理报告")


@router.post("/records/{record_id}/submit", summary="提交归档：系统自检通过后进入待质控")
def submit(access: RecordAccess = record_gate("submit")) -> JSONResponse:
    ctx, record = access.ctx, access.record
    try:
        report = service.submit(ctx.session, ctx.actor, record)
    except service.SubmissionRefused as refused:  # answered, not raised: the run and refusal are kept
        return JSONResponse({"detail": refused.message, "checks": checks.report_json(refused.report)},
                            status_code=refused.status)
    return JSONResponse({"record_id": record.id, "status": record.status, "checks": checks.report_json(report)})


@router.get("/records/{record_id}/checks", summary="系统自检结果（最近一次；尚未自检时立即自检）")
def record_checks(access: RecordAccess = record_gate("view")) -> dict:
    ctx, record = access.ctx, access.record
    report = checks.latest_checks(ctx.session, record.id) or checks.run_checks(ctx.session, record, "manual")
    ctx.audit("checks_view", object_type="record", object_id=record.id, record_id=record.id)
    return checks.report_json(report)


@router.get("/records/{record_id}/marks", summary="病案的缺项与特殊标记")
def record_marks(access: RecordAccess = record_gate("view")) -> dict:
    found = marks.marks_of(access.ctx.session, access.record.id)
    return {"record_id": access.record.id, "items": [marks.as_json(mark) for mark in found]}


@router.post("/records/{record_id}/marks", status_code=201, summary="标记缺项或特殊病案")
def add_mark(body: MarkBody, access: RecordAccess = record_gate("mark")) -> dict:
    ctx = access.ctx
    data = marks.MarkInput(body.kind, body.reason, category_id=body.category, document_type_id=body.document_type,
                           expected_date=body.expected_date, special_kind=body.special_kind)
    return marks.as_json(marks.add_mark(ctx.session, ctx.actor, ctx.user, access.record, data))


@router.post("/marks/{mark_id}/close", summary="关闭标记（缺项已补收，或不再是特殊病案）")
def close_mark(mark_id: RowId, body: CloseBody, ctx: Ctx = permission("record.mark")) -> dict:
    mark = marks.find_mark(ctx.session, mark_id)
    record = load_record(ctx.session, mark.record_id)
    gate_record(ctx, "mark", record)  # the record must be within the user's scope too
    return marks.as_json(marks.close_mark(ctx.session, ctx.actor, mark, body.note))


@router.get("/visit-scopes", summary="病案分类、文书类型与科室的住院/门诊适用范围")
def visit_scopes(ctx: Ctx = permission("completeness.manage")) -> dict:
    return {kind: [{"id": item.id, "code": item.code, "name": item.name, "visit_scope": item.visit_scope}
                   for item in items]
            for kind, items in scopes.listing(ctx.session).items()}


@router.put("/visit-scopes/{kind}/{item_id}", summary="修改一个病案分类、文书类型或科室的适用范围")
def visit_scope_change(kind: Literal["category", "document_type", "department"], item_id: RowId,
                       body: VisitScopeBody, ctx: Ctx = permission("completeness.manage")) -> dict:
    item = scopes.set_scope(ctx.session, ctx.actor, kind, item_id, body.visit_scope)
    return {"kind": kind, "id": item.id, "code": item.code, "name": item.name, "visit_scope": item.visit_scope}
