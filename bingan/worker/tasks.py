"""Celery tasks: thin wrappers that run collection steps and background jobs against the database state."""
from __future__ import annotations

import logging

from bingan.broker import celery_app
from bingan.ingest import scheduler
from bingan.ingest.historical import HISTORICAL_IMPORT
from bingan.ingest.options import get_options
from bingan.ingest.pipeline import Pipeline, process_item
from bingan.ingest.reindex import rebuild_if_needed
from bingan.records.jobs import register as register_job
from bingan.records.jobs import run_job
from bingan.records.notices.service import deliver
from bingan.records.tiers.service import promote
from bingan.records.workflows import install
from bingan.storage.blobs.local import PROMOTE_TASK
from bingan.storage.db import session_factory
from bingan.storage.models import utcnow
from bingan.worker.tick import tick

log = logging.getLogger(__name__)
_pipe: Pipeline | None = None
install()  # the workflows' approval and job kinds, as in the web app
register_job(HISTORICAL_IMPORT)  # an ingest job, registered by the composition roots
celery_app.conf.beat_schedule = {"bingan-tick": {"task": "bingan.ingest.tick", "schedule": get_options().sweep_seconds}}


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
    return tick(pipeline())


@celery_app.task(name="bingan.notices.deliver")
def deliver_notice_task(delivery_id: int) -> str:
    with session_factory(pipeline().engine).begin() as session:
        return deliver(session, delivery_id)


@celery_app.task(name=PROMOTE_TASK)
def promote_blob_task(sha256: str) -> int:
    """A file was read from a cold volume (BINGAN_TIER_PROMOTE_ON_READ): bring it back to hot."""
    with session_factory(pipeline().engine)() as session:
        return len(promote(session, pipeline().blobs, [sha256], utcnow()).moved)


@celery_app.task(name="bingan.worker.run_job")
def run_job_task(job_id: int) -> str:
    return run_job(pipeline().engine, pipeline().blobs, job_id)
