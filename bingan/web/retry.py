"""Run a request again when SQLite stayed locked beyond busy_timeout.

Each request is one transaction that commits before the response starts (see deps.DB), so
when "database is locked" escapes, nothing of the request was kept and nothing was sent: the
whole request can run again. The body is buffered so it can be replayed — up to
``BUFFER_LIMIT``: larger or chunked bodies (files pushed by hospital systems, big uploads) stream
straight through and run once, so a 2 GB push never sits in memory.
"""
from __future__ import annotations

import asyncio
import logging

from sqlalchemy.exc import OperationalError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bingan.storage.db import is_locked_error

log = logging.getLogger(__name__)
ATTEMPTS = 3
BUFFER_LIMIT = 8 * 1024 * 1024


class RetryLocked:
    def __init__(self, app: ASGIApp, attempts: int = ATTEMPTS) -> None:
        self.app = app
        self.attempts = attempts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _replayable(scope):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        for attempt in range(1, self.attempts + 1):
            started = False

            async def tracking_send(message: Message) -> None:
                nonlocal started
                started = True
                await send(message)

            try:
                await self.app(_fresh(scope), _replay(body, receive), tracking_send)
                return
            except OperationalError as error:
                if started or attempt == self.attempts or not is_locked_error(error):
                    raise
                log.warning("database locked, running %s %s again (attempt %d)", scope["method"],
                            scope["path"], attempt + 1)
                await asyncio.sleep(0.05 * attempt)


def _replayable(scope: Scope) -> bool:
    """A body small enough to keep: declared, and at most BUFFER_LIMIT (none at all for a GET)."""
    headers = dict(scope.get("headers") or [])
    if b"transfer-encoding" in headers:
        return False
    declared = headers.get(b"content-length", b"0")
    return declared.isdigit() and int(declared) <= BUFFER_LIMIT


def _fresh(scope: Scope) -> Scope:
    """A copy whose request state (the signed-in context, pre-login cookie) starts empty."""
    copy = dict(scope)
    copy["state"] = dict(scope.get("state") or {})
    return copy


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # later calls wait for the disconnect, as usual
    return replay
