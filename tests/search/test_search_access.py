"""Access terms (schema 3): the scope compiles to a flat union of precomputed terms and must
admit exactly what ``Scope.admits`` admits, for every shape of scope."""
from __future__ import annotations

import random

import pytest

from bingan.search.port import PageDoc, Scope
from bingan.search.tantivy_index import TantivySearchIndex
from bingan.search.tantivy_query import ACCESS_UNION_MAX, SEP, access_terms, scope_access_terms

DEPTS = [f"D{i:02d}" for i in range(40)]
CAMPUSES = ["BB", "DY", "XQ"]


def random_pages(n: int) -> list[PageDoc]:
    rng = random.Random(3)
    return [
        PageDoc(
            record_id=i, record_number=f"{i:07d}", stay=1, document_id=i, version_id=i, page=1,
            text="肺炎", department=rng.choice(DEPTS[:6]), campus=rng.choice(CAMPUSES),
            confidentiality=rng.randrange(4), sealed=rng.random() < 0.2,
            tags=rng.sample(["传染病", "VIP"], k=rng.randrange(2)), category=rng.choice(["BA", "SS"]),
        )
        for i in range(1, n + 1)
    ]


def random_scope(rng: random.Random) -> Scope:
    wide = rng.random() < 0.2  # many departments × campuses × levels
    return Scope(
        all_departments=rng.random() < 0.3,
        departments=set(DEPTS if wide else rng.sample(DEPTS[:6], k=rng.randrange(4))),
        campuses=None if rng.random() < 0.3 else set(rng.sample(CAMPUSES, k=rng.randint(1 + 2 * wide, 3))),
        max_confidentiality=rng.randint(-1, 3),
        denied_tags=set(rng.sample(["传染病", "VIP"], k=rng.randrange(2))),
        granted_record_ids=set(rng.sample(range(1, 300), k=rng.randrange(3) * 10)),
        allowed_categories=None if rng.random() < 0.7 else {"SS"},
        include_sealed=rng.random() < 0.3,
    )


@pytest.fixture(scope="module")
def pages_and_index(tmp_path_factory):
    pages = random_pages(300)
    idx = TantivySearchIndex(tmp_path_factory.mktemp("access") / "index", heap_size=15_000_000)
    idx.add(pages)
    idx.commit()
    yield pages, idx
    idx.close()


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


def test_random_scopes_admit_exactly_what_the_rule_admits(pages_and_index):
    pages, idx = pages_and_index
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
