"""The Elasticsearch adapter evaluates the unit (病案, 文书) as tantivy does, checked without a
server: the requests it sends (composite aggregations for the units, then the hit pages of those
units) are read by ``es_dsl`` over ``to_source`` documents and must agree with the brute-force
reference at every unit. With BINGAN_ES_URL the contract tests (test_search_units.py,
test_search_bruteforce.py) run the same against a server."""
from __future__ import annotations

import pytest
from es_dsl import matches

from bingan.search import es_index
from bingan.search import query as q
from bingan.search.checking import Reference, generate_pages, sample_queries, unit_queries
from bingan.search.es_index import search_body, to_source, unit_keys
from bingan.search.port import Scope
from bingan.search.units import direct, evaluate

SCOPE = Scope(departments={"XNK", "HXK"}, max_confidentiality=1, denied_tags={"传染病"},
              granted_record_ids=set(range(1, 60, 7)))
QUERIES = unit_queries(30) + sample_queries(30)


class DslReader:
    """Answers the adapter's units requests from es_dsl: the matching sources' composite keys
    in order, ``size`` at a time after ``after``, as Elasticsearch pages a composite
    aggregation. Counts the requests."""

    def __init__(self, sources: list[dict]) -> None:
        self.sources, self.requests = sources, 0

    def __call__(self, body: dict) -> dict:
        self.requests += 1
        composite = body["aggs"]["units"]["composite"]
        names = [next(iter(s)) for s in composite["sources"]]
        fields = {"r": "record_id", "d": "document_id"}
        keys = sorted({tuple(src[fields[n]] for n in names)
                       for src in self.sources if matches(body["query"], src)})
        after = composite.get("after")
        if after:
            keys = [k for k in keys if k > tuple(after[n] for n in names)]
        page = keys[: composite["size"]]
        buckets = [{"key": dict(zip(names, k, strict=True)), "doc_count": 1} for k in page]
        return {"aggregations": {"units": {"buckets": buckets,
                                           **({"after_key": buckets[-1]["key"]} if buckets else {})}}}


@pytest.fixture(scope="module")
def corpus():
    docs = list(generate_pages(600, seed=31))
    return docs, [to_source(d) for d in docs], Reference(docs)


def hit_pages(sources: list[dict], parsed: q.ParsedQuery, scope: Scope,
              reader: DslReader) -> tuple[set[str], int | None]:
    """The adapter's page hits and exact record count (None: the one-request path)."""
    units = None
    if not direct(parsed.root, parsed.unit):
        units = evaluate(parsed.root, parsed.unit, unit_keys(reader, scope))
    query = search_body(parsed, scope, units=units)["query"]
    query = {"bool": {k: v for k, v in query["bool"].items() if k != "should"}}  # should only scores
    pages = {src["doc_id"] for src in sources if matches(query, src)}
    return pages, None if units is None else len({r for r, _ in units})


@pytest.mark.parametrize("unit", ["", " 单位:文书", " 单位:页"])
def test_the_requests_find_exactly_the_reference_pages_at_every_unit(corpus, unit):
    docs, sources, reference = corpus
    wrong, evaluated = [], 0
    for text in (t + unit for t in QUERIES):
        parsed = q.parse(text)
        got, n_records = hit_pages(sources, parsed, SCOPE, DslReader(sources))
        want = reference.search(text, SCOPE)
        if got != want:
            wrong.append((text, len(got - want), len(want - got)))
        if n_records is not None:
            evaluated += 1
            assert n_records == len({d.record_id for d in docs if d.doc_id in want}), text
    assert wrong == []  # (query, false positives, misses)
    assert evaluated >= (0 if unit == " 单位:页" else 25)  # the unit path really ran


def test_units_are_read_page_by_page_with_after(corpus, monkeypatch):
    _, sources, _ = corpus
    monkeypatch.setattr(es_index, "UNITS_PER_REQUEST", 7)
    reader = DslReader(sources)
    keys = unit_keys(reader, Scope.everything())(q.MatchAll(), "document", None)
    assert keys == {(s["record_id"], s["document_id"]) for s in sources}
    assert reader.requests == len(keys) // 7 + 1


def test_a_single_term_is_one_request_and_a_record_and_is_evaluated():
    assert direct(q.parse("肺炎").root, "record") and direct(q.parse("肺炎 OR 咳嗽").root, "record")
    body = search_body(q.parse("肺炎 咳嗽"), SCOPE, units={(3, 0), (1, 0)})
    assert body["query"]["bool"]["filter"][-1] == {"terms": {"record_id": [1, 3]}}
    assert body["query"]["bool"]["must"] == [
        {"bool": {"should": [{"match_phrase": {"text": {"query": "肺炎"}}},
                             {"match_phrase": {"text": {"query": "咳嗽"}}}], "minimum_should_match": 1}}]


def test_many_units_are_split_into_terms_clauses_under_the_limit(monkeypatch):
    monkeypatch.setattr(es_index, "TERMS_PER_CLAUSE", 2)
    clause = es_index.any_of("record_id", [1, 2, 3])
    assert clause == {"bool": {"should": [{"terms": {"record_id": [1, 2]}}, {"terms": {"record_id": [3]}}],
                               "minimum_should_match": 1}}
    assert not matches(es_index.any_of("record_id", []), {"record_id": 1})
