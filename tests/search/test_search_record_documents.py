"""The tantivy index answers record-unit AND/OR/NOT from one aggregated document per record
(tantivy_records.py). Those documents are derived: after pages are added over several commits,
versions replaced or deleted, a record's access rewritten or the index reopened, the record unit
must still agree exactly with the brute-force reference over the current pages."""
from __future__ import annotations

import random
from dataclasses import replace

import pytest
from search_scopes import random_pages, random_scope

from bingan.search import query as q
from bingan.search.checking import Reference, generate_pages, sample_queries, unit_queries
from bingan.search.port import PageDoc, RecordAccess, Scope
from bingan.search.tantivy_index import TantivySearchIndex
from bingan.search.units import direct, on_record_documents

# queries the aggregated documents answer (the others take the per-term path, tested elsewhere)
QUERIES = [t for t in sample_queries(120) + unit_queries(40)
           if not direct(q.parse(t).root, "record") and on_record_documents(q.parse(t).root)]
CLINICIAN = Scope(departments={"XNK", "HXK"}, campuses={"BB"}, max_confidentiality=1,
                  denied_tags={"传染病"}, granted_record_ids=set(range(1, 100, 7)))


def page_ids(index, query: str, scope: Scope) -> set[str]:
    result = index.search(query, scope, limit=10_000, group_by_record=False, facets=False)
    return {f"{h.version_id}:{h.page}" for r in result.records for h in r.hits}


def assert_exact(index: TantivySearchIndex, pages: list[PageDoc]) -> None:
    reference = Reference(pages)
    for scope in (Scope.everything(), CLINICIAN):
        for query in QUERIES:
            assert page_ids(index, query, scope) == reference.search(query, scope), query


def test_the_queries_cover_and_not_and_groups():
    assert len(QUERIES) >= 30
    assert any(" -" in t for t in QUERIES) and any(t.startswith("NOT ") for t in QUERIES)


@pytest.fixture
def index(tmp_path):
    opened = TantivySearchIndex(tmp_path / "index", heap_size=15_000_000)
    yield opened
    opened.close()


def test_a_record_whose_pages_come_in_several_commits_is_one_record(index):
    pages = list(generate_pages(600, seed=21))
    for start in range(0, len(pages), 137):  # commits cut through records
        index.add(pages[start:start + 137])
        index.commit()
    assert index.count == len(pages)
    assert_exact(index, pages)


def test_replaced_and_deleted_versions_leave_the_record_document(index):
    pages = list(generate_pages(600, seed=22))
    index.add(pages)
    index.commit()
    rng = random.Random(5)
    donors = list(generate_pages(300, seed=23))
    current = {p.version_id: p for p in pages}
    for old in rng.sample(pages, 60):  # a new version with another text, in place of the old one
        new = replace(old, version_id=old.version_id + 10_000, text=rng.choice(donors).text)
        index.delete_versions([old.version_id])
        index.add([new])
        del current[old.version_id]
        current[new.version_id] = new
    gone = rng.sample(sorted(current), 40)  # documents removed, nothing added for them
    index.delete_versions(gone)
    for version in gone:
        del current[version]
    index.commit()
    assert index.count == len(current)
    assert_exact(index, list(current.values()))


def test_a_version_added_and_deleted_before_the_commit_leaves_no_trace(index):
    first = PageDoc(record_id=1, record_number="0000001", stay=1, document_id=1, version_id=1, page=1,
                    text="主诉：咳嗽。")
    index.add([first])
    index.commit()
    index.add([replace(first, document_id=2, version_id=2, text="诊断：肺炎。")])
    index.delete_versions([2])
    index.commit()
    assert page_ids(index, "咳嗽 -肺炎", Scope.everything()) == {"1:1"}


def test_a_rewritten_record_follows_its_new_access(index):
    pages = list(generate_pages(400, seed=24))
    index.add(pages)
    index.commit()
    moved = pages[0].record_id
    mine = [replace(p, department="XNK", campus="BB", confidentiality=0, tags=[], sealed=False)
            for p in pages if p.record_id == moved]
    access = RecordAccess(record_id=moved, department="XNK", department_name="心内科", campus="BB",
                          confidentiality=0, tags=[], sealed=False)
    index.update_access(access, lambda: mine)
    index.commit()
    current = mine + [p for p in pages if p.record_id != moved]
    assert_exact(index, current)
    assert moved in {r.record_id for r in index.search("NOT 结核结核", CLINICIAN, limit=1000).records}


def test_the_record_documents_survive_reopening_the_index(tmp_path):
    path = tmp_path / "index"
    pages = list(generate_pages(400, seed=25))
    first = TantivySearchIndex(path, heap_size=15_000_000)
    first.add(pages)
    first.commit()
    first.close()
    reopened = TantivySearchIndex(path, heap_size=15_000_000)
    gone = [p.version_id for p in pages[::9]]  # only deletions: the attributes come from the index
    reopened.delete_versions(gone)
    reopened.commit()
    assert_exact(reopened, [p for p in pages if p.version_id not in set(gone)])
    reopened.close()


def test_record_documents_admit_exactly_what_the_scope_admits(index):
    pages = random_pages(300)
    index.add(pages)
    index.commit()
    rng = random.Random(11)
    for _ in range(80):
        scope = random_scope(rng)
        found = {r.record_id for r in index.search("NOT 咳嗽", scope, limit=1000, facets=False).records}
        assert found == {p.record_id for p in pages if scope.admits(p)}, scope


def test_grouped_results_show_the_matching_records_with_their_hit_pages(index):
    pages = list(generate_pages(800, seed=26))
    index.add(pages)
    index.commit()
    reference = Reference(pages)
    record_of = {p.doc_id: p.record_id for p in pages}
    for query in QUERIES[:20]:
        want = reference.search(query, CLINICIAN)
        shown, total = [], None
        for offset in (0, 7, 14, 21, 28):  # pages of seven records
            result = index.search(query, CLINICIAN, limit=7, offset=offset)
            total = result.total
            shown += result.records
        assert result.total_records == len({record_of[d] for d in want}) and total == len(want), query
        assert len(shown) == min(35, result.total_records) == len({r.record_id for r in shown}), query
        for record in shown:
            mine = {d for d in want if record_of[d] == record.record_id}
            assert record.matched_pages == len(mine), query
            assert {f"{h.version_id}:{h.page}" for h in record.hits} <= mine, query


def test_records_sort_by_discharge_on_request(index):
    pages = list(generate_pages(800, seed=27))
    index.add(pages)
    index.commit()
    query = next(t for t in QUERIES if t.startswith("NOT "))
    result = index.search(query, Scope.everything(), limit=30, sort="discharged_desc")
    dates = [r.discharged_at for r in result.records]
    assert len(dates) > 5 and dates == sorted(dates, reverse=True)


def test_counts_and_facets_of_the_record_unit_are_the_brute_force_counts_in_records(tmp_path):
    """The record count and the facets of record attributes are counted on the record documents,
    the page count and the category facet (a record under each category it has a hit page in) on
    the hit pages: both as a scan of the current pages counts them."""
    pages = list(generate_pages(1200, seed=24))
    index = TantivySearchIndex(None)
    index.add(pages)
    index.commit()
    reference = Reference(pages)
    by_id = {d.doc_id: d for d in pages}
    for scope in (Scope.everything(), CLINICIAN):
        for query in QUERIES:
            hits = [by_id[i] for i in reference.search(query, scope)]
            result = index.search(query, scope, limit=5)
            assert (result.total, result.total_records) == (len(hits), len({d.record_id for d in hits})), query
            assert {name: dict(counts) for name, counts in result.facets.items()} == facets_of(hits), query


def facets_of(hits: list[PageDoc]) -> dict[str, dict[str, int]]:
    values = {"category": lambda d: d.category, "department": lambda d: d.department,
              "year": lambda d: str(d.discharge_year), "record_kind": lambda d: d.record_kind}
    counted: dict[str, dict[str, int]] = {}
    for name, value in values.items():
        records: dict[str, set[int]] = {}
        for d in hits:
            records.setdefault(value(d), set()).add(d.record_id)
        counted[name] = {v: len(ids) for v, ids in records.items()}
    return counted
