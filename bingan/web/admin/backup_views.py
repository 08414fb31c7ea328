"""The backup page (定时备份, V2): target directory, daily time and sets kept; the latest outcome,
the sets in the target, the next run; "立即备份" queues a run now."""
from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from bingan import clock
from bingan.records import backups
from bingan.web import navigation
from bingan.web.admin.common import done
from bingan.web.deps import Ctx, permission
from bingan.web.errors import back_on_refusal
from bingan.web.render import page

router = APIRouter(include_in_schema=False)
PATH = "/admin/backup"
navigation.register("系统设置", "定时备份", PATH, "system.settings")


@router.get(PATH, response_class=HTMLResponse)
def backup_page(request: Request, ctx: Ctx = permission("system.settings")) -> Response:
    shown = backups.overview(ctx.session, clock.now())
    last = shown["last"]
    when = clock.local(datetime.fromisoformat(last["at"])) if last else None
    return page(request, "admin/backup.html", ctx, **shown, last_at=when.strftime("%Y-%m-%d %H:%M") if when else "",
                error=request.query_params.get("error", "")[:500],
                message=request.query_params.get("message", "")[:200])


@router.post(PATH, dependencies=[back_on_refusal(PATH)])
def backup_save(enabled: str = Form(""), target: str = Form("", max_length=500), at: str = Form("02:00", max_length=5),
                keep: int = Form(30, ge=1, le=backups.MAX_KEEP), ctx: Ctx = permission("system.settings")) -> Response:
    schedule = backups.save_schedule(ctx.session, ctx.actor, enabled=bool(enabled), target=target, at=at, keep=keep)
    return done(PATH, f"已保存：每天 {schedule.time} 备份" if schedule.enabled else "已保存：定时备份已关闭")


@router.post(f"{PATH}/run", dependencies=[back_on_refusal(PATH)])
def backup_run(ctx: Ctx = permission("system.settings")) -> Response:
    job = backups.start_now(ctx.session, ctx.actor, backups.schedule_of(ctx.session), owner=ctx.user)
    return done(PATH, f"备份已开始（后台任务 {job.id}）")
