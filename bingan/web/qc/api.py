"""The archive QC JSON API (a contract for integrators): worklist, one record's QC view, take,
comments, return, pass, batch pass, the owners' resubmission, QC history."""
from __future__ import annotations

from datetime import date
from typing import Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from bingan.records.qc import screen, service, worklist
from bingan.web.deps import Ctx, RecordAccess, permission, record_gate, signed_in
from bingan.web.inputs import MAX_ID, RowId

router = APIRouter(prefix="/api/v1", tags=["归档质控"])
Filter = Literal["death", "special", "reworked", "transfusion", "overdue", "mine"]


class CommentBody(BaseModel):
    document_id: int = Field(..., ge=1, le=MAX_ID)
    page: int = Field(..., ge=1, le=100_000)
    type: Literal["medical", "nursing"] = Field(..., description="medical 医疗 / nursing 护理")
    text: str = Field(..., max_length=service.MAX_TEXT)


class PassBody(BaseModel):
    override_reason: str = Field("", max_length=service.MAX_TEXT,
                                 description="自检有错误时仍要归档的理由（强制通过）")


class BatchBody(BaseModel):
    record_ids: list[int] = Field(..., min_length=1, max_length=service.MAX_BATCH)


class Reply(BaseModel):
    comment_id: int = Field(..., ge=1, le=MAX_ID)
    text: str = Field(..., max_length=service.MAX_TEXT)


class ResubmitBody(BaseModel):
    replies: list[Reply] = Field(default_factory=list, max_length=500)


@router.get("/qc/worklist", summary="质控工作列表：快速筛选 death/special/reworked/transfusion/overdue/mine")
def qc_worklist(filter: Filter | None = None, state: Literal["pending", "returned", "all"] = "pending",
                department: str = Query("", max_length=32), campus: str = Query("", max_length=32),
                discharged_from: date | None = None, discharged_to: date | None = None,
                page: int = Query(1, ge=1, le=10_000), per_page: int = Query(worklist.PER_PAGE, ge=1, le=200),
                ctx: Ctx = permission("qc.review")) -> dict:
    ask = worklist.WorklistQuery(filter=filter or "", state=state, department=department, campus=campus,
                                 discharged_from=discharged_from, discharged_to=discharged_to, page=page,
                                 per_page=per_page)
    found = worklist.worklist(ctx.session, ctx.subject, ask)
    return {"filter": filter, "state": state, "page": page, "per_page": per_page, "total": found.total,
            "items": [worklist.as_json(row) for row in found.rows]}


@router.get("/qc/returned", summary="退回给我的病案")
def returned_to_me(ctx: Ctx = signed_in()) -> dict:
    records = ctx.session.scalars(worklist.returned_to(ctx.user)).all()
    return {"count": len(records), "items": [{"record_id": r.id, "record_number": r.record_number,
                                              "name": r.patient.name} for r in records]}


@router.get("/qc/history", summary="质控记录查询（结果、病案号、科室、质控员、开始日期）")
def qc_history(outcome: Literal["open", "returned", "passed"] | None = None,
               record_number: str = Query("", max_length=32), department: str = Query("", max_length=32),
               reviewer: str = Query("", max_length=64), started_from: date | None = None,
               started_to: date | None = None, ctx: Ctx = permission("qc.review")) -> dict:
    ask = worklist.HistoryQuery(outcome=outcome or "", record_number=record_number, department=department,
                                reviewer=reviewer, started_from=started_from, started_to=started_to)
    rows = worklist.history(ctx.session, ctx.subject, ask)
    return {"count": len(rows), "items": [_history_json(row) for row in rows]}


def _history_json(row: dict) -> dict:
    moments = ("discharged_at", "started_at", "finished_at")
    return {key: (value.isoformat() if key in moments and value else value) for key, value in row.items()}


@router.get("/qc/{record_id}", summary="一份病案的质控：文书与变化页、自检结果、质控意见")
def qc_view(access: RecordAccess = record_gate("qc")) -> dict:
    view = screen.screen(access.ctx.session, access.ctx.subject, access.record)
    access.ctx.audit("view", object_type="record", object_id=access.record.id, record_id=access.record.id,
                     detail={"界面": "质控"})
    return screen.as_json(view, access.ctx.session)


@router.post("/qc/{record_id}/take", summary="开始质控（待质控 → 质控中，进入我的列表）")
def take(access: RecordAccess = record_gate("qc")) -> dict:
    ctx = access.ctx
    service.take(ctx.session, ctx.actor, ctx.user, access.record)
    return _view(access)


@router.post("/qc/{record_id}/comments", status_code=201, summary="质控意见：文书、页码、类型（医疗/护理）")
def add_comment(body: CommentBody, access: RecordAccess = record_gate("qc")) -> dict:
    ctx = access.ctx
    found = service.comment(ctx.session, ctx.actor, ctx.user, access.record, body.document_id, body.page,
                            body.type, body.text)
    return screen.comment_json(found)


@router.delete("/qc/{record_id}/comments/{comment_id}", summary="删除未发出的质控意见")
def delete_comment(comment_id: RowId, access: RecordAccess = record_gate("qc")) -> dict:
    ctx = access.ctx
    service.delete_comment(ctx.session, ctx.actor, ctx.user, access.record, comment_id)
    return {"deleted": comment_id}


@router.post("/qc/{record_id}/return", summary="退回：医疗意见给经治医师与科主任，护理意见给病区护士")
def return_record(access: RecordAccess = record_gate("qc")) -> dict:
    ctx = access.ctx
    service.return_record(ctx.session, ctx.actor, ctx.user, access.record)
    return _view(access)


@router.post("/qc/{record_id}/pass", summary="质控通过（最后一步归档）；自检有错误时须填写强制通过理由")
def pass_record(body: PassBody | None = None, access: RecordAccess = record_gate("qc")) -> dict:
    ctx = access.ctx
    passed = service.pass_record(ctx.session, ctx.actor, ctx.user, access.record,
                                 body.override_reason if body else "")
    return {**_view(access), "archived": passed.archived}


@router.post("/qc/batch-pass", summary="批量通过自检通过的病案，逐份返回结果")
def batch_pass(body: BatchBody, ctx: Ctx = permission("qc.review")) -> dict:
    results = service.batch_pass(ctx.session, ctx.actor, ctx.user, body.record_ids)
    return {"passed": sum(r["ok"] for r in results), "results": results}


@router.post("/records/{record_id}/resubmit", summary="按质控意见修改后重新提交（逐条整改说明），回到退回它的质控员")
def resubmit(body: ResubmitBody | None = None, access: RecordAccess = record_gate("view")) -> dict:
    ctx = access.ctx
    replies = [(reply.comment_id, reply.text) for reply in body.replies] if body else []
    service.resubmit(ctx.session, ctx.actor, ctx.user, access.record, replies)
    return _view(access)


def _view(access: RecordAccess) -> dict:
    return screen.as_json(screen.screen(access.ctx.session, access.ctx.subject, access.record), access.ctx.session)
