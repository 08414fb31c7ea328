"""The permission scope is part of the index query: nothing outside it is found or counted."""
from __future__ import annotations

from datetime import date

import pytest

from bingan.search.port import PageDoc, Scope, SearchIndex


def page(rid: int, **extra) -> PageDoc:
    base = dict(
        record_id=rid, record_number=f"{rid:07d}", stay=1, document_id=rid * 10,
        version_id=rid * 100, page=1, text="诊断：社区获得性肺炎，予抗感染治疗。",
        department="XNK", department_name="心血管内科", campus="BB", category="BC",
        category_name="病程记录", discharged_at=date(2024, 2, 1), year=2024,
    )
    base.update(extra)
    return PageDoc(**base)


DOCS = [
    page(1),
    page(2, department="HXK", department_name="呼吸科"),
    page(3, campus="DY"),
    page(4, confidentiality=2),
    page(5, tags=["传染病"]),
    page(6, sealed=True),
    page(7, category="SS", category_name="手术记录"),
    page(8, department="HXK", campus="DY", confidentiality=1),  # other dept + campus, granted below
]


@pytest.fixture
def index(make_index) -> SearchIndex:
    return make_index(DOCS)


def visible(index: SearchIndex, scope: Scope, query: str = "肺炎") -> set[int]:
    result = index.search(query, scope, limit=100)
    found = {r.record_id for r in result.records}
    assert result.total == len(found)  # one page per record here: counts respect the filter
    assert result.total_records == len(found)
    assert sum(n for _, n in result.facets["department"]) == result.total
    return found


def expected(scope: Scope) -> set[int]:
    return {d.record_id for d in DOCS if scope.admits(d)}


SCOPES = {
    "own department": Scope(departments={"XNK"}, campuses={"BB"}, max_confidentiality=0),
    "department, any campus": Scope(departments={"XNK"}, max_confidentiality=0),
    "two departments": Scope(departments={"XNK", "HXK"}, max_confidentiality=3),
    "confidential level 2": Scope(all_departments=True, max_confidentiality=2),
    "denied tag": Scope(all_departments=True, max_confidentiality=3, denied_tags={"传染病"}),
    "grant crosses department and campus": Scope(
        departments={"XNK"}, campuses={"BB"}, max_confidentiality=1, granted_record_ids={8}
    ),
    "grant does not lift confidentiality": Scope(
        departments={"XNK"}, max_confidentiality=0, granted_record_ids={4, 8}
    ),
    "category template": Scope(all_departments=True, max_confidentiality=3, allowed_categories={"SS"}),
    "sealed included": Scope(all_departments=True, max_confidentiality=3, include_sealed=True),
    "no department at all": Scope(max_confidentiality=3),
    "grants only": Scope(max_confidentiality=3, granted_record_ids={2, 3}),
}


@pytest.mark.parametrize("name", SCOPES)
def test_a_user_sees_exactly_the_records_of_the_scope(index, name):
    scope = SCOPES[name]
    assert visible(index, scope) == expected(scope)
    assert visible(index, scope, "NOT 糖尿病") == expected(scope)  # negation stays in scope
    assert visible(index, scope, "*") == expected(scope)


def test_scope_examples_spelled_out(index):
    assert visible(index, SCOPES["own department"]) == {1, 5, 7}
    assert visible(index, SCOPES["grant crosses department and campus"]) == {1, 5, 7, 8}
    assert visible(index, SCOPES["grant does not lift confidentiality"]) == {1, 3, 5, 7}
    assert 6 not in visible(index, Scope(all_departments=True, max_confidentiality=3))
    assert visible(index, SCOPES["no department at all"]) == set()


def test_scope_applies_before_pagination_and_counting(make_index):
    # 60 pages of another department rank higher than ours; ours must still be found, and
    # counts must not include theirs.
    theirs = [page(100 + i, department="HXK", text="肺炎肺炎肺炎肺炎") for i in range(60)]
    ours = [page(1000 + i, text="肺炎，不伴肾病。") for i in range(3)]
    index = make_index(theirs + ours)
    result = index.search("肺炎", Scope(departments={"XNK"}, max_confidentiality=0), limit=2)
    assert result.total == 3 and result.total_records == 3
    assert len(result.records) == 2
    assert {r.record_id for r in result.records} <= {1000, 1001, 1002}
    assert result.facets["department"] == [("XNK", 3)]
