"""The Elasticsearch definitions agree with the tantivy side without a server: request bodies are
pure functions, read by ``es_dsl`` against ``Scope.admits`` and the reference matcher. The same
contract tests as tantivy run against a server when BINGAN_ES_URL is set (conftest.py)."""
from __future__ import annotations

import json
import random

from es_dsl import matches
from search_scopes import random_pages, random_scope

from bingan.search.analysis import token_pattern
from bingan.search.checking import Reference, generate_pages, negated_pages, negation_queries, prefix_queries
from bingan.search.es_index import MAPPINGS_DIR, DslCompiler, load_template, search_body, to_source
from bingan.search.negation import exclude_negated
from bingan.search.port import FACET_NAMES, Scope
from bingan.search.query import Prefix, parse
from bingan.search.synonyms import DEFAULT_GROUPS, Dictionary, switched


def test_template_is_versioned_and_uses_the_shared_token_pattern():
    body = load_template("bingan")
    assert body["index_patterns"] == ["bingan-pages-v5"] and body["version"] == 5
    analysis = body["template"]["settings"]["analysis"]
    assert analysis["tokenizer"]["bingan_zh"]["pattern"] == token_pattern()
    assert analysis["filter"]["bingan_bigram"] == {"type": "cjk_bigram", "output_unigrams": True}
    assert all(not k.startswith("_comment") for k in body)
    assert json.loads((MAPPINGS_DIR / "bingan-pages-v5.json").read_text())["version"] == 5


def test_every_indexed_value_has_a_mapping():
    props = load_template("x")["template"]["mappings"]["properties"]
    doc = next(generate_pages(1))
    assert set(to_source(doc)) == set(props)


def test_scope_becomes_filter_clauses():
    scope = Scope(departments={"XNK"}, campuses={"BB"}, max_confidentiality=1,
                  denied_tags={"传染病"}, granted_record_ids={7})
    clauses = DslCompiler.scope(scope)
    assert {"range": {"confidentiality": {"gte": 0, "lte": 1}}} in clauses
    grant = clauses[0]["bool"]["should"][1]
    assert grant == {"terms": {"record_id": [7]}}
    assert {"bool": {"must_not": [{"terms": {"tags": ["传染病"]}}, {"term": {"sealed": True}}]}} in clauses


def test_the_scope_filters_the_one_query_behind_hits_counts_records_and_facets():
    scope = Scope(departments={"XNK"}, max_confidentiality=0)
    body = search_body(parse("肺炎"), scope, offset=40, limit=20, sort="discharged_desc")
    assert body["query"]["bool"]["filter"] == DslCompiler.scope(scope)
    assert body["query"]["bool"]["must"] == [{"match_phrase": {"text": {"query": "肺炎"}}}]
    # aggregations, collapse and total run over that query: nothing else may filter separately
    assert "post_filter" not in body and body["track_total_hits"] is True
    assert set(body["aggs"]) == {"records", *FACET_NAMES}
    assert body["collapse"]["field"] == "record_id" and (body["from"], body["size"]) == (40, 20)
    assert body["sort"][0] == {"discharged_at": "desc"}
    assert "collapse" not in search_body(parse("肺炎"), scope, group=False)
    assert set(search_body(parse("肺炎"), scope, facets=False)["aggs"]) == {"records"}


def test_the_scope_filter_admits_exactly_what_scope_admits():
    pages = random_pages(300)
    sources = [to_source(p) for p in pages]
    rng = random.Random(9)
    for _ in range(200):
        scope = random_scope(rng)
        query = {"bool": {"filter": search_body(parse("*"), scope)["query"]["bool"]["filter"]}}
        got = {p.record_id for p, src in zip(pages, sources, strict=True) if matches(query, src)}
        assert got == {p.record_id for p in pages if scope.admits(p)}, scope


def test_prefixes_compile_to_prefix_queries_that_agree_with_the_reference():
    assert DslCompiler().compile(parse("诊断:J18.9*").root) == {
        "prefix": {"diagnosis_codes": {"value": "j18.9", "case_insensitive": True}}
    }
    docs = list(generate_pages(400, seed=5))
    reference = Reference(docs)
    for text in prefix_queries(40):
        root = parse(text).root
        if not isinstance(root, Prefix):
            continue
        dsl = DslCompiler().compile(root)
        got = {d.doc_id for d in docs if matches(dsl, to_source(d))}
        assert got == reference.search(text, Scope.everything()), text


def test_indexed_values_are_folded_like_the_tantivy_side():
    doc = next(generate_pages(1))
    doc.text, doc.diagnosis_names = "Ⅱ型糖尿病，胰岛素10㎎", ["Ⅱ型糖尿病"]
    source = to_source(doc)
    assert source["text"] == "II型糖尿病，胰岛素10mg" and source["diagnosis_names"] == ["II型糖尿病"]


def test_queries_compile_to_phrases_terms_and_ranges():
    dsl = DslCompiler().compile(parse("肺炎 -糖尿病 出院:2024-03 病案号:0012345").root)
    must, must_not = dsl["bool"]["must"], dsl["bool"]["must_not"]
    assert must[0] == {"match_phrase": {"text": {"query": "肺炎"}}}
    # the hospital's month (Asia/Shanghai by default), not UTC's
    assert must[1] == {"range": {"discharged_at": {"gte": "2024-03-01T00:00:00+08:00",
                                                   "lt": "2024-04-01T00:00:00+08:00"}}}
    assert must[2] == {"term": {"record_keys": "0012345"}}
    assert must_not == [{"match_phrase": {"text": {"query": "糖尿病"}}}]


def test_the_negation_switch_searches_the_text_without_negated_mentions():
    doc = next(generate_pages(1))
    doc.text = "否认结核病史，咳嗽3天"
    assert to_source(doc)["affirmed_text"] == "\n，咳嗽3天"
    dsl = DslCompiler().compile(exclude_negated(parse("结核 诊断:结核").root))
    assert dsl["bool"]["must"] == [{"match_phrase": {"affirmed_text": {"query": "结核"}}},
                                   DslCompiler().compile(parse("诊断:结核").root)]


def test_both_switches_compile_to_queries_that_agree_with_the_reference():
    docs = list(negated_pages(400, seed=29))
    sources = [to_source(d) for d in docs]
    dictionary = Dictionary(DEFAULT_GROUPS)
    reference = Reference(docs, affirmed=True, synonyms=dictionary)
    for text in (f"单位:页 {t}" for t in negation_queries(40) if "单位:" not in t):
        dsl = DslCompiler().compile(switched(parse(text), dictionary=dictionary, affirmed=True).root)
        got = {d.doc_id for d, src in zip(docs, sources, strict=True) if matches(dsl, src)}
        assert got == reference.search(text, Scope.everything()), text
