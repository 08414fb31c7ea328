"""At most a fixed number of requests at work at once; the rest wait their turn in arrival order.

A request holds its database connection from its first dependency until its response starts,
also while it waits for one of the server's threads between steps. Without a bound, a surge of
users (200 clinicians clicking at once) checked out every connection of the pool; the pool's
waits are not first come, first served and end after 30 s in an error, so some users got HTTP
500 while others went on. Here a request waits for a slot before it touches anything, in order,
and gives the slot back as soon as its response starts (a slow download holds none). A request
that waited QUEUE_SECONDS without a slot is answered 503 with Retry-After, in Chinese.
"""
from __future__ import annotations

import asyncio
import weakref

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bingan.web.errors import answer

QUEUE_SECONDS = 30.0
BUSY = "服务器繁忙，请稍后再试"


class RequestSlots:
    def __init__(self, app: ASGIApp, slots: int, queue_seconds: float = QUEUE_SECONDS) -> None:
        self.app, self.slots, self.queue_seconds = app, slots, queue_seconds
        # One semaphore per event loop: a test client runs the same app in a loop of its own.
        self._semaphores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = \
            weakref.WeakKeyDictionary()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        semaphore = self._semaphore()
        try:
            await asyncio.wait_for(semaphore.acquire(), self.queue_seconds)
        except TimeoutError:
            busy = answer(Request(scope, receive), 503, BUSY, with_database=False)
            busy.headers["Retry-After"] = "5"
            await busy(scope, receive, send)
            return
        held = True

        def release() -> None:
            nonlocal held
            if held:
                held = False
                semaphore.release()

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                release()
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            release()

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if loop not in self._semaphores:
            self._semaphores[loop] = asyncio.Semaphore(self.slots)
        return self._semaphores[loop]
