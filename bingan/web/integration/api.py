"""The JSON API for hospital systems (U1) and for running the integration: QC results for the
statistics system, API tokens, embed systems and the notices' delivery log. A hospital system
calls it with ``Authorization: Bearer <token>``; every call is audited under the token's user."""
from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from bingan.access import api_tokens, embed
from bingan.clock import iso
from bingan.errors import Refusal
from bingan.records.notices import service as notices
from bingan.records.notices.channels import CHANNELS
from bingan.records.patients import parse_time
from bingan.records.qc.results import MAX_BATCH, results_since
from bingan.storage.models.integration import ApiToken
from bingan.web.deps import Ctx, permission
from bingan.web.inputs import RowId

router = APIRouter(prefix="/api/v1", tags=["集成"])


def since_time(since: str) -> datetime:
    try:
        moment = parse_time(since)
    except ValueError as exc:
        raise Refusal("since 须为时间，如 2026-12-01T00:00:00+08:00 或 2026-12-01 00:00") from exc
    if moment is None:
        raise Refusal("请给出 since（从何时起的质控结果）")
    return moment


@router.get("/qc/results", summary="质控结果（供病案统计系统）：since 之后完成的质控，按完成时间排序")
def qc_results(since: str = Query(..., max_length=40), limit: int = Query(500, ge=1, le=MAX_BATCH),
               ctx: Ctx = permission("reports.view")) -> dict:
    rows = results_since(ctx.session, ctx.subject, since_time(since), limit)
    ctx.audit("export", object_type="qc_results", detail={"内容": "质控结果", "起始": since, "条数": len(rows)})
    return {"results": rows, "next_since": rows[-1]["finished_at"] if rows else None}


class TokenBody(BaseModel):
    name: str = Field(..., max_length=100, description="调用系统，如 病案统计系统")
    permissions: list[str] = Field(..., min_length=1, max_length=50)
    expires_at: datetime | None = None


def token_json(row: ApiToken) -> dict:
    return {"id": row.id, "name": row.name, "prefix": row.prefix, "service_user": row.user.username,
            "permissions": row.permissions, "created_at": iso(row.created_at), "expires_at": iso(row.expires_at),
            "last_used_at": iso(row.last_used_at), "revoked_at": iso(row.revoked_at)}


@router.get("/integration/tokens", summary="接口令牌列表（不含令牌本身）")
def list_tokens(ctx: Ctx = permission("users.manage")) -> dict:
    return {"tokens": [token_json(row) for row in api_tokens.tokens(ctx.session)]}


@router.post("/integration/tokens", status_code=201, summary="创建接口令牌：令牌只在此应答中出现一次")
def create_token(body: TokenBody, ctx: Ctx = permission("users.manage")) -> dict:
    row, token = api_tokens.create_token(ctx.session, ctx.actor, ctx.user, body.name, body.permissions,
                                         body.expires_at)
    return {**token_json(row), "token": token}


@router.post("/integration/tokens/{token_id}/revoke", summary="吊销接口令牌（立即失效）")
def revoke_token(token_id: RowId, ctx: Ctx = permission("users.manage")) -> dict:
    return token_json(api_tokens.revoke_token(ctx.session, ctx.actor, token_id))


class SystemBody(BaseModel):
    code: str = Field(..., max_length=32)
    name: str = Field(..., max_length=100)
    origins: list[str] = Field(..., min_length=1, max_length=20)


@router.post("/integration/systems", status_code=201,
             summary="登记嵌入系统（医生/护士工作站、医务系统）：共享密钥只在此应答中出现一次")
def create_system(body: SystemBody, ctx: Ctx = permission("users.manage")) -> dict:
    system, secret = embed.create_system(ctx.session, ctx.actor, body.code, body.name, body.origins)
    return {"id": system.id, "code": system.code, "name": system.name, "origins": system.origins, "secret": secret}


@router.get("/notices/deliveries", summary="通知发送记录：status=pending/sent/failed，channel=渠道")
def deliveries(status: str = Query("", pattern="^(|pending|sent|failed)$"),
               channel: str = Query("", max_length=16), offset: int = Query(0, ge=0, le=1_000_000),
               ctx: Ctx = permission("system.settings")) -> dict:
    if channel and channel not in CHANNELS:
        raise Refusal("没有这个通知渠道")
    rows, total = notices.delivery_log(ctx.session, status=status, channel=channel, offset=offset)
    return {"total": total, "deliveries": [notices.delivery_json(row) for row in rows]}


@router.post("/notices/deliveries/{delivery_id}/retry", summary="立即重新发送一条通知")
def retry(delivery_id: RowId, ctx: Ctx = permission("system.settings")) -> dict:
    return notices.delivery_json(notices.retry_now(ctx.session, ctx.actor, delivery_id))
