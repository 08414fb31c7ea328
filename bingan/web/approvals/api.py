"""The approvals JSON API (a contract for integrators): boxes, one request, decisions, withdrawal."""
from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from bingan.records.approvals import engine, inbox
from bingan.records.approvals.notifier import messages_of, unread_count
from bingan.web.deps import Ctx, signed_in
from bingan.web.inputs import RowId

router = APIRouter(prefix="/api/v1", tags=["审批"])


class DecisionBody(BaseModel):
    decision: Literal["approve", "reject", "return"]
    opinion: str = Field("", max_length=2000)
    to_step: int | None = Field(None, ge=0, le=50, description="退回到第几步（1 起）；不填或 0 为退回申请人")


class ResubmitBody(BaseModel):
    opinion: str = Field("", max_length=2000)


@router.get("/approvals", summary="审批列表：todo 待办 / mine 我的申请 / done 已办")
def approvals(box: Literal["todo", "mine", "done"] = "todo", ctx: Ctx = signed_in()) -> dict:
    rows = inbox.box(ctx.session, ctx.user, box)
    return {"box": box, "count": len(rows), "items": [inbox.summary(row) for row in rows]}


@router.get("/approvals/{approval_id}", summary="一条申请：步骤、各节点意见、附件")
def approval(approval_id: RowId, ctx: Ctx = signed_in()) -> dict:
    return inbox.as_json(inbox.request_view(ctx.session, ctx.user, approval_id))


@router.post("/approvals/{approval_id}/decision", summary="审批：通过、驳回或退回")
def decision(approval_id: RowId, body: DecisionBody, ctx: Ctx = signed_in()) -> dict:
    engine.decide(ctx.session, ctx.actor, ctx.user, approval_id, body.decision, body.opinion, body.to_step)
    return inbox.as_json(inbox.request_view(ctx.session, ctx.user, approval_id))


@router.post("/approvals/{approval_id}/withdraw", summary="申请人撤回申请")
def withdraw(approval_id: RowId, ctx: Ctx = signed_in()) -> dict:
    engine.withdraw(ctx.session, ctx.actor, ctx.user, approval_id)
    return inbox.as_json(inbox.request_view(ctx.session, ctx.user, approval_id))


@router.post("/approvals/{approval_id}/resubmit", summary="申请人修改后重新提交（回到退回它的步骤）")
def resubmit(approval_id: RowId, body: ResubmitBody, ctx: Ctx = signed_in()) -> dict:
    engine.resubmit(ctx.session, ctx.actor, ctx.user, approval_id, body.opinion)
    return inbox.as_json(inbox.request_view(ctx.session, ctx.user, approval_id))


@router.get("/messages", summary="站内消息（已读 / 未读）")
def messages(ctx: Ctx = signed_in()) -> dict:
    return {"unread": unread_count(ctx.session, ctx.user),
            "items": [{"id": m.id, "kind": m.kind, "title": m.title, "body": m.body, "link": m.link,
                       "created_at": m.created_at.isoformat(), "read": m.read_at is not None}
                      for m in messages_of(ctx.session, ctx.user)]}
