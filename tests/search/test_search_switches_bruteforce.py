"""The switches 排除否定描述 and 同义词扩展 are exact: ~1,500 generated pages with negated and
affirmed clauses, every query at every unit, the index against the brute-force definition."""
from __future__ import annotations

import pytest

from bingan.search import query as q
from bingan.search.checking import Reference, negated_pages, negation_queries
from bingan.search.port import Scope
from bingan.search.synonyms import DEFAULT_GROUPS, Dictionary, switched

QUERIES = negation_queries(66)
DICTIONARY = Dictionary(DEFAULT_GROUPS)
SWITCHES = {"排除否定描述": (True, None), "同义词扩展": (False, DICTIONARY), "两者": (True, DICTIONARY)}
SCOPE = Scope(departments={"XNK", "HXK", "NFM", "SJK"}, max_confidentiality=2, granted_record_ids=set(range(1, 300, 5)))


@pytest.fixture(scope="module")
def docs():
    return list(negated_pages(1500))


@pytest.fixture
def index(make_index, docs):
    return make_index(docs)


def page_ids(index, parsed: q.ParsedQuery) -> set[str]:
    result = index.search(parsed, SCOPE, limit=10_000, group_by_record=False, facets=False)
    return {f"{h.version_id}:{h.page}" for r in result.records for h in r.hits}


@pytest.mark.parametrize("switch", SWITCHES)
def test_precision_and_recall_are_exactly_one_with_the_switch_on(index, docs, switch):
    affirmed, dictionary = SWITCHES[switch]
    reference = Reference(docs, affirmed=affirmed, synonyms=dictionary)
    wrong, changed = [], 0
    for query in QUERIES:
        parsed = q.parse(query)
        got = page_ids(index, switched(parsed, dictionary=dictionary, affirmed=affirmed))
        want = reference.search(query, SCOPE)
        changed += want != page_ids(index, parsed)
        if got != want:
            wrong.append((query, len(got - want), len(want - got)))
    assert wrong == []  # (query, false positives, misses)
    assert changed >= 15  # the switch really changes what is found
