"""Access terms (schema 3): the scope compiles to a flat union of precomputed terms and must
admit exactly what ``Scope.admits`` admits, for every shape of scope — in every adapter (the
random-scope test runs on Elasticsearch too when BINGAN_ES_URL is set)."""
from __future__ import annotations

import random

from search_scopes import random_pages, random_scope

from bingan.search.port import PageDoc, Scope
from bingan.search.tantivy_query import ACCESS_UNION_MAX, SEP, access_terms, scope_access_terms


def test_page_terms_cover_every_scope_shape():
    page = PageDoc(record_id=1, record_number="1", stay=1, document_id=1, version_id=1, page=1,
                   text="", department="XNK", campus="BB", confidentiality=2, sealed=True)
    assert access_terms(page) == [
        f"o{SEP}XNK{SEP}BB{SEP}2{SEP}1", f"d{SEP}XNK{SEP}2{SEP}1", f"c{SEP}BB{SEP}2{SEP}1", f"a{SEP}2{SEP}1",
    ]


def test_clinician_scope_is_a_few_terms():
    scope = Scope(departments={"XNK", "HXK", "NFM"}, campuses={"BB"}, max_confidentiality=1)
    terms = scope_access_terms(scope)
    assert len(terms) == 6 and all(t.startswith(f"o{SEP}") and t.endswith(f"{SEP}0") for t in terms)
    assert scope_access_terms(Scope(max_confidentiality=-1, all_departments=True)) == []
    assert len(scope_access_terms(Scope.everything())) == 8


def test_random_scopes_admit_exactly_what_the_rule_admits(make_index):
    pages = random_pages(300)
    idx = make_index(pages)
    rng = random.Random(9)
    wide_seen = 0  # scopes beyond a union of term queries
    for _ in range(120):
        scope = random_scope(rng)
        wide_seen += len(scope_access_terms(scope)) > ACCESS_UNION_MAX
        result = idx.search("肺炎", scope, limit=1000, group_by_record=False, facets=False)
        got = {r.record_id for r in result.records}
        assert got == {p.record_id for p in pages if scope.admits(p)}, scope
        assert result.total == len(got)
    assert wide_seen
