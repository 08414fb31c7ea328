"""The ID-card reader bridge on the copy clerk's PC (身份证读卡服务), as the common vendor bridges
work: a small JSON HTTP service on 127.0.0.1 that the browser calls. ``GET /readcard`` answers the
second-generation card on the reader — {name, sex, nation, birth, address, id_number, issuer,
valid_from, valid_to, photo (base64 JPEG)} — or ``{code, message}`` when no card is on it. It
answers any page's origin (CORS) and Chrome's private-network preflight, since the page comes
from the hospital's server."""
from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from peers.loopback import Served
from PIL import Image

NO_CARD = {"code": 2, "message": "未检测到身份证，请将身份证放在读卡器上"}


def card_photo() -> str:
    """A card photo as the reader gives it: a small JPEG (102 × 126), base64."""
    buffer = io.BytesIO()
    Image.new("RGB", (102, 126), (120, 160, 200)).save(buffer, "JPEG", quality=80)
    return base64.b64encode(buffer.getvalue()).decode()


def card(name: str, id_number: str, sex: str = "男") -> dict:
    return {"name": name, "sex": sex, "nation": "汉", "birth": id_number[6:14],
            "address": "北京市朝阳区建国路1号", "id_number": id_number, "issuer": "北京市公安局朝阳分局",
            "valid_from": "20200101", "valid_to": "20400101", "photo": card_photo()}


@dataclass
class ReaderState:
    on_reader: dict | None = None  # the card lying on the reader, as card() makes it
    reads: list[str] = field(default_factory=list)  # the origins that read it


def make_app(state: ReaderState) -> FastAPI:
    app = FastAPI()

    def open_to(request: Request, answer: Response) -> Response:
        answer.headers["Access-Control-Allow-Origin"] = request.headers.get("origin", "*")
        answer.headers["Access-Control-Allow-Private-Network"] = "true"
        answer.headers["Cache-Control"] = "no-store"
        return answer

    @app.options("/readcard")
    def preflight(request: Request) -> Response:
        return open_to(request, Response(status_code=204))

    @app.get("/readcard")
    def read(request: Request) -> Response:
        if state.on_reader is None:
            return open_to(request, JSONResponse(NO_CARD))
        state.reads.append(request.headers.get("origin", ""))
        return open_to(request, JSONResponse({"code": 0, **state.on_reader}))

    return app


def running(state: ReaderState) -> Served:
    """``with running(state) as url:`` — the bridge on a free local port."""
    return Served(make_app(state))
