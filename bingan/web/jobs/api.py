"""The jobs JSON API: a job's state, progress and result link (copy jobs, exports, seal packages)."""
from __future__ import annotations

from fastapi import APIRouter

from bingan.records import jobs
from bingan.web.deps import Ctx, signed_in
from bingan.web.inputs import RowId

router = APIRouter(prefix="/api/v1", tags=["后台任务"])


@router.get("/jobs/{job_id}", summary="后台任务：状态、进度、结果链接")
def job(job_id: RowId, ctx: Ctx = signed_in()) -> dict:
    return jobs.job_view(jobs.visible_job(ctx.session, ctx.user, ctx.subject.permissions, job_id))
