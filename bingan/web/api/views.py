"""The JSON API under /api/v1 (T8): what the pages do, behind the same guards and gate.

Browser sessions authenticate it; unsafe methods need the X-CSRF-Token header (GET /api/v1/me
returns the token). List endpoints return summaries, never page text.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, PlainSerializer

from bingan import clock
from bingan.access.audit_query import describe, search_events
from bingan.access.policy import CONFIDENTIALITY_NAMES
from bingan.web.admin.views import audit_filter
from bingan.web.deps import Ctx, RecordAccess, document_gate, permission, record_gate, signed_in
from bingan.web.inputs import OffsetParam, PageNumber, VersionParam
from bingan.web.lookup.service import LookupInputError, check_count, shown_rows
from bingan.web.lookup.views import run_lookup
from bingan.web.personal import service as personal
from bingan.web.records import service as records
from bingan.web.records.views import page_image
from bingan.web.search.service import STRUCTURED, SearchForm, index_of, run_search
from bingan.web.security import request_csrf_token
from bingan.web.status import status_report

router = APIRouter(prefix="/api/v1", tags=["病案 API"])
# Every datetime the API returns is the hospital's time with its offset (2025-03-01T07:30:00+08:00);
# dates (a search hit's discharge day) are the hospital's days.
HospitalTime = Annotated[datetime, PlainSerializer(clock.iso, return_type=str)]


class Me(BaseModel):
    id: int
    username: str
    full_name: str
    roles: list[str]
    permissions: list[str]
    csrf_token: str


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


class LookupRequest(BaseModel):
    numbers: list[str] = Field(..., description="病案号、别名或住院号")


FolderParam = Annotated[str | None, Query(max_length=64, description="收藏夹（空 = 未分类；不填 = 全部）")]
WordsParam = Annotated[str, Query(max_length=100, description="在备注或病案号中查找的文字")]


class FavouriteRequest(BaseModel):
    on: bool = True
    folder: str = Field("", max_length=64)
    note: str = Field("", max_length=255)


def summary(record) -> RecordSummary:
    department = record.discharge_department
    return RecordSummary(
        id=record.id, record_number=record.record_number, stay=record.stay_number, patient_name=record.patient.name,
        department=department.name if department else None, admitted_at=record.admitted_at,
        discharged_at=record.discharged_at, status=record.status,
        confidentiality=CONFIDENTIALITY_NAMES[record.confidentiality], tags=[t.name for t in record.tags],
        diagnoses=[{"code": d.code, "name": d.name} for d in record.diagnoses],
    )


@router.get("/me", response_model=Me, summary="当前用户")
def me(request: Request, ctx: Ctx = signed_in()) -> Me:
    return Me(id=ctx.user.id, username=ctx.user.username, full_name=ctx.user.full_name,
              roles=[r.code for r in ctx.user.roles], permissions=sorted(ctx.subject.permissions),
              csrf_token=request_csrf_token(request))


def query_parameters(described: dict[str, str]) -> dict:
    """OpenAPI entries for query parameters a route reads from the request itself (shared with its page)."""
    return {"parameters": [{"name": name, "in": "query", "required": False, "description": text,
                            "schema": {"type": "string"}} for name, text in described.items()]}


SEARCH_PARAMETERS = {
    "q": "检索式", **{key: f"{label}（结构化检索）" for key, label in STRUCTURED.items()},
    "from": "出院日期起（YYYY-MM-DD）", "to": "出院日期止（YYYY-MM-DD）", "page": "页码（从1开始）",
    "sort": "排序：relevance | discharged_desc | discharged_asc",
    "affirmed": "排除否定描述：1 = 不计“否认…”“未见…”“无…”等否定描述中的词",
    "synonyms": "同义词扩展：1 = 同时检索检索词典中该词的同义词与缩写",
}
AUDIT_PARAMETERS = {
    "username": "用户名", "action": "操作", "result": "结果", "record_id": "病案编号", "client_ip": "客户端地址",
    "date_from": "起始日期（YYYY-MM-DD）", "date_to": "截止日期（YYYY-MM-DD）",
}


@router.get("/search", summary="检索（按病案分组）", openapi_extra=query_parameters(SEARCH_PARAMETERS),
            responses={400: {"description": "检索式有误"}})
def search(request: Request, ctx: Ctx = permission("search.use")) -> dict:
    form = SearchForm.from_request(request)
    prefs = personal.preferences(ctx.user)
    sort = form.sort if form.sort in personal.SORT_CHOICES else prefs.sort
    result, error = run_search(request, ctx, form, prefs.per_page, sort)
    if error:
        raise HTTPException(status_code=400, detail=error)
    if result is None:
        return {"total": 0, "total_records": 0, "records": [], "facets": {}}
    return {
        "total": result.total, "total_records": result.total_records, "exact": result.total_records_exact,
        "records": [
            {"record_id": r.record_id, "record_number": r.record_number, "stay": r.stay,
             "patient_name": r.patient_name, "department_name": r.department_name,
             "discharged_at": r.discharged_at.isoformat() if isinstance(r.discharged_at, date) else None,
             "hits": [{"document_id": h.document_id, "version_id": h.version_id, "page": h.page,
                       "category_name": h.category_name, "document_type_name": h.document_type_name,
                       "snippet": h.snippet} for h in r.hits]}
            for r in result.records
        ],
        "facets": result.facets,
    }


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
    groups = records.documents_by_category(ctx.session, ctx.subject, access.record, [])
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
    return page_image(request, number, version, access)


@router.post("/lookup", summary="批量查询病案号", responses={400: {"description": "病案号过多或为空"}})
def lookup(body: LookupRequest, ctx: Ctx = permission("lookup.use")) -> dict:
    numbers = [n.strip() for n in body.numbers if n and n.strip()]
    try:
        check_count(numbers)
    except LookupInputError as error:
        raise HTTPException(status_code=400, detail=str(error)) from error
    result, openable = run_lookup(ctx, numbers)
    return {
        "found": {asked: [{"record_id": r.record_id, "record_number": r.record_number, "stay": r.stay,
                           "openable": r.record_id in openable} for r in refs]
                  for asked, refs in result.found.items()},
        "missing": result.missing, "via_alias": result.via_alias,
        "matched": {row.asked: row.via or "病案号" for row in shown_rows(result, openable)},
    }


@router.get("/history", summary="浏览历史（仅列出仍可查阅的病案；hidden 为因权限变化未列出的条数）")
def history(ctx: Ctx = signed_in()) -> dict:
    rows, hidden = personal.openable(ctx.subject, personal.history(ctx.session, ctx.user))
    return {"records": [{"record_id": r.id, "record_number": r.record_number, "stay": r.stay_number,
                         "viewed_at": clock.iso(entry.viewed_at)} for entry, r in rows], "hidden": hidden}


@router.get("/favourites", summary="收藏夹（仅列出仍可查阅的病案；hidden 为因权限变化未列出的条数）")
def favourites(folder: FolderParam = None, q: WordsParam = "", ctx: Ctx = signed_in()) -> dict:
    rows, hidden = personal.openable(ctx.subject, personal.favourites(ctx.session, ctx.user, folder, q))
    return {"records": [{"record_id": r.id, "record_number": r.record_number, "stay": r.stay_number,
                         "folder": f.folder, "note": f.note} for f, r in rows], "hidden": hidden}


@router.put("/records/{record_id}/favourite", summary="收藏或取消收藏")
def favourite(body: FavouriteRequest, access: RecordAccess = record_gate("view")) -> dict:
    ctx = access.ctx
    personal.set_favourite(ctx.session, ctx.user, access.record.id, body.on, body.folder, body.note)
    ctx.audit("favourite", object_type="record", object_id=access.record.id, record_id=access.record.id,
              detail={"收藏": body.on})
    return {"record_id": access.record.id, "favourite": body.on}


@router.get("/settings", summary="个人设置")
def get_settings(ctx: Ctx = signed_in()) -> dict:
    return vars(personal.preferences(ctx.user))


@router.get("/audit", summary="审计日志（审计管理员）", openapi_extra=query_parameters(AUDIT_PARAMETERS))
def audit(request: Request, offset: OffsetParam = 0, ctx: Ctx = permission("audit.read")) -> dict:
    total, events = search_events(ctx.session, audit_filter(request), limit=100, offset=offset)
    ctx.audit("view", object_type="audit", detail={"接口": "api"})
    return {"total": total, "events": [
        {"id": e.id, "at": clock.iso(e.at), "username": e.username, "action": e.action, "object": shown.object,
         "record_id": e.record_id, "document_id": e.document_id, "page": e.page, "client_ip": e.client_ip,
         "result": e.result, "detail": e.detail} for shown in describe(ctx.session, events) for e in [shown.event]]}


@router.get("/status", summary="系统状态（系统管理员）")
def status(request: Request, ctx: Ctx = permission("system.status")) -> dict:
    return status_report(request.app.state.settings, request.app.state.engine, index_of(request))
