"""Turning the search form into one query of the query language, and running it in the user's scope."""
from __future__ import annotations

import threading
from dataclasses import dataclass

import sqlalchemy as sa
from fastapi import Request
from sqlalchemy.orm import Session

from bingan.access.policy import scope_for
from bingan.records.dictionary import load_dictionary
from bingan.search.port import SearchIndex, SearchResult
from bingan.search.query import UNIT_LABELS, QueryError, parse
from bingan.search.synonyms import switched
from bingan.storage.models import Campus, Category, Department, Record
from bingan.web.deps import Ctx
from bingan.web.inputs import parse_id

RECORD_KIND_NAMES = {"normal": "普通", "death": "死亡", "special": "特殊"}

# Examples shown in the UI (placeholders, home page box, help): each returns results on the demo
# data (tests/web/test_ui_examples.py runs them).
EXAMPLES = ["肺炎 -结核", "诊断:J18", "骨折 科室:骨科", "剖宫产"]
UNIT_CHOICES = {unit: f"按{label}" for unit, label in UNIT_LABELS.items()}

# form field -> query-language field
STRUCTURED = {
    "name": "姓名", "record": "病案号", "stay": "住院次数", "id": "身份证", "dept": "科室", "diagnosis": "诊断",
}


@dataclass
class SearchForm:
    q: str = ""
    fields: dict[str, str] | None = None
    date_from: str = ""
    date_to: str = ""
    page: int = 1
    sort: str = ""
    unit: str = "record"
    affirmed: bool = False  # 排除否定描述
    synonyms: bool = False  # 同义词扩展

    @classmethod
    def from_request(cls, request: Request) -> SearchForm:
        params = request.query_params
        fields = {key: params.get(key, "").strip() for key in STRUCTURED}
        return cls(q=params.get("q", "").strip(), fields=fields, date_from=params.get("from", "").strip(),
                   date_to=params.get("to", "").strip(), page=parse_id(params.get("page")) or 1,
                   sort=params.get("sort", ""), unit=params.get("unit", "record"),
                   affirmed=params.get("affirmed") == "1", synonyms=params.get("synonyms") == "1")

    def query(self) -> str:
        parts = [self.q] if self.q else []
        for key, label in STRUCTURED.items():
            value = (self.fields or {}).get(key, "")
            if value:
                parts.append(f'{label}:"{value}"' if " " in value else f"{label}:{value}")
        if self.date_from or self.date_to:
            parts.append(f"出院:{self.date_from}..{self.date_to}")
        if parts and self.unit in UNIT_LABELS and self.unit != "record":
            parts.append(f"单位:{UNIT_LABELS[self.unit]}")  # type: ignore[index]
        return " ".join(parts)


_opening = threading.Lock()


def index_of(request: Request) -> SearchIndex:
    """This process's index, opened once even when the first searches arrive together."""
    app = request.app
    if not hasattr(app.state, "search_index"):
        from bingan.search.factory import open_search_index

        with _opening:
            if not hasattr(app.state, "search_index"):
                app.state.search_index = open_search_index(app.state.settings)
    return app.state.search_index


def run_search(
    request: Request, ctx: Ctx, form: SearchForm, per_page: int, sort: str
) -> tuple[SearchResult | None, str]:
    """(result, error message); an empty query shows the form and the help only."""
    query = form.query()
    if not query:
        return None, ""
    scope = scope_for(ctx.session, ctx.user, ctx.ip, subject=ctx.subject)
    dictionary = load_dictionary(ctx.session) if form.synonyms else None
    try:
        parsed = switched(parse(query), dictionary=dictionary, affirmed=form.affirmed)
        result = index_of(request).search(parsed, scope, limit=per_page, offset=(form.page - 1) * per_page,
                                          group_by_record=True, facets=True, sort=sort)  # type: ignore[arg-type]
    except QueryError as error:
        return None, str(error)
    switches = {"排除否定描述": "是"} if form.affirmed else {}
    switches |= {"同义词扩展": "是"} if form.synonyms else {}
    ctx.audit("search", object_type="search",
              detail={"检索式": query[:200], **switches, "命中病案": result.total_records})
    return result, ""


def record_facts(session: Session, result: SearchResult | None) -> dict[int, tuple[str, str]]:
    """住院号 and campus name of the records on the page (the index keeps neither for display)."""
    ids = [r.record_id for r in result.records] if result else []
    if not ids:
        return {}
    rows = session.execute(
        sa.select(Record.id, Record.inpatient_number, Campus.name)
        .outerjoin(Campus, Record.campus_id == Campus.id).where(Record.id.in_(ids))
    )
    return {rid: (number, campus or "") for rid, number, campus in rows}


def facet_names(session: Session, result: SearchResult | None) -> dict[str, dict[str, str]]:
    """Display names of the facet values the index stores as codes (category, department, kind)."""
    if result is None:
        return {}
    categories = {v for v, _ in result.facets.get("category", [])}
    departments = {v for v, _ in result.facets.get("department", [])}
    names = sa.select(Category.code, Category.name).where(Category.code.in_(categories))
    departments_named = sa.select(Department.code, Department.name).where(Department.code.in_(departments))
    return {
        "category": dict(session.execute(names).tuples().all()),
        "department": dict(session.execute(departments_named).tuples().all()),
        "record_kind": RECORD_KIND_NAMES,
    }
