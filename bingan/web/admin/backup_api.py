"""The backup schedule as JSON (/api/v1/backup/…): the same service and guard as the backup page."""
from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from bingan import clock
from bingan.records import backups, jobs
from bingan.web.deps import Ctx, permission

router = APIRouter(prefix="/api/v1", tags=["管理"])


class ScheduleIn(BaseModel):
    enabled: bool
    target: str = Field("", max_length=500)
    time: str = Field("02:00", max_length=5, description="HH:MM，医院本地时间")
    keep: int = Field(30, ge=1, le=backups.MAX_KEEP, description="保留最近几份备份")


def _view(ctx: Ctx) -> dict:
    shown = backups.overview(ctx.session, clock.now())
    return {**shown["schedule"].__dict__, "passphrase_problem": shown["passphrase_problem"] or None,
            "next_run": shown["next_run"] or None, "last": shown["last"] or None, "sets": shown["sets"],
            "jobs": [jobs.job_view(job) for job in shown["jobs"]]}


@router.get("/backup/schedule", summary="定时备份设置与最近结果")
def schedule_get(ctx: Ctx = permission("system.settings")) -> dict:
    return _view(ctx)


@router.put("/backup/schedule", summary="修改定时备份")
def schedule_put(body: ScheduleIn, ctx: Ctx = permission("system.settings")) -> dict:
    backups.save_schedule(ctx.session, ctx.actor, enabled=body.enabled, target=body.target, at=body.time,
                          keep=body.keep)
    return _view(ctx)


@router.post("/backup/run", status_code=202, summary="立即备份")
def backup_run(ctx: Ctx = permission("system.settings")) -> dict:
    job = backups.start_now(ctx.session, ctx.actor, backups.schedule_of(ctx.session), owner=ctx.user)
    return jobs.job_view(job)
