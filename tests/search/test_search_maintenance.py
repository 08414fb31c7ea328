"""Upserts, deletes, schema versions, segment merging, the writer lock and the factory."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from bingan.config import Settings
from bingan.search import tantivy_index
from bingan.search.factory import open_search_index
from bingan.search.port import PageDoc, Scope
from bingan.search.tantivy_index import TantivySearchIndex

ALL = Scope.everything()


def page(rid: int, version: int, page_no: int, text: str) -> PageDoc:
    return PageDoc(
        record_id=rid, record_number=f"{rid:07d}", stay=1, document_id=rid * 10,
        version_id=version, page=page_no, text=text, department="XNK",
        discharged_at=date(2024, 3, 1),
    )


def hits(index, query: str) -> set[str]:
    result = index.search(query, ALL, limit=100, group_by_record=False)
    return {f"{h.version_id}:{h.page}" for r in result.records for h in r.hits}


def test_add_upserts_by_version_and_page(make_index):
    index = make_index([page(1, 10, 1, "肺炎"), page(1, 10, 2, "肺炎")])
    index.add([page(1, 10, 1, "心力衰竭")])  # same doc id: replaces, never duplicates
    index.commit()
    assert index.count == 2
    assert hits(index, "肺炎") == {"10:2"}
    assert hits(index, "心力衰竭") == {"10:1"}


def test_delete_versions_and_records(make_index):
    index = make_index([
        page(1, 10, 1, "肺炎"), page(1, 11, 1, "肺炎"), page(2, 20, 1, "肺炎"), page(3, 30, 1, "肺炎"),
    ])
    index.delete_versions([10])
    index.delete_record(2)
    index.commit()
    assert hits(index, "肺炎") == {"11:1", "30:1"}
    assert index.count == 2
    index.clear()
    assert index.count == 0 and hits(index, "肺炎") == set()


def test_search_sorted_by_discharge_date(make_index):
    docs = [page(i, i, 1, "肺炎") for i in range(1, 6)]
    for i, doc in enumerate(docs):
        doc.discharged_at = date(2024, 1, 10 - i)
    index = make_index(docs)
    newest = [r.record_id for r in index.search("肺炎", ALL, sort="discharged_desc").records]
    oldest = [r.record_id for r in index.search("肺炎", ALL, sort="discharged_asc").records]
    assert newest == [1, 2, 3, 4, 5] and oldest == [5, 4, 3, 2, 1]


def test_records_are_grouped_and_paginated_by_record(make_index):
    docs = [page(r, r * 10, p, "肺炎" * (6 - r)) for r in range(1, 6) for p in range(1, 5)]
    index = make_index(docs)
    first = index.search("肺炎", ALL, limit=2)
    second = index.search("肺炎", ALL, limit=2, offset=2)
    assert (first.total, first.total_records) == (20, 5)
    assert [r.record_id for r in first.records] == [1, 2]  # best-scoring record first
    assert [r.record_id for r in second.records] == [3, 4]
    assert all(r.matched_pages == 4 and len(r.hits) == 3 for r in first.records)
    assert first.facets["year"] == [("2024", 5)]  # facets count records, as the headline


def test_schema_version_change_starts_empty_and_asks_for_rebuild(tmp_path, monkeypatch):
    path = tmp_path / "index"
    index = TantivySearchIndex(path)
    index.add([page(1, 10, 1, "肺炎")])
    index.commit()
    assert not index.needs_rebuild()
    index.close()
    current = tantivy_index.SCHEMA_VERSION
    assert json.loads((path / "bingan-search.json").read_text())["schema_version"] == current

    monkeypatch.setattr(tantivy_index, "SCHEMA_VERSION", current + 1)
    reopened = TantivySearchIndex(path)
    assert reopened.needs_rebuild() and reopened.count == 0
    reopened.close()
    assert TantivySearchIndex(path).needs_rebuild()  # still pending after a restart
    again = TantivySearchIndex(path)
    again.add([page(1, 10, 1, "肺炎")])
    again.commit()
    again.mark_rebuilt()
    assert not again.needs_rebuild() and hits(again, "肺炎") == {"10:1"}


def test_reopened_index_registers_the_tokenizer_again(tmp_path):
    first = TantivySearchIndex(tmp_path / "index")
    first.add([page(1, 10, 1, "糖尿病，肾病")])
    first.commit()
    first.close()
    second = TantivySearchIndex(tmp_path / "index")
    assert hits(second, "糖尿病") == {"10:1"} and hits(second, "糖尿病肾病") == set()


def segment_ids_on_disk(path: Path) -> set[str]:
    return {f.stem for f in path.iterdir() if f.suffix in (".idx", ".store", ".term")}


def test_optimize_merges_segments_and_collects_dead_files(tmp_path):
    # tantivy-py exposes no forced merge: optimize() lets the log merge policy finish
    # (segments stay O(log n)) and deletes the files of merged-away segments.
    path = tmp_path / "index"
    index = TantivySearchIndex(path, heap_size=15_000_000)
    commits = 40
    for i in range(commits):  # one segment per commit
        index.add([page(i, i, 1, f"肺炎 第{i}次")])
        index.commit()
        if i % 2:
            index.delete_versions([i - 1])
    index.optimize()
    assert index.num_segments <= 10 < commits
    assert segment_ids_on_disk(path) and len(segment_ids_on_disk(path)) == index.num_segments
    assert index.count == commits // 2 and len(hits(index, "肺炎")) == commits // 2
    index.add([page(99, 99, 1, "肺炎")])  # the writer is usable again after optimize
    index.commit()
    assert index.count == commits // 2 + 1


WRITER_SCRIPT = """
import sys
from datetime import date
from bingan.search.port import PageDoc, Scope
from bingan.search.tantivy_index import TantivySearchIndex, IndexBusyError
ix = TantivySearchIndex(sys.argv[1], heap_size=15_000_000)
found = ix.search("肺炎", Scope.everything()).total
try:
    ix.add([PageDoc(record_id=9, record_number="9", stay=1, document_id=9, version_id=9,
                    page=1, text="肺炎")])
except IndexBusyError as exc:
    print("busy", found, exc)
else:
    print("wrote", found)
"""


def test_second_process_reads_but_cannot_write(tmp_path):
    index = TantivySearchIndex(tmp_path / "index", heap_size=15_000_000)
    index.add([page(1, 10, 1, "肺炎")])
    index.commit()  # this process now holds the writer
    out = subprocess.run(
        [sys.executable, "-c", WRITER_SCRIPT, str(tmp_path / "index")],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout
    assert out.startswith("busy 1 ") and "另一个进程" in out
    index.close()
    out = subprocess.run(
        [sys.executable, "-c", WRITER_SCRIPT, str(tmp_path / "index")],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout
    assert out.startswith("wrote 1")


def test_factory_opens_the_configured_backend(tmp_path: Path):
    index = open_search_index(Settings(home=tmp_path, search_backend="tantivy"))
    assert isinstance(index, TantivySearchIndex)
    assert index.path == tmp_path.resolve() / "index"
    with pytest.raises(ValueError, match="BINGAN_ES_URL"):
        open_search_index(Settings(home=tmp_path, search_backend="elasticsearch"))
    with pytest.raises(ValueError, match="未知的检索后端"):
        open_search_index(Settings(home=tmp_path, search_backend="whoosh"))


def test_facets_are_cached_for_paging_and_refreshed_by_a_commit(tmp_path):
    index = TantivySearchIndex(tmp_path / "idx", heap_size=15_000_000)
    index.add([page(rid, rid, 1, "肺炎") for rid in range(1, 6)])
    index.commit()
    first = index.search("肺炎", ALL, limit=2)
    calls = []
    aggregate = index._aggregate
    index._aggregate = lambda *a, **k: calls.append(1) or aggregate(*a, **k)
    second = index.search("肺炎", ALL, limit=2, offset=2)  # the next page: from the cache
    assert calls == [] and second.facets == first.facets
    assert [r.record_id for r in second.records] != [r.record_id for r in first.records]
    index.add([page(9, 9, 1, "肺炎")])
    index.commit()
    third = index.search("肺炎", ALL, limit=2)  # a new generation: counted again
    assert calls == [1] and dict(third.facets["department"])["XNK"] == 6
    index.close()


def test_facet_cache_off(tmp_path):
    index = TantivySearchIndex(tmp_path / "idx", heap_size=15_000_000, stats_cache_size=0)
    index.add([page(1, 1, 1, "肺炎")])
    index.commit()
    calls = []
    aggregate = index._aggregate
    index._aggregate = lambda *a, **k: calls.append(1) or aggregate(*a, **k)
    index.search("肺炎", ALL)
    index.search("肺炎", ALL)
    assert calls == [1, 1]
    index.close()
