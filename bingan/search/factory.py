"""Open the configured search index: tantivy (embedded) or Elasticsearch (scale-out)."""
from __future__ import annotations

from bingan.config import Settings, get_settings
from bingan.search.port import SearchIndex


def open_search_index(settings: Settings | None = None) -> SearchIndex:
    """One index per process: the tantivy adapter holds the writer lock once it writes."""
    settings = settings or get_settings()
    backend = settings.search_backend.lower()
    if backend == "tantivy":
        from bingan.search.tantivy_index import TantivySearchIndex

        return TantivySearchIndex(settings.resolved_index_dir)
    if backend in ("elasticsearch", "es"):
        if not settings.es_url:
            raise ValueError("BINGAN_SEARCH_BACKEND=elasticsearch 需要设置 BINGAN_ES_URL")
        from bingan.search.es_index import ElasticsearchIndex

        return ElasticsearchIndex(settings.es_url, prefix=settings.es_index_prefix)
    raise ValueError(f"未知的检索后端：{settings.search_backend}（可选 tantivy 或 elasticsearch）")
