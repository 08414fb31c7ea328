"""The retention JSON API: records due for destruction, and applying to destroy them."""
from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from bingan import clock
from bingan.records.approvals import inbox
from bingan.records.retention import service
from bingan.web.deps import Ctx, permission

router = APIRouter(prefix="/api/v1", tags=["保存期限"])


class DestroyBody(BaseModel):
    record_ids: list[int] = Field(..., min_length=1, max_length=service.MAX_BATCH)
    reason: str = Field(..., max_length=2000)


@router.get("/retention/due", summary="保存期限已届满的病案（封存、法律保全的病案不在其中）")
def due(ctx: Ctx = permission("retention.manage")) -> dict:
    rows = service.due_records(ctx.session, clock.local_date(clock.now()))
    return {"count": len(rows), "items": [
        {"record_id": row.record.id, "record_number": row.record.record_number, "stay": row.record.stay_number,
         "visit_type": row.record.visit_type, "last_visit_on": row.last_visit_on.isoformat(),
         "due_on": row.due_on.isoformat(), "open_request_id": row.open_request_id} for row in rows]}


@router.post("/retention/destroy", status_code=201, summary="申请销毁到期病案（每份病案一条申请，审批通过后执行）")
def destroy(body: DestroyBody, ctx: Ctx = permission("retention.manage")) -> dict:
    requests = service.apply_destroy(ctx.session, ctx.actor, ctx.user, body.record_ids, body.reason)
    return {"requests": [inbox.summary(request) for request in requests]}
