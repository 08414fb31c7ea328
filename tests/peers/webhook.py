"""A hospital message platform receiving Bingan's webhook: it checks ``X-Bingan-Signature``
(``sha256=`` hex HMAC-SHA256 of ``timestamp.body`` under the shared secret) and answers 401 when
it does not match, 500 when told to fail."""
from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


@dataclass
class WebhookState:
    secret: str = "webhook-secret-for-tests"
    received: list[dict] = field(default_factory=list)
    failures_left: int = 0


def make_app(state: WebhookState) -> FastAPI:
    app = FastAPI()

    @app.post("/hook")
    async def hook(request: Request) -> JSONResponse:
        body = await request.body()
        timestamp = request.headers.get("x-bingan-timestamp", "")
        expected = "sha256=" + hmac.new(state.secret.encode(), timestamp.encode() + b"." + body,
                                        hashlib.sha256).hexdigest()
        if not hmac.compare_digest(request.headers.get("x-bingan-signature", ""), expected):
            return JSONResponse({"error": "bad signature"}, status_code=401)
        if state.failures_left:
            state.failures_left -= 1
            return JSONResponse({"error": "busy"}, status_code=500)
        state.received.append(json.loads(body))
        return JSONResponse({"ok": True})

    return app
