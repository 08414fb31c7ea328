"""The monitoring JSON API: sources with their health, one source in detail, retrying failures, and
the big screen's data (refreshed by the wall display every 30 seconds)."""
from __future__ import annotations

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from bingan.clock import iso
from bingan.ingest import monitoring
from bingan.ingest.bigscreen import bigscreen
from bingan.storage.models import utcnow
from bingan.web.deps import Ctx, permission
from bingan.web.inputs import RowId

router = APIRouter(prefix="/api/v1", tags=["采集监控"])
WINDOW = Query("today", pattern="^(today|7d|30d)$", description="统计范围：today 今日、7d 近7天、30d 近30天")


@router.get("/monitoring/sources", summary="全部采集来源的状态：可达性、告警、应采/已转换/已上传、失败与处理中")
def sources(window: str = WINDOW, ctx: Ctx = permission(monitoring.OPERATORS)) -> dict:
    now = utcnow()
    return {"window": window, "sources": [row.as_json() for row in monitoring.overview(ctx.session, now, window)],
            "workers": [{"name": w.name, "seen_at": iso(w.seen_at), "alive": w.alive}
                        for w in monitoring.workers(ctx.session, now)]}


@router.get("/monitoring/sources/{source_id}", summary="一个采集来源：失败原因与失败项、批次耗时、可达性、告警")
def source(source_id: RowId, window: str = WINDOW, ctx: Ctx = permission(monitoring.OPERATORS)) -> dict:
    detail = monitoring.source_detail(ctx.session, source_id, utcnow(), window)
    return {"window": window, **detail.as_json(show_records=ctx.can("record.view"))}


class RetryBody(BaseModel):
    item_id: int | None = Field(None, ge=1, description="重试这一个失败项")
    failure_code: str | None = Field(None, max_length=32, description="或：重试该来源此原因的全部失败项")


@router.post("/monitoring/sources/{source_id}/retry", summary="重试失败的采集项（一项，或某一失败原因的全部）")
def retry(source_id: RowId, body: RetryBody, ctx: Ctx = permission(monitoring.OPERATORS)) -> dict:
    count = monitoring.retry(ctx.session, ctx.actor, source_id, item_id=body.item_id, failure_code=body.failure_code)
    return {"retried": count}


@router.get("/monitoring/bigscreen", summary="大屏数据：服务状态、每日采集、出院与归档、异常（不含患者信息）")
def bigscreen_data(ctx: Ctx = permission("bigscreen.view")) -> dict:
    return bigscreen(ctx.session, utcnow())
