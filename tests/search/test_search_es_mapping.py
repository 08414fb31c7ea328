"""The Elasticsearch definitions agree with the tantivy side without a server (ES runs in CI)."""
from __future__ import annotations

import json
from datetime import date

from bingan.search.analysis import token_pattern
from bingan.search.checking import generate_pages
from bingan.search.es_index import MAPPINGS_DIR, DslCompiler, load_template, to_source
from bingan.search.port import Scope
from bingan.search.query import parse


def test_template_is_versioned_and_uses_the_shared_token_pattern():
    body = load_template("bingan")
    assert body["index_patterns"] == ["bingan-pages-v1"] and body["version"] == 1
    analysis = body["template"]["settings"]["analysis"]
    assert analysis["tokenizer"]["bingan_zh"]["pattern"] == token_pattern()
    assert analysis["filter"]["bingan_bigram"] == {"type": "cjk_bigram", "output_unigrams": True}
    assert all(not k.startswith("_comment") for k in body)
    assert json.loads((MAPPINGS_DIR / "bingan-pages-v1.json").read_text())["version"] == 1


def test_every_indexed_value_has_a_mapping():
    props = load_template("x")["template"]["mappings"]["properties"]
    doc = next(generate_pages(1))
    assert set(to_source(doc)) == set(props)


def test_scope_becomes_filter_clauses():
    scope = Scope(departments={"XNK"}, campuses={"BB"}, max_confidentiality=1,
                  denied_tags={"传染病"}, granted_record_ids={7})
    clauses = DslCompiler.scope(scope)
    assert {"range": {"confidentiality": {"lte": 1}}} in clauses
    grant = clauses[0]["bool"]["should"][1]
    assert grant == {"terms": {"record_id": [7]}}
    assert {"bool": {"must_not": [{"terms": {"tags": ["传染病"]}}, {"term": {"sealed": True}}]}} in clauses


def test_queries_compile_to_phrases_terms_and_ranges():
    dsl = DslCompiler().compile(parse("肺炎 -糖尿病 出院:2024-03 病案号:0012345").root)
    must, must_not = dsl["bool"]["must"], dsl["bool"]["must_not"]
    assert must[0] == {"match_phrase": {"text": {"query": "肺炎"}}}
    assert must[1] == {"range": {"discharged_at": {"gte": date(2024, 3, 1).isoformat(),
                                                   "lt": date(2024, 4, 1).isoformat()}}}
    assert must[2] == {"term": {"record_keys": "0012345"}}
    assert must_not == [{"match_phrase": {"text": {"query": "糖尿病"}}}]
