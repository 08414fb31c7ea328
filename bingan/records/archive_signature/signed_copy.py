"""The signed archive copy (签章归档副本, issue 18 item 4: "a PAdES signature with a trusted timestamp
on a signed archive copy"): with BINGAN_ARCHIVE_SIGNED_COPY, the signing job also makes one PDF of
the archived record — a cover listing the record and its documents, every current document's file
attached exactly as archived (PDF/A-3 style associated files: no re-rendering, nothing lost), the
signed manifest, and a file list ``manifest.json`` that ``bingan inspect`` checks — signed over all
of it by the same reviewer through the same signing port, with the TSA's timestamp. It travels on
its own: a court's expert opens it in a PDF reader or runs ``bingan inspect``, no database needed.

The detached CMS over the manifest stays the record's archive signature; the copy is checked beside
it by ``verify`` (its signature covers the whole file, and it carries the very manifest signed).
"""
from __future__ import annotations

import io
import json
import mimetypes
from pathlib import PurePosixPath

from bingan.clock import local
from bingan.errors import Refusal
from bingan.formats.pades import MANIFEST_NAME, Attachment, attach_files, sha256
from bingan.storage.blobs.port import BlobStore
from bingan.storage.models import Document, Record

FILENAME = "签章归档副本.pdf"
SIGNED_MANIFEST = "归档签章清单.json"  # the manifest's bytes, as the detached CMS signed them
CID_FONT = "STSong-Light"  # reportlab's built-in CID font: no font file to ship
LEFT, TOP, BOTTOM, LINE = 50, 780, 60, 16


def unsigned_copy(blobs: BlobStore, record: Record, documents: list[Document], manifest: bytes,
                  signer: str) -> bytes:
    """The copy before its signature: cover pages and the attached files."""
    attachments, listing = [], []
    for number, document in enumerate(documents, start=1):
        version = document.current_version
        with blobs.open(version.sha256) as stream:
            data = stream.read()
        if sha256(data) != version.sha256:  # checked a moment ago; never sign a file that is not what it says
            raise Refusal(f"不能生成签章归档副本：文书《{document.title}》的文件已损坏")
        name = f"{number:03d}-{_safe(document.title)}{_suffix(version.filename, version.media_type)}"
        attachments.append(Attachment(name, data, version.media_type, document.title))
        listing.append({"file": name, "sha256": version.sha256, "size": len(data), "document_id": document.id,
                        "title": document.title, "version": version.number, "pages": version.page_count})
    attachments.append(Attachment(SIGNED_MANIFEST, manifest, "application/json", "归档签章清单（已签名）"))
    listing.append({"file": SIGNED_MANIFEST, "sha256": sha256(manifest), "size": len(manifest)})
    files = json.dumps({"record_number": record.record_number, "stay": record.stay_number, "files": listing},
                       ensure_ascii=False, indent=1).encode()
    attachments.append(Attachment(MANIFEST_NAME, files, "application/json", "附件清单（SHA-256）"))
    return attach_files(cover(record, documents, json.loads(manifest)["hospital"], signer), attachments)


def cover(record: Record, documents: list[Document], hospital: str, signer: str) -> bytes:
    """A4 pages: the record's identity, who signed, and each document with its SHA-256."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    if CID_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CID_FONT))
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4, invariant=1)
    pdf.setTitle(f"病案归档签章副本 {record.record_number}")
    lines = [(16, f"{hospital}  病案归档签章副本"), (11, ""),
             (11, f"病案号：{record.record_number}    住院次数：第{record.stay_number}次"),
             (11, f"患者姓名：{record.patient.name if record.patient else '-'}"),
             (11, f"归档时间：{local(record.archived_at):%Y-%m-%d %H:%M}" if record.archived_at else "归档时间：-"),
             (11, f"签章人：{signer}"), (11, ""),
             (11, f"文书 {len(documents)} 份（附件为归档时的原始文件，SHA-256 摘要）：")]
    for number, document in enumerate(documents, start=1):
        version = document.current_version
        lines += [(10, f"{number}. {document.title}（第{version.number}版，{version.page_count} 页）"),
                  (8, f"   {version.sha256}")]
    lines += [(11, ""), (10, "本文件的电子签章覆盖全部内容与附件；附件“归档签章清单.json”即归档签章所签的清单。")]
    y = TOP
    for size, text in lines:
        if y < BOTTOM:
            pdf.showPage()
            y = TOP
        pdf.setFont(CID_FONT, size)
        pdf.drawString(LEFT, y, text[:90])
        y -= max(LINE * size / 11, 12)
    pdf.showPage()
    pdf.save()
    return out.getvalue()


def _safe(name: str) -> str:
    return "".join("_" if char in '\\/:*?"<>|' else char for char in name)[:60] or "文书"


def _suffix(filename: str, media_type: str) -> str:
    return PurePosixPath(filename).suffix or mimetypes.guess_extension(media_type or "") or ".bin"
