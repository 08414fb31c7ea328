"""Several web processes open the same index: opening an index that is up to date writes nothing,
and openers at the same moment never trip over each other's meta file."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from bingan.search.tantivy_index import META_FILE, TantivySearchIndex


def test_opening_an_up_to_date_index_writes_nothing(tmp_path):
    TantivySearchIndex(tmp_path / "index")
    meta = tmp_path / "index" / META_FILE
    before = meta.stat().st_mtime_ns
    TantivySearchIndex(tmp_path / "index")
    assert meta.stat().st_mtime_ns == before and list((tmp_path / "index").glob("*.tmp")) == []


def test_openers_at_the_same_moment_all_open_the_index(tmp_path):
    path = tmp_path / "index"
    with ThreadPoolExecutor(8) as pool:  # before: a shared .tmp name, renamed away under the others
        opened = list(pool.map(lambda _: TantivySearchIndex(path), range(16)))
    assert len(opened) == 16 and list(path.glob("*.tmp")) == []
