"""Rebuild the search index from the database (Page.text) in batches: bounded memory, resumable.

The checkpoint (last version id done) lives beside the index, so an interrupted reindex
continues where it stopped; a schema-version change (``needs_rebuild``) starts from zero.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from bingan.config import Settings, get_settings
from bingan.ingest.indexing import page_docs_for_versions
from bingan.storage.db import get_engine, transaction
from bingan.storage.models import Document

CHECKPOINT = "bingan-reindex.json"


def _checkpoint(settings: Settings) -> Path:
    return settings.resolved_index_dir / CHECKPOINT


def reindex(settings: Settings | None = None, *, batch: int = 500, fresh: bool = False,
            progress: Callable[[int], object] | None = None, engine=None) -> int:
    """Index every current version; returns pages added. ``fresh`` clears the index first."""
    from bingan.search.factory import open_search_index

    settings = settings or get_settings()
    engine = engine or get_engine(settings)
    index = open_search_index(settings)
    path = _checkpoint(settings)
    start = 0 if fresh or index.needs_rebuild() else _read(path)
    if start == 0:
        index.clear()
    pages = 0
    try:
        while True:
            with transaction(engine) as session:
                ids = list(session.scalars(
                    sa.select(Document.current_version_id).where(
                        Document.current_version_id > start, Document.removed.is_(False))
                    .order_by(Document.current_version_id).limit(batch)))
                if not ids:
                    break
                docs = page_docs_for_versions(session, ids)
            pages += index.add(docs)
            index.commit()
            start = ids[-1]
            _write(path, start)
            if progress:
                progress(pages)
        if hasattr(index, "mark_rebuilt"):
            index.mark_rebuilt()
        index.optimize()
        path.unlink(missing_ok=True)
    finally:
        index.close()
    return pages



def _read(path: Path) -> int:
    try:
        return int(json.loads(path.read_text())["last_version_id"])
    except (FileNotFoundError, KeyError, ValueError):
        return 0


def _write(path: Path, last: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"last_version_id": last}))
    tmp.replace(path)
