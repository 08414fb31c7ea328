"""The tier background jobs: the nightly move to cold volumes and a returning patient's prefetch."""
from __future__ import annotations

from bingan.config import get_settings
from bingan.records.jobs import JobContext, JobKind
from bingan.records.tiers.service import MOVE_JOB, PREFETCH_JOB, move_due, prefetch_patient
from bingan.storage.models import utcnow


def run_move(ctx: JobContext) -> None:
    result = move_due(ctx.session, ctx.blobs, utcnow(), progress=ctx.progress)
    ctx.job.note = (f"迁入冷存储 {len(result.moved)} 个文件（{result.bytes / 1048576:.1f} MiB），"
                    f"失败 {len(result.failed)}")


def run_prefetch(ctx: JobContext) -> None:
    from bingan.records.pages import PageRenderer

    renderer = PageRenderer(get_settings(), ctx.blobs)
    result = prefetch_patient(ctx.session, ctx.blobs, renderer, int(ctx.params["patient_id"]), utcnow(),
                              progress=ctx.progress)
    ctx.job.note = f"调回热存储 {result.promoted} 个文件，预先生成 {result.pages} 页"


MOVE_KIND = JobKind(MOVE_JOB, "冷存储迁移", run_move, permission="system.status")
PREFETCH_KIND = JobKind(PREFETCH_JOB, "病案预调阅", run_prefetch, permission="system.status")
