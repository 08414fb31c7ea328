"""Office documents: LibreOffice conversion, Tika text, and the clear "unsupported" reason."""
from __future__ import annotations

import io
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from bingan.formats import office
from bingan.formats.base import FormatError
from bingan.formats.document import open_document

pytestmark = pytest.mark.timeout(240)

_BODY = ('<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
         '<w:p><w:r><w:t>出院记录：2型糖尿病</w:t></w:r></w:p></w:body></w:document>')


def _docx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.wordprocessingml.document.main+xml"/></Types>'))
        archive.writestr("_rels/.rels", (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="r1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            'relationships/officeDocument" Target="word/document.xml"/></Relationships>'))
        archive.writestr("word/document.xml", _BODY)
    return out.getvalue()


class _FakeTika(BaseHTTPRequestHandler):
    """Stands in for Apache Tika's PUT /tika (text/plain answer)."""

    def do_PUT(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        body = "出院记录：2型 糖 尿 病\n".encode()
        self.send_response(200 if self.path == "/tika" else 404)
        self.send_header("Content-Type", "text/plain; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def tika(monkeypatch):
    server = HTTPServer(("127.0.0.1", 0), _FakeTika)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("BINGAN_TIKA_URL", f"http://127.0.0.1:{server.server_port}")
    yield
    server.shutdown()


@pytest.mark.skipif(not office.can_render(), reason="LibreOffice is not installed")
def test_docx_converted_by_libreoffice(monkeypatch):
    monkeypatch.delenv("BINGAN_TIKA_URL", raising=False)
    document = open_document(_docx())
    assert document.page_count() == 1
    assert "2型糖尿病" in document.page_texts(ocr=False)[0].text
    assert document.render(1, dpi=50).width > 100


def test_tika_text_used_when_configured(tika):
    assert office.tika_text(_docx()).startswith("出院记录：2型 糖 尿 病")
    assert open_document(_docx()).page_texts(ocr=False)[0].text.startswith("出院记录：2型糖尿病")


def test_without_libreoffice_or_tika_the_reason_is_clear(monkeypatch):
    monkeypatch.delenv("BINGAN_TIKA_URL", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(FormatError, match="LibreOffice 或配置 Tika"):
        open_document(_docx())
