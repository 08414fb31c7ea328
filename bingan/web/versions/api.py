"""The comparison and review JSON API: two versions of a document page by page, keep or reject a
version collected after archiving."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from bingan.records.versions import compare, review
from bingan.web.deps import Ctx, RecordAccess, document_gate, permission
from bingan.web.inputs import MAX_ID, RowId
from bingan.web.versions.access import page_render, reviewable_change

router = APIRouter(prefix="/api/v1", tags=["版本对比"])
REGIONS_INLINE = 6  # changed pages whose regions come with the answer; later ones per page
VersionNumber = Annotated[int | None, Query(ge=1, le=MAX_ID, description="版本号（用户看到的第几版，从 1 起）")]
PageQuery = Annotated[int, Query(ge=1, le=MAX_ID, description="版本 b 的页码（被删除的页用 a_page）")]


class KeepBody(BaseModel):
    reason: str = Field("", max_length=255)


class RejectBody(BaseModel):
    reason: str = Field(..., max_length=255, description="驳回原因（告知来源系统）")


def _comparison(access: RecordAccess, a: int | None, b: int | None) -> compare.Comparison:
    default_a, default_b = compare.default_pair(access.document)
    result = compare.compare(access.ctx.session, access.document, a or default_a, b or default_b)
    pair = f"第{result.a.number}版 ↔ 第{result.b.number}版"
    access.ctx.audit("view", object_type="document", object_id=access.document.id, record_id=access.record.id,
                     document_id=access.document.id, detail={"版本对比": pair})
    return result


@router.get("/documents/{document_id}/compare", summary="两个版本逐页对比：页对齐、文字差异、变化区域")
def compare_versions(request: Request, a: VersionNumber = None, b: VersionNumber = None,
                     access: RecordAccess = document_gate("view")) -> dict:
    result = _comparison(access, a, b)
    compare.fill_regions(result, page_render(request), REGIONS_INLINE)
    return result.as_json()


@router.get("/documents/{document_id}/compare/regions", summary="一页的变化区域（按需计算）")
def compare_regions(request: Request, page: PageQuery, a: VersionNumber = None, b: VersionNumber = None,
                    a_page: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
                    access: RecordAccess = document_gate("view")) -> dict:
    result = _comparison(access, a, b)
    pair = compare.pair_of_page(result, page if a_page is None else None, a_page)
    regions = compare.regions_for(pair, result.a, result.b, page_render(request))
    return {"document_id": access.document.id, "a": result.a.number, "b": result.b.number,
            "a_page": pair.a_page, "b_page": pair.b_page, "status": pair.status,
            "regions": [region.as_json() for region in regions]}


@router.get("/versions/pending", summary="归档后变更待审核")
def pending(ctx: Ctx = permission("changes.review")) -> dict:
    rows = review.pending_rows(ctx.session)
    return {"count": len(rows), "items": [review.as_json(row.change) for row in rows]}


@router.post("/versions/{version_id}/keep", summary="保留新版本：成为当前版本")
def keep(version_id: RowId, body: KeepBody | None = None, ctx: Ctx = permission("changes.review")) -> dict:
    change = review.keep(ctx.session, ctx.actor, reviewable_change(ctx, version_id), (body or KeepBody()).reason)
    return review.as_json(change)


@router.post("/versions/{version_id}/reject", summary="驳回新版本：归档版本仍为当前版本，原因告知来源")
def reject(version_id: RowId, body: RejectBody, ctx: Ctx = permission("changes.review")) -> dict:
    change = review.reject(ctx.session, ctx.actor, reviewable_change(ctx, version_id), body.reason)
    return review.as_json(change)
