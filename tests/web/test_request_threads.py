"""Requests run in a fixed number of threads, each holding one connection the pool always has: a
surge of users waits for a thread in arrival order instead of timing out inside the pool, whose
waits are not in order and end in HTTP 500 after 30 s (storage.db, web.app)."""
from __future__ import annotations

import anyio.to_thread
from fastapi.testclient import TestClient

from bingan.storage.db import REQUEST_THREADS

SPARE = 3  # the audit sealer, a worker thread in the same process, a request's second session


async def _thread_tokens() -> float:
    return anyio.to_thread.current_default_thread_limiter().total_tokens


def test_a_running_app_serves_requests_in_the_request_threads(app):
    with TestClient(app) as client:
        assert client.portal.call(_thread_tokens) == REQUEST_THREADS


def test_the_pool_has_a_connection_for_every_request_thread_and_the_spares(engine):
    assert engine.pool.size() + engine.pool._max_overflow >= REQUEST_THREADS + SPARE
