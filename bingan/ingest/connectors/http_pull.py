"""HTTP pull (REST): list documents changed since a cursor, then fetch each one.

Contract with the peer (documented in docs/ingest.md; EMR vendors adapt to it or a mapping):
  GET {endpoint}/documents?since=CURSOR -> {"documents": [{id, revision, record_number, stay,
      type, title, filename, author, signed_at, removed, record_status}], "cursor": "..."}
      (removed: withdrawn; record_status "complete": the EMR has finished the whole record)
  GET {endpoint}/documents/{id}/content?revision=R -> the file bytes
Credentials: {"token": ...} as a bearer token or {"username", "password"} as basic auth.
"""
from __future__ import annotations

from pathlib import Path

import httpx

from bingan.ingest.connectors.base import Discovery, gone, unreachable
from bingan.ingest.errors import TransientFailure
from bingan.ingest.items import Report, source_visit_type, visit_type_of
from bingan.ingest.secrets import open_credentials
from bingan.records.patients import parse_time

TIMEOUT = httpx.Timeout(30.0, connect=10.0)


def report_from(entry: dict, revision_key: str = "revision", visit_type: str = "inpatient") -> Report:
    """``visit_type``: the source's setting, for entries that do not say 住院 or 门诊 themselves."""
    return Report(
        source_document_id=str(entry["id"]), revision=str(entry.get(revision_key, "")),
        record_number=str(entry.get("record_number", "")), stay=int(entry.get("stay") or 1),
        document_type_code=str(entry.get("type", "")), title=entry.get("title", ""),
        filename=entry.get("filename", ""), author=entry.get("author", ""),
        signed_at=parse_time(entry.get("signed_at")),
        metadata={k: v for k, v in entry.items() if k in ("patient", "record_status")},
        removed=bool(entry.get("removed")), visit_type=visit_type_of(entry.get("visit_type"), visit_type),
    )


class HttpPullConnector:
    def _client(self, pipe, source) -> httpx.Client:
        creds = open_credentials(pipe.settings, source.credentials)
        headers = {"Authorization": f"Bearer {creds['token']}"} if creds.get("token") else {}
        auth = (creds["username"], creds["password"]) if creds.get("username") else None
        return httpx.Client(base_url=source.endpoint.rstrip("/"), headers=headers, auth=auth, timeout=TIMEOUT)

    def discover(self, pipe, source, cursor: str) -> Discovery:
        try:
            with self._client(pipe, source) as client:
                response = client.get("/documents", params={"since": cursor})
                response.raise_for_status()
        except httpx.HTTPError as exc:
            raise unreachable(source, exc) from exc
        body = response.json()
        visit = source_visit_type(source)
        reports = [report_from(entry, visit_type=visit) for entry in body.get("documents", [])]
        return Discovery(reports, str(body.get("cursor", cursor)))

    def fetch(self, pipe, source, item, dest: Path) -> None:
        try:
            with self._client(pipe, source) as client, client.stream(
                "GET", f"/documents/{item.source_document_id}/content", params={"revision": item.revision}
            ) as response:
                if response.status_code == 404:
                    raise gone(source, item.source_document_id)
                if response.status_code >= 400:
                    raise TransientFailure("peer_error", f"来源“{source.name}”返回错误 {response.status_code}")
                with open(dest, "wb") as out:
                    for chunk in response.iter_bytes(1 << 20):
                        out.write(chunk)
        except httpx.HTTPError as exc:
            raise unreachable(source, exc) from exc
