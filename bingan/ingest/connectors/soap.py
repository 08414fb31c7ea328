"""WebService/SOAP pull with zeep: the WSDL at ``endpoint`` offers two operations.

  ListChangedDocuments(since: string) -> {cursor, documents: [DocumentInfo]}
  GetDocument(id: string, revision: string) -> base64Binary
Operation names can be renamed per source: options {"list_operation": ..., "get_operation": ...}.
"""
from __future__ import annotations

from pathlib import Path

from bingan.ingest.connectors.base import Discovery, gone, unreachable
from bingan.ingest.connectors.http_pull import report_from
from bingan.ingest.items import source_visit_type
from bingan.ingest.secrets import open_credentials


class SoapConnector:
    def _client(self, pipe, source):
        import zeep
        from zeep.transports import Transport

        creds = open_credentials(pipe.settings, source.credentials)
        transport = Transport(timeout=30, operation_timeout=60)
        if creds.get("username"):
            from requests.auth import HTTPBasicAuth

            transport.session.auth = HTTPBasicAuth(creds["username"], creds["password"])
        return zeep.Client(source.endpoint, transport=transport)

    def discover(self, pipe, source, cursor: str) -> Discovery:
        import zeep.helpers

        try:
            client = self._client(pipe, source)
            result = getattr(client.service, source.options.get("list_operation", "ListChangedDocuments"))(cursor)
        except Exception as exc:  # zeep raises transport, fault and XML errors alike
            raise unreachable(source, exc) from exc
        body = zeep.helpers.serialize_object(result, dict)
        entries = (body.get("documents") or {}).get("DocumentInfo") or [] if isinstance(body, dict) else []
        visit = source_visit_type(source)
        return Discovery([report_from(dict(e), visit_type=visit) for e in entries], str(body.get("cursor") or cursor))

    def fetch(self, pipe, source, item, dest: Path) -> None:
        from zeep.exceptions import Fault

        try:
            client = self._client(pipe, source)
            data = getattr(client.service, source.options.get("get_operation", "GetDocument"))(
                item.source_document_id, item.revision)
        except Fault as exc:
            raise gone(source, item.source_document_id) from exc
        except Exception as exc:
            raise unreachable(source, exc) from exc
        dest.write_bytes(data or b"")
