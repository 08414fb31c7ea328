"""The record JSON API (T8): a record's summary, its documents in filing order, page images —
behind the same gate as the record page. List endpoints return summaries, never page text."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel

from bingan.access.policy import CONFIDENTIALITY_NAMES
from bingan.records import personal
from bingan.storage.models import Record
from bingan.web.deps import RecordAccess, document_gate, record_gate
from bingan.web.inputs import PageNumber, VersionParam
from bingan.web.openapi import HospitalTime
from bingan.web.records import images, service

router = APIRouter(prefix="/api/v1", tags=["病案 API"])


class RecordSummary(BaseModel):
    id: int
    record_number: str
    stay: int
    patient_name: str
    department: str | None
    admitted_at: HospitalTime | None
    discharged_at: HospitalTime | None
    status: str
    confidentiality: str
    tags: list[str]
    diagnoses: list[dict[str, str]]


class DocumentSummary(BaseModel):
    id: int
    category: str
    document_type: str
    title: str
    origin: str
    versions: list[dict[str, object]]


def summary(record: Record) -> RecordSummary:
    department = record.discharge_department
    return RecordSummary(
        id=record.id, record_number=record.record_number, stay=record.stay_number, patient_name=record.patient.name,
        department=department.name if department else None, admitted_at=record.admitted_at,
        discharged_at=record.discharged_at, status=record.status,
        confidentiality=CONFIDENTIALITY_NAMES[record.confidentiality], tags=[t.name for t in record.tags],
        diagnoses=[{"code": d.code, "name": d.name} for d in record.diagnoses],
    )


@router.get("/records/{record_id}", response_model=RecordSummary, summary="病案首页摘要")
def record(access: RecordAccess = record_gate("view")) -> RecordSummary:
    ctx = access.ctx
    ctx.audit("view", object_type="record", object_id=access.record.id, record_id=access.record.id,
              detail={"接口": "api"})
    personal.note_view(ctx.session, ctx.user, access.record.id)
    return summary(access.record)


@router.get("/records/{record_id}/documents", response_model=list[DocumentSummary], summary="病案文书（归档顺序）")
def record_documents(access: RecordAccess = record_gate("view")) -> list[DocumentSummary]:
    ctx = access.ctx
    groups = service.documents_by_category(ctx.session, ctx.subject, access.record, [])
    return [
        DocumentSummary(id=d.id, category=g.category.name, document_type=d.document_type.name,
                        title=d.title, origin=d.origin,
                        versions=[{"id": v.id, "number": v.number, "pages": v.page_count,
                                   "change": v.change_kind, "media_type": v.media_type} for v in d.versions])
        for g in groups for d in g.documents
    ]


@router.get("/documents/{document_id}/pages/{number}/image", summary="页面图像（带水印 JPEG）",
            response_class=Response)
def api_page_image(request: Request, number: PageNumber, version: VersionParam = None,
                   access: RecordAccess = document_gate("view")) -> Response:
    return images.page_image(request, number, version, access)
