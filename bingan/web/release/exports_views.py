"""Exporting from the record page (导出): the form (formats, audience watermark, categories) starts
the export job; its page follows the progress and offers the zip when done. Everything through
records/release/exports.py."""
from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bingan.errors import NotFound
from bingan.records import jobs
from bingan.records.release import exports
from bingan.web.deps import Ctx, RecordAccess, record_gate, signed_in
from bingan.web.errors import back_on_refusal
from bingan.web.inputs import RowId
from bingan.web.render import page

router = APIRouter(include_in_schema=False)
RECORD_PAGE = "/records/{record_id}?export=1"


@router.post("/records/{record_id}/export", dependencies=[back_on_refusal(RECORD_PAGE)])
def start(formats: list[str] = Form([]), watermark: str = Form("", max_length=exports.MAX_WATERMARK),
          categories: list[str] = Form([]), access: RecordAccess = record_gate("export")) -> Response:
    ctx = access.ctx
    form = exports.ExportForm(record_ids=[access.record.id], formats=formats, watermark=watermark,
                              categories=categories or None)
    job = exports.start_export(ctx.session, ctx.actor, ctx.user, ctx.subject, [access.record], form)
    return RedirectResponse(f"/exports/{job.id}", status_code=303)


@router.get("/exports/{job_id}", response_class=HTMLResponse)
def progress(request: Request, job_id: RowId, ctx: Ctx = signed_in()) -> HTMLResponse:
    job = jobs.visible_job(ctx.session, ctx.user, ctx.subject.permissions, job_id)
    if job.kind != exports.EXPORT_JOB:
        raise NotFound("导出任务不存在")
    return page(request, "release/export.html", ctx, job=jobs.job_view(job), record_id=job.record_id,
                formats=[exports.FORMATS[code] for code in job.params["formats"]],
                watermark=job.params["watermark"], documents=len(job.params["items"]))
