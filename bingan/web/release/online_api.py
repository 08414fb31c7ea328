"""The patient app's copying API (网上复印申请): apply, follow, pay online — called with the app's
API token (``Authorization: Bearer bgn_…``, a token holding ``copy.online``); every call audited
under the token's service user. Everything through records/release/online.py."""
from __future__ import annotations

import base64
import binascii

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from bingan.errors import Refusal
from bingan.records.release import online, service
from bingan.storage.blobs.port import open_blob_store
from bingan.web.deps import Ctx, permission
from bingan.web.inputs import RowId
from bingan.web.release.api import ApplicantBody

router = APIRouter(prefix="/api/v1", tags=["复印"])
MAX_PAPER_CHARS = (service.MAX_PAPER_BYTES * 4) // 3 + 4


class RecordBody(BaseModel):
    record_number: str = Field(..., max_length=32, description="病案号")
    stay_number: int | None = Field(None, ge=1, le=999, description="住院次数（同一病案号多次住院时必填）")
    patient_name: str = Field(..., max_length=50, description="患者姓名")
    patient_id_number: str = Field(..., max_length=30, description="患者身份证号码（GB 11643 校验）")


class PaperBody(BaseModel):
    code: str = Field(..., max_length=32, description="材料种类，如 id_card（申请人有效身份证明）、power_of_attorney")
    media_type: str = Field(..., max_length=32, description="image/jpeg、image/png 或 application/pdf")
    data: str = Field(..., max_length=MAX_PAPER_CHARS, description="文件内容（base64）")


class OnlineBody(BaseModel):
    applicant: ApplicantBody
    record: RecordBody
    package: str = Field(..., max_length=100, description="套餐代码或名称，如 reimbursement（报销套餐）")
    copies: int | None = Field(None, ge=1, le=service.MAX_COPIES)
    purpose: str = Field("", max_length=100)
    papers: list[PaperBody] = Field([], max_length=online.MAX_PAPERS)


class OnlinePayBody(BaseModel):
    reference: str = Field(..., min_length=1, max_length=64, description="线上支付的交易流水号")


@router.post("/online-copy-requests", status_code=201,
             summary="网上复印申请（患者端应用）：申请人、病案（病案号、患者姓名与身份证号）、套餐 → 待审核的申请")
def apply(request: Request, body: OnlineBody, ctx: Ctx = permission("copy.online")) -> dict:
    applicant = body.applicant
    form = online.OnlineForm(
        applicant=service.Applicant(applicant.type, applicant.name, applicant.id_number, applicant.phone,
                                    applicant.organisation, applicant.relation),
        record_number=body.record.record_number, stay_number=body.record.stay_number,
        patient_name=body.record.patient_name, patient_id_number=body.record.patient_id_number,
        package=body.package, copies=body.copies, purpose=body.purpose,
        papers=[(paper.code, paper.media_type, _decoded(paper.data)) for paper in body.papers])
    copy_request, token = online.apply(ctx.session, ctx.actor, ctx.user, open_blob_store(request.app.state.settings),
                                       form)
    return {**online.as_json(ctx.session, copy_request), "download_url": online.DOWNLOAD_PATH + token}


def _decoded(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Refusal("申请材料应为 base64 编码的文件内容") from exc


@router.get("/online-copy-requests/{copy_request_id}", summary="网上复印申请的状态、费用、驳回原因、能否下载")
def one(copy_request_id: RowId, ctx: Ctx = permission("copy.online")) -> dict:
    copy_request = online.own_request(ctx.session, ctx.user, copy_request_id)
    ctx.audit("copy.online_view", object_type="copy_request", object_id=copy_request.id)
    return online.as_json(ctx.session, copy_request)


@router.post("/online-copy-requests/{copy_request_id}/pay", status_code=202,
             summary="线上缴费（交易流水号），随即生成复印件")
def pay(copy_request_id: RowId, body: OnlinePayBody, ctx: Ctx = permission("copy.online")) -> dict:
    copy_request = online.own_request(ctx.session, ctx.user, copy_request_id)
    online.pay(ctx.session, ctx.actor, ctx.user, copy_request, body.reference)
    ctx.session.flush()
    return online.as_json(ctx.session, copy_request)
