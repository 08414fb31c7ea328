"""The search page (F1): one box, structured front-page fields, facets, snippets grouped by record."""
from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from bingan.records import personal
from bingan.search.query import upper_operators
from bingan.web.deps import Ctx, permission
from bingan.web.render import page
from bingan.web.search.service import (
    EXAMPLES,
    STRUCTURED,
    UNIT_CHOICES,
    SearchForm,
    facet_names,
    record_facts,
    run_search,
)

router = APIRouter(include_in_schema=False)
# what each facet counts by (文书类别 is a document's category, 病案类型 the record's kind); counts are records
FACET_LABELS = {"category": "文书类别", "department": "科室", "year": "出院年份", "record_kind": "病案类型"}
FACET_FIELDS = {"category": "类别", "department": "科室", "year": "年份", "record_kind": "病案类型"}


@router.get("/search", response_class=HTMLResponse)
def search_page(request: Request, ctx: Ctx = permission("search.use")) -> Response:
    form = SearchForm.from_request(request)
    prefs = personal.preferences(ctx.user)
    sort = form.sort if form.sort in personal.SORT_CHOICES else prefs.sort
    result, error = run_search(request, ctx, form, prefs.per_page, sort)
    params = {k: v for k, v in request.query_params.items() if k != "page"}
    suggestion = {**params, "q": upper_operators(form.q)} if result and result.suggestion else None
    pages = 0 if result is None else -(-result.total_records // prefs.per_page)
    template = "search/_results.html" if request.headers.get("hx-request") else "search/search.html"
    return page(request, template, ctx, form=form, result=result, error=error, sort=sort,
                sort_choices=personal.SORT_CHOICES, structured=STRUCTURED, facet_labels=FACET_LABELS,
                facet_fields=FACET_FIELDS, facet_names=facet_names(ctx.session, result), base_query=urlencode(params),
                facet_query=urlencode({k: v for k, v in params.items() if k != "q"}),
                facts=record_facts(ctx.session, result),
                pages=pages, per_page=prefs.per_page, examples=EXAMPLES, unit_choices=UNIT_CHOICES,
                suggestion=suggestion and urlencode(suggestion))
