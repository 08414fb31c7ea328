"""Celery tasks: thin wrappers that run pipeline code against the database state."""
from __future__ import annotations

import logging

from bingan.ingest import scheduler
from bingan.ingest.celery_app import celery_app
from bingan.ingest.pipeline import Pipeline, process_item
from bingan.ingest.reindex import rebuild_if_needed

log = logging.getLogger(__name__)
_pipe: Pipeline | None = None


def pipeline() -> Pipeline:
    """One per worker process: keeps the blob store and the search index open."""
    global _pipe
    if _pipe is None:
        _pipe = Pipeline()
    return _pipe


@celery_app.task(name="bingan.ingest.process_item")
def process_item_task(item_id: int) -> str:
    state = process_item(pipeline(), item_id)
    if state == "retry":
        scheduler.kick_later(item_id)
    return state


@celery_app.task(name="bingan.ingest.run_source")
def run_source_task(source_id: int) -> int:
    return scheduler.run_source(pipeline(), source_id)


@celery_app.task(name="bingan.ingest.rebuild_index")
def rebuild_index_task() -> int | None:
    return rebuild_if_needed(pipeline())


@celery_app.task(name="bingan.ingest.tick")
def tick_task() -> dict:
    return scheduler.tick(pipeline())
