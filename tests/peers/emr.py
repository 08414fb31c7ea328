"""A fake EMR REST service (the HTTP pull contract of docs/ingest.md) with basic data, served for real."""
from __future__ import annotations

from fastapi import FastAPI, HTTPException, Response


class EmrState:
    """Documents the EMR holds; ``modify`` makes a new revision, like a clinician editing a record."""

    def __init__(self) -> None:
        self.documents: dict[str, dict] = {}
        self.contents: dict[tuple[str, str], bytes] = {}
        self.basic: dict[str, list[dict]] = {"departments": [], "users": [], "patients": [], "stays": []}
        self.clock = 0
        self.fetches = 0

    def put(self, doc_id: str, content: bytes, **meta: object) -> None:
        self.clock += 1
        revision = f"r{self.clock}"
        entry = {**self.documents.get(doc_id, {}), **meta, "id": doc_id, "revision": revision, "seq": self.clock}
        self.documents[doc_id] = entry
        self.contents[(doc_id, revision)] = content

    def remove(self, doc_id: str) -> None:
        """The EMR withdraws a document (e.g. filed under the wrong patient): listed once more, removed."""
        self.clock += 1
        self.documents[doc_id] = {**self.documents[doc_id], "revision": f"r{self.clock}", "seq": self.clock,
                                  "removed": True}


def make_app(state: EmrState) -> FastAPI:
    app = FastAPI()

    @app.get("/documents")
    def changed(since: str = "") -> dict:
        after = int(since or 0)
        docs = sorted((d for d in state.documents.values() if d["seq"] > after), key=lambda d: d["seq"])
        return {"documents": docs, "cursor": str(max([after, *[d["seq"] for d in docs]]))}

    @app.get("/documents/{doc_id}/content")
    def content(doc_id: str, revision: str) -> Response:
        state.fetches += 1
        data = state.contents.get((doc_id, revision))
        if data is None:
            raise HTTPException(404)
        return Response(data, media_type="application/pdf")

    @app.get("/basic/{entity}")
    def basic(entity: str) -> list[dict]:
        return state.basic.get(entity, [])

    return app
