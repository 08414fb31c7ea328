"""A fixed number of requests work at once, each holding one connection the pool always has; the
rest wait in arrival order, and one that waits too long is told so in Chinese (web.request_slots).
Before, a surge of users exhausted the pool, whose waits end in HTTP 500 after 30 s."""
from __future__ import annotations

import asyncio

import httpx

from bingan.storage.db import REQUEST_SLOTS
from bingan.web.request_slots import BUSY, RequestSlots

SPARE = 3  # the audit sealer, a worker thread in the same process, a request's second session


class Counting:
    """An ASGI app that notes how many requests are inside it at once and the order they enter."""

    def __init__(self, seconds: float = 0.05) -> None:
        self.inside = self.most = 0
        self.entered: list[str] = []
        self.seconds = seconds

    async def __call__(self, scope, receive, send) -> None:
        self.inside += 1
        self.most = max(self.most, self.inside)
        self.entered.append(scope["path"])
        await asyncio.sleep(self.seconds)
        self.inside -= 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def _get_all(app, paths: list[str]) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bingan") as client:
        tasks = []
        for path in paths:
            tasks.append(asyncio.create_task(client.get(path)))
            await asyncio.sleep(0.001)  # arrive one after another
        return await asyncio.gather(*tasks)


def test_no_more_requests_work_at_once_than_there_are_slots():
    inner = Counting()
    answers = asyncio.run(_get_all(RequestSlots(inner, slots=3), [f"/{n}" for n in range(12)]))
    assert [answer.status_code for answer in answers] == [200] * 12
    assert inner.most == 3


def test_waiting_requests_go_in_the_order_they_came():
    inner = Counting()
    paths = [f"/{n}" for n in range(10)]
    asyncio.run(_get_all(RequestSlots(inner, slots=1), paths))
    assert inner.entered == paths


def test_a_request_that_waits_too_long_is_answered_busy_with_retry_after():
    inner = Counting(seconds=0.5)
    first, second = asyncio.run(_get_all(RequestSlots(inner, slots=1, queue_seconds=0.1), ["/api/v1/a", "/api/v1/b"]))
    assert first.status_code == 200
    assert second.status_code == 503
    assert second.headers["retry-after"] == "5"
    assert second.json()["detail"] == BUSY


def test_the_pool_has_a_connection_for_every_slot_and_the_spares(engine):
    assert engine.pool.size() + engine.pool._max_overflow >= REQUEST_SLOTS + SPARE
