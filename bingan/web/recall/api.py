"""The recall JSON API (a contract for integrators): apply to recall a record, the record's recalls
with their pinned versions, and the status the EMR reads (N4). Decisions go through
``POST /api/v1/approvals/{id}/decision``."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field

from bingan import clock
from bingan.records.approvals import inbox
from bingan.records.recall import service
from bingan.web.deps import Ctx, RecordAccess, record_gate

router = APIRouter(prefix="/api/v1", tags=["召回"])
DocumentId = Annotated[int, Field(ge=1, le=2**31 - 1)]


class RecallBody(BaseModel):
    reason: str = Field(..., min_length=1, max_length=2000, description="召回理由（返修原因）")
    deadline_days: int = Field(..., ge=1, le=service.MAX_DEADLINE_DAYS, description="重新提交期限（天）")
    document_ids: list[DocumentId] | None = Field(None, max_length=service.MAX_DOCUMENTS,
                                           description="需修改的文书编号；不填为整份病案")


@router.post("/records/{record_id}/recall", status_code=201, summary="申请召回已归档病案（返修）")
def apply_recall(body: RecallBody, access: RecordAccess = record_gate("apply_recall")) -> dict:
    ctx = access.ctx
    request = service.apply(ctx.session, ctx.actor, ctx.user, access.record, body.reason, body.deadline_days,
                            body.document_ids)
    return inbox.as_json(inbox.request_view(ctx.session, ctx.user, request.id))


@router.get("/records/{record_id}/status", summary="病案状态（供电子病历等来源系统查询：生命周期、封存、召回、打印）")
def record_status(access: RecordAccess = record_gate("view")) -> dict:
    ctx, record = access.ctx, access.record
    ctx.audit("view", object_type="record_status", object_id=record.id, record_id=record.id)
    return service.record_status(ctx.session, record)


@router.get("/records/{record_id}/recalls", summary="病案的召回记录、召回前版本与已打印/复印记录")
def recalls(access: RecordAccess = record_gate("view")) -> dict:
    ctx, record = access.ctx, access.record
    ctx.audit("view", object_type="recall", object_id=record.id, record_id=record.id)
    return _overview_json(ctx, service.overview(ctx.session, record))


def _overview_json(ctx: Ctx, view: service.Overview) -> dict:
    return {
        "status": service.record_status(ctx.session, view.record),
        "printed_copies": [service.copy_json(copy) for copy in view.copies],
        "pending_request": inbox.summary(view.pending) if view.pending else None,
        "recalls": [{**service.recall_json(recall), "last_day": service.last_day(recall).isoformat(),
                     "backups": [_backup_json(backup) for backup in backups]} for recall, backups in view.recalls],
    }


def _backup_json(backup: service.Backup) -> dict:
    return {"document_id": backup.document_id, "title": backup.title,
            "pinned_version": backup.pinned.number, "pinned_version_id": backup.pinned.id,
            "pinned_collected_at": clock.iso(backup.pinned.collected_at),
            "current_version": backup.current.number if backup.current else None, "changed": backup.changed,
            "view_url": f"/documents/{backup.document_id}/pages/1?version={backup.pinned.id}",
            "compare_url": service.compare_url(backup)}
