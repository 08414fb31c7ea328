"""FTP pull: every file in the source directory with a sidecar ``NAME.json`` holding its metadata.

The sidecar names the document (id, record_number, stay, type, title…); the revision is the
file's modification time and size from MLSD, so a replaced file is collected again.
"""
from __future__ import annotations

import ftplib
import io
import json
from pathlib import Path
from urllib.parse import urlparse

from bingan.ingest.connectors.base import Discovery, gone, unreachable
from bingan.ingest.connectors.http_pull import report_from
from bingan.ingest.items import source_visit_type
from bingan.ingest.secrets import open_credentials


class FtpConnector:
    def _connect(self, pipe, source) -> tuple[ftplib.FTP, str]:
        url = urlparse(source.endpoint)
        creds = open_credentials(pipe.settings, source.credentials)
        ftp = ftplib.FTP()
        ftp.connect(url.hostname or "127.0.0.1", url.port or 21, timeout=30)
        ftp.login(creds.get("username", "anonymous"), creds.get("password", ""))
        return ftp, url.path or "/"

    def discover(self, pipe, source, cursor: str) -> Discovery:
        try:
            ftp, folder = self._connect(pipe, source)
            with ftp:
                ftp.cwd(folder)
                facts = {name: f for name, f in ftp.mlsd(facts=["type", "size", "modify"]) if f.get("type") == "file"}
                reports = []
                for name, fact in sorted(facts.items()):
                    if name.endswith(".json") or name + ".json" not in facts:
                        continue
                    buffer = io.BytesIO()
                    ftp.retrbinary(f"RETR {name}.json", buffer.write)
                    entry = json.loads(buffer.getvalue())
                    entry.setdefault("filename", name)
                    entry["revision"] = f"{fact.get('modify', '')}-{fact.get('size', '')}"
                    report = report_from(entry, visit_type=source_visit_type(source))
                    report.metadata["path"] = f"{folder.rstrip('/')}/{name}"
                    reports.append(report)
        except ftplib.all_errors as exc:
            raise unreachable(source, exc) from exc
        return Discovery(reports, cursor)

    def fetch(self, pipe, source, item, dest: Path) -> None:
        path = item.item_metadata.get("path") or item.filename
        try:
            ftp, _ = self._connect(pipe, source)
            with ftp, open(dest, "wb") as out:
                ftp.retrbinary(f"RETR {path}", out.write)
        except ftplib.error_perm as exc:
            raise gone(source, item.source_document_id) from exc
        except ftplib.all_errors as exc:
            raise unreachable(source, exc) from exc
