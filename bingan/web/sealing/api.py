"""The sealing JSON API: apply to seal and to unseal (decisions go through
/api/v1/approvals/{id}/decision), the seal register, the signed seal package and the seal list
for seal managers, and the hospital's signing certificate for verifiers."""
from __future__ import annotations

from typing import Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from bingan.access.sealed_secrets import SecretBox
from bingan.records import hospital_certificate
from bingan.records.approvals import inbox
from bingan.records.sealing import package, service
from bingan.storage.blobs.port import open_blob_store
from bingan.web.deps import Ctx, RecordAccess, permission, record_gate
from bingan.web.inputs import RowId

router = APIRouter(prefix="/api/v1", tags=["封存"])
PDF_HEADERS = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}


PARTIES_DOC = ("在场人员列表，每位：role（patient 患者本人 / agent 患者代理人 / relative 近亲属 / staff 医院工作人员 / "
               "notary 公证人员，也可写中文）、name、id_number（身份证号码，GB 11643 校验；患方必填）、"
               "organisation（单位或公证处）、relation（与患者关系）")


class SealBody(BaseModel):
    reason: str = Field(..., max_length=2000)
    parties: list[dict[str, Any]] | dict[str, Any] = Field(..., description=PARTIES_DOC)
    scope: str | list[int] | dict[str, Any] = Field(
        "record", description="record 整份病案；documents 所选文书（document_ids），或直接给出文书编号列表")
    document_ids: list[int] | None = Field(None, max_length=2000)
    dispute: str = Field("", max_length=2000, description="纠纷情况")


class UnsealBody(BaseModel):
    reason: str = Field(..., max_length=2000)
    parties: list[dict[str, Any]] | dict[str, Any] = Field([], description=PARTIES_DOC)
    scope: str = Field("record", max_length=20, description="解封范围：整个封存")


def _request_json(ctx: Ctx, request_id: int, seal: object) -> dict:
    return {**inbox.as_json(inbox.request_view(ctx.session, ctx.user, request_id)), "seal_id": seal.id}  # type: ignore[attr-defined]


@router.post("/records/{record_id}/seal", status_code=201, summary="申请封存病案（双方在场人员、封存范围）")
def apply_seal(body: SealBody, access: RecordAccess = record_gate("apply_seal")) -> dict:
    ctx = access.ctx
    form = service.SealForm(reason=body.reason, parties=body.parties, scope=body.scope, dispute=body.dispute,
                            document_ids=body.document_ids)
    seal = service.apply_seal(ctx.session, ctx.actor, ctx.user, access.record, form)
    return _request_json(ctx, seal.request_id, seal)


@router.post("/records/{record_id}/unseal", status_code=201, summary="申请解封病案")
def apply_unseal(body: UnsealBody, access: RecordAccess = record_gate("apply_unseal")) -> dict:
    ctx = access.ctx
    seal = service.apply_unseal(ctx.session, ctx.actor, ctx.user, access.record, body.reason, body.parties)
    return _request_json(ctx, seal.unseal_request_id, seal)


@router.get("/records/{record_id}/seal-package", summary="下载已签章的封存件（仅封存管理）")
def seal_package(request: Request, access: RecordAccess = record_gate("seal_export")) -> Response:
    ctx = access.ctx
    seal = service.seal_for_record(ctx.session, access.record)
    data = package.open_package(ctx.session, open_blob_store(request.app.state.settings), seal)
    ctx.audit("seal.package_download", object_type="seal", object_id=seal.id, record_id=seal.record_id,
              detail={"SHA-256": seal.package_sha256})
    return _pdf(data, f"封存件-{access.record.record_number}.pdf")


@router.get("/records/{record_id}/seal-list", summary="打印封存清单 PDF（仅封存管理）")
def seal_list(access: RecordAccess = record_gate("seal_list")) -> Response:
    ctx = access.ctx
    seal = service.seal_for_record(ctx.session, access.record)
    data = package.print_seal_list(ctx.session, seal)
    ctx.audit("seal.list_print", object_type="seal", object_id=seal.id, record_id=seal.record_id)
    return _pdf(data, f"封存清单-{access.record.record_number}.pdf")


@router.get("/seals", summary="封存登记（仅封存管理）")
def seals(status: Literal["applied", "sealed", "unsealed", "refused", ""] = "sealed",
          ctx: Ctx = permission("seal.manage")) -> dict:
    rows = service.seals(ctx.session, status)
    ctx.audit("seal.list", object_type="seal", detail={"状态": status or "全部", "条数": len(rows)})
    return {"status": status, "count": len(rows), "items": [service.as_json(seal) for seal in rows]}


@router.get("/seals/{seal_id}", summary="一项封存：范围、在场人员、封存件生成进度（仅封存管理）")
def seal(seal_id: RowId, ctx: Ctx = permission("seal.manage")) -> dict:
    found = service.get_seal(ctx.session, seal_id)
    ctx.audit("seal.view", object_type="seal", object_id=found.id, record_id=found.record_id)
    return service.as_json(found)


@router.get("/seal-certificate", summary="医院封存签章证书（PEM，供验证封存件）")
def certificate(request: Request, ctx: Ctx = permission("seal.manage")) -> Response:
    settings = request.app.state.settings
    pem = hospital_certificate.certificate_pem(ctx.session, SecretBox.of(settings), package.hospital_name(ctx.session))
    return Response(pem, media_type="application/x-pem-file",
                    headers={"Content-Disposition": "attachment; filename=\"seal-certificate.pem\""})


def _pdf(data: bytes, filename: str) -> Response:
    return Response(data, media_type="application/pdf",
                    headers={**PDF_HEADERS, "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"})
