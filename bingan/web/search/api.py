"""The search JSON API: records grouped with their hit pages and facets, as the search page finds them."""
from __future__ import annotations

from datetime import date

from fastapi import APIRouter, HTTPException, Request

from bingan.records import personal
from bingan.web.deps import Ctx, permission
from bingan.web.openapi import query_parameters
from bingan.web.search.service import STRUCTURED, SearchForm, run_search

router = APIRouter(prefix="/api/v1", tags=["病案 API"])
SEARCH_PARAMETERS = {
    "q": "检索式", **{key: f"{label}（结构化检索）" for key, label in STRUCTURED.items()},
    "from": "出院日期起（YYYY-MM-DD）", "to": "出院日期止（YYYY-MM-DD）", "page": "页码（从1开始）",
    "sort": "排序：relevance | discharged_desc | discharged_asc",
    "affirmed": "排除否定描述：1 = 不计“否认…”“未见…”“无…”等否定描述中的词",
    "synonyms": "同义词扩展：1 = 同时检索检索词典中该词的同义词与缩写",
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
