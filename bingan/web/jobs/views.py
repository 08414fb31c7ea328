"""Background jobs as HTML: a progress fragment that refreshes itself until the job ends, and the
result file (audited like every download)."""
from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from bingan.errors import NotFound
from bingan.records import jobs
from bingan.storage.blobs.port import BlobStore, open_blob_store
from bingan.web.deps import Ctx, signed_in
from bingan.web.inputs import RowId
from bingan.web.templating import templates

router = APIRouter(include_in_schema=False)
CHUNK = 1024 * 1024


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def progress(request: Request, job_id: RowId, ctx: Ctx = signed_in()) -> HTMLResponse:
    job = jobs.visible_job(ctx.session, ctx.user, ctx.subject.permissions, job_id)
    return templates.TemplateResponse(request, "jobs/_progress.html", {"job": jobs.job_view(job)})


@router.get("/jobs/{job_id}/result")
def result(request: Request, job_id: RowId, ctx: Ctx = signed_in()) -> StreamingResponse:
    job = jobs.visible_job(ctx.session, ctx.user, ctx.subject.permissions, job_id)
    if job.state != "done" or not job.result_sha256:
        raise NotFound("任务尚未完成，没有结果文件")
    ctx.audit("job.result_download", object_type="job", object_id=job.id, record_id=job.record_id,
              detail={"文件": job.result_name, "大小": job.result_size})
    ctx.session.commit()
    store = open_blob_store(request.app.state.settings)
    return StreamingResponse(
        _chunks(store, job.result_sha256), media_type=job.result_type or "application/octet-stream",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(job.result_name)}",
                 "Content-Length": str(job.result_size), "Cache-Control": "private, no-store",
                 "X-Content-Type-Options": "nosniff"})


def _chunks(store: BlobStore, sha256: str) -> Iterator[bytes]:
    with store.open(sha256) as stream:
        while chunk := stream.read(CHUNK):
            yield chunk
