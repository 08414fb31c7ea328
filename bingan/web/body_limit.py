"""Request bodies are bounded before anyone reads them.

FastAPI reads a whole form or multipart body (spooling files to disk) before any dependency or
route runs, so a limit checked in the route comes too late: an anonymous 150 MB post to /login
would be received in full. The gate here refuses a declared ``Content-Length`` over the limit
before a byte is read, and counts a chunked body as it streams, stopping it as soon as it passes.
"""
from __future__ import annotations

import re

from fastapi import HTTPException
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bingan.web.errors import answer

KIB = 1024
MIB = 1024 * KIB
FORM_BYTES = 64 * KIB  # sign-in, settings and every other form or JSON body without a file
MULTIPART_OVERHEAD = 64 * KIB  # the other fields and part headers around an uploaded file


def too_large(limit: int) -> str:
    size = f"{limit // MIB} MB" if limit >= MIB else f"{limit // KIB} KB"
    return f"请求内容超过大小上限（{size}），未做任何处理"


async def pass_bounded(app: ASGIApp, scope: Scope, receive: Receive, send: Send, limit: int,
                       refusal: str) -> None:
    """Hands the request on with its body bounded by ``limit`` bytes; beyond it, 413 with ``refusal``."""
    declared = Headers(scope=scope).get("content-length")
    if declared is not None and not (declared.isascii() and declared.isdigit()):
        await _refuse(scope, receive, send, 400, "请求头 Content-Length 无效")
        return
    if declared is not None and int(declared) > limit:
        await _refuse(scope, receive, send, 413, refusal)
        return
    received = 0
    started = False

    async def counted() -> Message:
        nonlocal received
        message = await receive()
        received += len(message.get("body", b""))
        if received > limit:
            raise HTTPException(413, refusal)  # answered by the app's error handler
        return message

    async def watched(message: Message) -> None:
        nonlocal started
        started = started or message["type"] == "http.response.start"
        await send(message)

    try:
        await app(scope, counted, watched)
    except HTTPException as refused:
        if started or refused.status_code != 413:
            raise
        await _refuse(scope, receive, send, 413, refused.detail)


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, message: str) -> None:
    """The error page or JSON the app's own refusals use; the body is left unread."""
    await answer(Request(scope, receive), status, message, with_database=False)(scope, receive, send)


class BodyLimit:
    """The gate for every HTTP request: a route's own limit from ``routes`` or else FORM_BYTES, never above
    ``ceiling``. A route listed with None has a gate of its own (the push API's key-based limit)."""

    def __init__(self, app: ASGIApp, ceiling: int, routes: dict[str, int | None]) -> None:
        self.app = app
        self.ceiling = ceiling
        self.routes = routes
        # Upload routes under a row's path (/api/v1/records/{id}/scans): "{id}" stands for a number.
        self.patterns = [(re.compile("^" + re.escape(path).replace(r"\{id\}", "[0-9]+") + "$"), limit)
                         for path, limit in routes.items() if "{id}" in path]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.routes.get(scope["path"], self._pattern_limit(scope["path"]))
        if limit is None:
            await self.app(scope, receive, send)
            return
        limit = min(limit, self.ceiling)
        await pass_bounded(self.app, scope, receive, send, limit, too_large(limit))

    def _pattern_limit(self, path: str) -> int | None:
        return next((limit for pattern, limit in self.patterns if pattern.match(path)), FORM_BYTES)
