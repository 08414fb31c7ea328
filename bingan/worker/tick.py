"""The beat tick: the worker's heartbeat, collection's sweep and due sources, then every domain's timed jobs."""
from __future__ import annotations

import os
import socket

from bingan.ingest.monitoring import beat
from bingan.ingest.pipeline import Pipeline
from bingan.ingest.scheduler import collection_tick
from bingan.worker.timed import run_timed_jobs


def tick(pipe: Pipeline, *, run_inline: bool = False) -> dict:
    """One beat tick. ``run_inline`` runs due sources here (embedded beat without a worker)."""
    with pipe.tx() as session:
        beat(session, f"{socket.gethostname()}:{os.getpid()}")
    summary = collection_tick(pipe, run_inline=run_inline)
    summary.update(run_timed_jobs(pipe.engine))
    return summary
