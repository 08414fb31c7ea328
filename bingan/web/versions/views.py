"""Comparison and review pages: two versions side by side (版本对比) and the list of versions
collected after archiving that wait for a decision (归档后变更待审核)."""
from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bingan.records.versions import compare, review
from bingan.web import navigation
from bingan.web.deps import Ctx, RecordAccess, document_gate, permission
from bingan.web.inputs import RowId
from bingan.web.render import page
from bingan.web.versions.access import page_render, reviewable_change

router = APIRouter(include_in_schema=False)
PENDING_PATH = "/versions/pending"
REGIONS_INLINE = 6  # changed pages boxed when the page is drawn; compare.js asks for the others
navigation.register_counter("pending_changes", lambda ctx: review.pending_count(ctx.session)
                            if ctx.can("changes.review") else 0)
navigation.register("归档管理", "归档后变更待审核", PENDING_PATH, "changes.review", counter="pending_changes")


@router.get("/documents/{document_id}/compare", response_class=HTMLResponse)
def compare_page(request: Request, a: int | None = None, b: int | None = None,
                 access: RecordAccess = document_gate("view")) -> Response:
    ctx, document = access.ctx, access.document
    default_a, default_b = compare.default_pair(document)
    result = compare.compare(ctx.session, document, a or default_a, b or default_b)
    compare.fill_regions(result, page_render(request), REGIONS_INLINE)
    ctx.audit("view", object_type="document", object_id=document.id, record_id=access.record.id,
              document_id=document.id, detail={"版本对比": f"第{result.a.number}版 ↔ 第{result.b.number}版"})
    change = next((row for row in review.pending_rows(ctx.session) if row.version.id == result.b.id), None)
    return page(request, "versions/compare.html", ctx, record=access.record, document=document, result=result,
                versions=document.versions, pending=change, may_review=ctx.can("changes.review"))


@router.get(PENDING_PATH, response_class=HTMLResponse)
def pending_page(request: Request, state: str = "pending", ctx: Ctx = permission("changes.review")) -> Response:
    state = state if state in ("pending", "accepted", "rejected") else "pending"
    return page(request, "versions/pending.html", ctx, rows=review.pending_rows(ctx.session, state), state=state,
                message=request.query_params.get("message", ""))


@router.post("/versions/{version_id}/keep")
def keep_form(version_id: RowId, reason: str = Form("", max_length=255),
              ctx: Ctx = permission("changes.review")) -> Response:
    change = review.keep(ctx.session, ctx.actor, reviewable_change(ctx, version_id), reason)
    return RedirectResponse(f"{PENDING_PATH}?message=已保留第{change.version.number}版，成为当前版本", status_code=303)


@router.post("/versions/{version_id}/reject")
def reject_form(version_id: RowId, reason: str = Form("", max_length=255),
                ctx: Ctx = permission("changes.review")) -> Response:
    change = review.reject(ctx.session, ctx.actor, reviewable_change(ctx, version_id), reason)
    return RedirectResponse(f"{PENDING_PATH}?message=已驳回第{change.version.number}版，归档版本不变",
                            status_code=303)
