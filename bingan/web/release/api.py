"""The copying JSON API (复印): copy requests with their fee, payment and refund, papers, the copy
job (followed at /api/v1/jobs/{id}), the records a clerk may copy, the copy rules, and a
record's print status for other systems (J8)."""
from __future__ import annotations

from datetime import date
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field

from bingan import clock
from bingan.records import jobs
from bingan.records.prints import printed_copies
from bingan.records.release import forms, output, rules, service
from bingan.storage.blobs.port import open_blob_store
from bingan.storage.models import Record
from bingan.web.deps import Ctx, RecordAccess, gate_record, load_record, permission, record_gate
from bingan.web.inputs import MAX_ID, RowId

router = APIRouter(prefix="/api/v1", tags=["复印"])


class ApplicantBody(BaseModel):
    type: str = Field(..., max_length=32, description="申请人类型：patient 患者本人 / agent 代理人 / heir 继承人 / "
                      "heir_agent 继承人代理人 / police 公安 / court 法院 / insurer 保险机构…")
    name: str = Field(..., max_length=50)
    id_number: str = Field(..., max_length=30, description="身份证号码（GB 11643 校验）")
    phone: str = Field("", max_length=32)
    organisation: str = Field("", max_length=100, description="工作单位（机构申请人）")
    relation: str = Field("", max_length=50, description="与患者关系")
    card: dict[str, str] = Field({}, max_length=20, description="读卡器读出的身份证信息（不含照片）")


class PageChoice(BaseModel):
    document_id: int = Field(..., ge=1, le=2**31 - 1)
    pages: list[int] | None = Field(None, max_length=2000, description="页码（从1开始）；缺省为整份文书")


class CopyRequestBody(BaseModel):
    applicant: ApplicantBody
    record_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(..., min_length=1, max_length=service.MAX_RECORDS)
    package: str = Field("", max_length=100, description="套餐代码或名称，如 reimbursement（报销套餐）")
    categories: list[str] | None = Field(None, max_length=100, description="病案分类代码或名称")
    pages: list[PageChoice] | None = Field(None, max_length=500)
    copies: int | None = Field(None, ge=1, le=service.MAX_COPIES)
    purpose: str = Field("", max_length=100, description="复印用途，如 医保报销")
    watermark: str = Field("", max_length=100, description="水印文字（缺省：仅供某某使用）")


class PayBody(BaseModel):
    method: Literal["cash", "card", "online"] = Field(..., description="cash 现金 / card 银行卡 / online 线上支付")
    reference: str = Field("", max_length=64, description="凭证号或交易流水号（银行卡、线上支付必填）")


class RefundBody(BaseModel):
    reason: str = Field(..., max_length=500)


@router.post("/copy-requests", status_code=201, summary="复印登记：申请人、病案、复印范围 → 含费用的申请")
def create(body: CopyRequestBody, ctx: Ctx = permission("copy.serve")) -> dict:
    records = [gate_record(ctx, "copy", load_record(ctx.session, record_id)).record for record_id in body.record_ids]
    applicant = body.applicant
    form = service.CopyForm(
        applicant=service.Applicant(applicant.type, applicant.name, applicant.id_number, applicant.phone,
                                    applicant.organisation, applicant.relation, applicant.card),
        record_ids=body.record_ids, package=body.package, categories=body.categories,
        pages=[choice.model_dump() for choice in body.pages] if body.pages is not None else None,
        copies=body.copies, purpose=body.purpose, watermark=body.watermark)
    request = service.create_request(ctx.session, ctx.actor, ctx.user, records, form)
    return service.as_json(ctx.session, request)


@router.get("/copy-requests", summary="复印登记簿（最近 200 条）")
def listing(status: Literal["pending_review", "registered", "paid", "printed", "refunded", "cancelled", "rejected",
                            ""] = "",
            ctx: Ctx = permission("copy.serve")) -> dict:
    rows = service.requests(ctx.session, status)
    ctx.audit("copy.list", object_type="copy_request", detail={"状态": status or "全部", "条数": len(rows)})
    return {"count": len(rows), "items": [service.as_json(ctx.session, row) for row in rows]}


@router.get("/copy-requests/{copy_request_id}", summary="一项复印申请：费用、材料、缺少的材料、打印任务")
def one(copy_request_id: RowId, ctx: Ctx = permission("copy.serve")) -> dict:
    request = service.get_request(ctx.session, copy_request_id)
    ctx.audit("copy.view", object_type="copy_request", object_id=request.id)
    return service.as_json(ctx.session, request)


@router.post("/copy-requests/{copy_request_id}/pay", summary="缴费（现金、银行卡、线上支付）")
def pay(copy_request_id: RowId, body: PayBody, ctx: Ctx = permission("copy.serve")) -> dict:
    request = service.get_request(ctx.session, copy_request_id)
    service.pay(ctx.session, ctx.actor, ctx.user, request, body.method, body.reference)
    return service.as_json(ctx.session, request)


@router.post("/copy-requests/{copy_request_id}/refund", summary="退费（须填写原因）")
def refund(copy_request_id: RowId, body: RefundBody, ctx: Ctx = permission("copy.serve")) -> dict:
    request = service.get_request(ctx.session, copy_request_id)
    service.refund(ctx.session, ctx.actor, ctx.user, request, body.reason)
    return service.as_json(ctx.session, request)


@router.post("/copy-requests/{copy_request_id}/cancel", summary="作废未缴费的申请")
def cancel(copy_request_id: RowId, ctx: Ctx = permission("copy.serve")) -> dict:
    request = service.get_request(ctx.session, copy_request_id)
    service.cancel(ctx.session, ctx.actor, request)
    return service.as_json(ctx.session, request)


@router.post("/copy-requests/{copy_request_id}/print", status_code=202,
             summary="生成复印件（后台任务，进度见 /api/v1/jobs/{id}）")
def print_copies(copy_request_id: RowId, ctx: Ctx = permission("copy.serve")) -> dict:
    request = service.get_request(ctx.session, copy_request_id)
    job = service.start_print(ctx.session, ctx.actor, ctx.user, request)
    ctx.session.flush()
    return {**jobs.job_view(job), "copy_request_id": request.id}


@router.post("/copy-requests/{copy_request_id}/papers", status_code=201, summary="上传或拍照的申请材料（加密保存）")
async def add_paper(request: Request, copy_request_id: RowId, code: str = Form(..., max_length=32),
                    file: UploadFile = File(...), ctx: Ctx = permission("copy.serve")) -> dict:
    data = await file.read(service.MAX_PAPER_BYTES + 1)
    copy_request = service.get_request(ctx.session, copy_request_id)
    store = open_blob_store(request.app.state.settings)
    service.add_paper(ctx.session, ctx.actor, ctx.user, store, copy_request, code, data, file.content_type or "")
    return service.as_json(ctx.session, copy_request)


@router.get("/copy-requests/{copy_request_id}/papers/{paper_id}", summary="查看一份申请材料")
def paper(request: Request, copy_request_id: RowId, paper_id: RowId, ctx: Ctx = permission("copy.serve")) -> Response:
    copy_request = service.get_request(ctx.session, copy_request_id)
    found = service.paper(ctx.session, copy_request, paper_id)
    with open_blob_store(request.app.state.settings).open(found.sha256) as stream:
        data = stream.read()
    ctx.audit("copy.paper_view", object_type="copy_request", object_id=copy_request.id, detail={"材料": found.name})
    return Response(data, media_type=found.media_type, headers={"Cache-Control": "private, no-store"})


@router.get("/copy-requests/{copy_request_id}/receipt.pdf", summary="收费收据（PDF）")
def receipt(copy_request_id: RowId, ctx: Ctx = permission("copy.serve")) -> Response:
    copy_request = service.get_request(ctx.session, copy_request_id)
    data = forms.receipt_pdf(ctx.session, copy_request, output.hospital_name(ctx.session))
    ctx.audit("copy.receipt", object_type="copy_request", object_id=copy_request.id,
              detail={"金额": rules.yuan(copy_request.fee_fen)})
    return _pdf(data, f"收费收据-{copy_request.id}.pdf")


@router.get("/copy-requests/{copy_request_id}/application.pdf", summary="电子申请表（PDF，含身份证明图像）")
def application(request: Request, copy_request_id: RowId, ctx: Ctx = permission("copy.serve")) -> Response:
    copy_request = service.get_request(ctx.session, copy_request_id)
    store = open_blob_store(request.app.state.settings)

    def read(sha256: str) -> bytes:
        with store.open(sha256) as stream:
            return stream.read()

    data = forms.application_pdf(ctx.session, copy_request, output.hospital_name(ctx.session), read)
    ctx.audit("copy.application_form", object_type="copy_request", object_id=copy_request.id)
    return _pdf(data, f"复印申请表-{copy_request.id}.pdf")


def _pdf(data: bytes, name: str) -> Response:
    return Response(data, media_type="application/pdf", headers={
        "Content-Disposition": f"inline; filename*=UTF-8''{quote(name)}", "Cache-Control": "private, no-store"})


@router.get("/copy-records", summary="查找可复印的病案（身份证号、姓名、病案号、入出院日期、出院科室）")
def find(id_number: str = "", name: str = "", record_number: str = "", admitted_from: date | None = None,
         admitted_to: date | None = None, discharged_from: date | None = None, discharged_to: date | None = None,
         department: str = "", ctx: Ctx = permission("copy.serve")) -> dict:
    criteria = service.Criteria(id_number[:30], name[:50], record_number[:32], admitted_from, admitted_to,
                                discharged_from, discharged_to, department[:100])
    found = service.find_records(ctx.session, ctx.subject, criteria)
    ctx.audit("copy.find", object_type="record", detail={"条数": len(found)})
    return {"count": len(found), "items": [record_json(ctx, record) for record in found]}


def record_json(ctx: Ctx, record: Record) -> dict:
    """A found record as the clerk sees it; a sealed one only as 已封存 (no number, no name)."""
    if record.sealed:
        return {"id": record.id, "sealed": True, "copyable": False, "reason": "病案已封存，一律不予复印"}
    stage = record.status != "archived"
    return {"id": record.id, "sealed": False, "record_number": record.record_number, "stay": record.stay_number,
            "patient": record.patient.name, "campus": record.campus.name if record.campus else "",
            "department": record.discharge_department.name if record.discharge_department else "",
            "admitted_at": clock.iso(record.admitted_at), "discharged_at": clock.iso(record.discharged_at),
            "status": record.status, "archived": not stage,
            "warnings": service.record_warnings(ctx.session, record, stage)}


@router.get("/copy-rules", summary="复印规则：套餐、申请人类型与所需材料、收费标准、阶段复印")
def copy_rules(ctx: Ctx = permission("copy.serve")) -> dict:
    return rules_json(ctx)


def rules_json(ctx: Ctx) -> dict:
    current = rules.copy_rules(ctx.session)
    names = rules.category_names(ctx.session)
    return {
        "packages": [{"code": p.code, "name": p.name, "categories": p.categories, "copies": p.copies}
                     for p in rules.packages(ctx.session)],
        "applicant_types": [{"code": k.code, "name": k.name, "papers": k.papers, "outside": k.outside, "free": k.free}
                            for k in rules.applicant_types(ctx.session)],
        "copyable_categories": [{"code": code, "name": names[code]} for code in names
                                if code in rules.copyable_categories(ctx.session)],
        "fees": {**vars(current.fees), "free_categories": list(current.fees.free_categories)},
        "stage_copying": current.stage_copying, "card_reader_url": current.card_reader_url,
    }


@router.get("/records/{record_id}/prints", summary="病案的打印与复印情况（何时、为谁、哪些页、哪个版本）")
def prints(access: RecordAccess = record_gate("view")) -> dict:
    copies = printed_copies(access.ctx.session, access.record.id)
    access.ctx.audit("record.prints", object_type="record", object_id=access.record.id, record_id=access.record.id)
    return {"record_id": access.record.id, "printed": bool(copies), "count": len(copies),
            "items": [{"at": clock.iso(copy.at), "by": copy.by, "for_whom": copy.for_whom, "kind": copy.kind,
                       "document": copy.document, "pages": copy.pages, "version": copy.version} for copy in copies]}
