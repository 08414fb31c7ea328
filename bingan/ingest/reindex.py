"""Rebuild the search index from the database (Page.text) in batches: bounded memory, resumable.

The checkpoint (last version id done) lives beside the index, so an interrupted reindex
continues where it stopped. After an upgrade that changed the index schema the index opens
empty (``needs_rebuild``); the beat tick then has a worker run ``rebuild_if_needed`` with the
index it already holds (one process owns the index writer), so search fills again unattended.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from bingan.config import Settings, get_settings
from bingan.ingest.indexing import page_docs_for_versions
from bingan.storage.db import get_engine, transaction
from bingan.storage.models import Document

CHECKPOINT = "bingan-reindex.json"
log = logging.getLogger(__name__)


def _checkpoint(settings: Settings) -> Path:
    return settings.resolved_index_dir / CHECKPOINT


def reindex(settings: Settings | None = None, *, batch: int = 500, fresh: bool = False,
            progress: Callable[[int], object] | None = None, engine=None, index=None) -> int:
    """Index every current version; returns pages added. ``fresh`` clears the index first.

    ``index``: one the caller keeps open (a worker's); otherwise one is opened and closed here.
    """
    from bingan.search.factory import open_search_index

    settings = settings or get_settings()
    engine = engine or get_engine(settings)
    owned = index is None
    index = index or open_search_index(settings)
    path = _checkpoint(settings)
    # A schema change wipes the index folder, checkpoint included: an interrupted rebuild resumes.
    start = 0 if fresh else _read(path)
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
        if owned:
            index.close()
    return pages


def rebuild_if_needed(pipe) -> int | None:
    """Pages re-added when the index asked for a rebuild (schema upgrade); None when it did not."""
    if not pipe.index.needs_rebuild():
        return None
    log.warning("search index needs a rebuild (schema upgrade): reindexing from the database")
    pages = reindex(pipe.settings, engine=pipe.engine, index=pipe.index)
    log.warning("search index rebuilt: %d pages", pages)
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
