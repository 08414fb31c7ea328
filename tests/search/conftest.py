"""Adapters under test: tantivy always; Elasticsearch when BINGAN_ES_URL points at a server."""
from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest

from bingan.search.port import PageDoc, SearchIndex

ES_URL = os.environ.get("BINGAN_ES_URL", "")
ADAPTERS = ["tantivy", "elasticsearch"]

MakeIndex = Callable[[Iterable[PageDoc]], SearchIndex]


def _open(adapter: str, tmp_path: Path) -> SearchIndex:
    if adapter == "tantivy":
        from bingan.search.tantivy_index import TantivySearchIndex

        return TantivySearchIndex(tmp_path / f"index-{uuid.uuid4().hex[:8]}", heap_size=15_000_000)
    if not ES_URL:
        pytest.skip("Elasticsearch 不可用：设置 BINGAN_ES_URL（例如 http://127.0.0.1:9200）以运行同一组契约测试")
    from bingan.search.es_index import ElasticsearchIndex

    return ElasticsearchIndex(ES_URL, prefix=f"bingan-test-{uuid.uuid4().hex[:8]}")


@pytest.fixture(params=ADAPTERS)
def make_index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeIndex]:
    """Build an index of the given pages (committed) with the adapter of this parameter."""
    opened: list[SearchIndex] = []

    def make(docs: Iterable[PageDoc]) -> SearchIndex:
        index = _open(request.param, tmp_path)
        opened.append(index)
        index.add(docs)
        index.commit()
        return index

    yield make
    for index in opened:
        if request.param == "elasticsearch":
            index.drop()  # type: ignore[attr-defined]
        index.close()
