"""~2,000 generated pages, ~100 queries: the index must agree with a brute-force scan exactly,
at every unit (病案, the default; 文书; 页)."""
from __future__ import annotations

import pytest

from bingan.search.checking import (
    Reference,
    generate_pages,
    prefix_queries,
    sample_queries,
    unit_queries,
)
from bingan.search.port import Scope

QUERIES = sample_queries(100) + prefix_queries(28) + unit_queries(40)
UNITS = {"record": "", "document": " 单位:文书", "page": " 单位:页"}
SCOPES = {
    "everything": Scope.everything(),
    "clinician": Scope(
        departments={"XNK", "HXK"}, campuses={"BB"}, max_confidentiality=1,
        denied_tags={"传染病"}, granted_record_ids=set(range(1, 400, 7)),
    ),
}


@pytest.fixture(scope="module")
def corpus():
    docs = list(generate_pages(2000, seed=3))
    return docs, Reference(docs)


@pytest.fixture
def built(make_index, corpus):
    docs, reference = corpus
    return make_index(docs), reference


def page_ids(index, query: str, scope: Scope) -> set[str]:
    result = index.search(query, scope, limit=10_000, group_by_record=False, facets=False)
    ids = {f"{h.version_id}:{h.page}" for r in result.records for h in r.hits}
    assert result.total == len(ids)
    return ids


@pytest.mark.parametrize("unit", UNITS)
@pytest.mark.parametrize("scope_name", SCOPES)
def test_precision_and_recall_are_exactly_one(built, scope_name, unit):
    index, reference = built
    scope = SCOPES[scope_name]
    wrong = []
    nonempty = 0
    for query in (query + UNITS[unit] for query in QUERIES):
        got, want = page_ids(index, query, scope), reference.search(query, scope)
        nonempty += bool(want)
        if got != want:
            wrong.append((query, len(got - want), len(want - got)))
    assert wrong == []  # (query, false positives, misses)
    assert nonempty >= 110  # the queries really find things


@pytest.mark.parametrize("unit", UNITS)
def test_grouped_totals_match_the_reference(built, unit):
    index, reference = built
    for query in (query + UNITS[unit] for query in QUERIES[:30]):
        want = reference.search(query, Scope.everything())
        result = index.search(query, Scope.everything(), limit=5)
        records = {d.record_id for d in reference.docs if d.doc_id in want}
        assert (result.total, result.total_records) == (len(want), len(records)), query
