"""The exports JSON API (导出): records or chosen documents as signed, watermarked PDF and OFD files
in one zip, made by a background job followed at /api/v1/jobs/{id}."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from bingan.records import jobs
from bingan.records.release import exports
from bingan.web.deps import Ctx, gate_record, load_record, permission
from bingan.web.inputs import MAX_ID

router = APIRouter(prefix="/api/v1", tags=["导出"])
RowIds = list[Annotated[int, Field(ge=1, le=MAX_ID)]]


class ExportBody(BaseModel):
    record_ids: RowIds = Field(..., min_length=1, max_length=exports.MAX_RECORDS)
    document_ids: RowIds | None = Field(None, max_length=5000, description="只导出这些文书；缺省为整份病案")
    categories: list[Annotated[str, Field(max_length=100)]] | None = Field(
        None, max_length=100, description="只导出这些病案分类（代码或名称）")
    formats: list[Annotated[str, Field(max_length=8)]] = Field(["pdf", "ofd"], min_length=1, max_length=2,
                                                               description="pdf（PAdES 签名）、ofd（SM2 电子签章）")
    watermark: str = Field("", max_length=exports.MAX_WATERMARK,
                           description="水印文字（按使用对象，如 仅供某某保险公司理赔使用）")


@router.post("/exports", status_code=202,
             summary="导出病案：签名、加水印的 PDF / OFD 打包为 zip（后台任务，进度见 /api/v1/jobs/{id}）")
def create(body: ExportBody, response: Response, ctx: Ctx = permission("record.export")) -> dict:
    records = [gate_record(ctx, "export", load_record(ctx.session, record_id)).record for record_id in body.record_ids]
    form = exports.ExportForm(record_ids=body.record_ids, formats=body.formats, watermark=body.watermark,
                              document_ids=body.document_ids, categories=body.categories)
    job = exports.start_export(ctx.session, ctx.actor, ctx.user, ctx.subject, records, form)
    ctx.session.flush()
    link = f"/api/v1/jobs/{job.id}"
    response.headers["Location"] = link
    return {**jobs.job_view(job), "job_id": job.id, "job_url": link, "records": len(records),
            "documents": len(job.params["items"])}
