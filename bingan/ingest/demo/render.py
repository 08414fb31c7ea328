"""Demo documents as files: born-digital PDF (text and bordered tables), scanned PDF, OFD."""

from __future__ import annotations

import io
from pathlib import Path

from bingan.ingest.demo.documents import HOSPITAL, DemoDocument
from bingan.ingest.demo.hospital import DemoRecord

CID_FONT = "STSong-Light"
OFD_DPI = 96  # the OFD page image; its invisible text layer carries the searchable text
LEFT, WIDTH, LINE_HEIGHT = 50, 495, 21


def pdf_bytes(document: DemoDocument, record: DemoRecord) -> bytes:
    """Born-digital PDF with a Chinese text layer (reportlab's built-in CID font)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    if CID_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CID_FONT))
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4, invariant=1)
    pdf.setTitle(document.title)
    for number, lines in enumerate(document.pages, start=1):
        pdf.setFont(CID_FONT, 10)
        pdf.drawString(LEFT, A4[1] - 40, f"{HOSPITAL}  {record.name}  病案号 {record.record_number}  第{number}页")
        y = A4[1] - 72
        for line in lines:
            if isinstance(line, tuple):
                _row(pdf, line, y)
            else:
                pdf.setFont(CID_FONT, 12)
                pdf.drawString(LEFT + 10, y, line)
            y -= LINE_HEIGHT
        pdf.showPage()
    pdf.save()
    return out.getvalue()


def _row(pdf, cells: tuple[str, ...], y: float) -> None:
    """One table row: cell widths in proportion to their text, the font shrunk until it fits."""
    weights = [max(len(cell), 3) for cell in cells]
    x = LEFT
    for cell, weight in zip(cells, weights, strict=True):
        width = WIDTH * weight / sum(weights)
        pdf.rect(x, y - 6, width, LINE_HEIGHT, stroke=1, fill=0)
        size = min(10.0, (width - 4) / max(len(cell), 1))
        pdf.setFont(CID_FONT, size)
        pdf.drawString(x + 2, y, cell)
        x += width


def scanned_pdf_bytes(document: DemoDocument, record: DemoRecord) -> bytes:
    """The same pages as images only (a scanned paper record: needs OCR)."""
    import pypdfium2 as pdfium
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    source = pdfium.PdfDocument(pdf_bytes(document, record))
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4, invariant=1)
    for index in range(len(source)):
        image = source[index].render(scale=200 / 72).to_pil().convert("L")
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=80)
        pdf.drawImage(ImageReader(io.BytesIO(buffer.getvalue())), 0, 0, width=A4[0], height=A4[1])
        pdf.showPage()
    source.close()
    pdf.save()
    return out.getvalue()


def ofd_bytes(document: DemoDocument, record: DemoRecord) -> bytes:
    """The same pages as OFD: a page image plus the positioned text (as LIS/ECG systems deliver)."""
    from bingan.formats.document import open_document
    from bingan.formats.ofd import write_ofd

    with open_document(pdf_bytes(document, record), "application/pdf") as pdf:
        pages = [(pdf.render(t.number, dpi=OFD_DPI).convert("L"), t) for t in pdf.page_texts(ocr=False)]
    return write_ofd(pages, title=document.title)


def document_bytes(document: DemoDocument, record: DemoRecord) -> bytes:
    if document.kind == "scan":
        return scanned_pdf_bytes(document, record)
    if document.kind == "ofd":
        return ofd_bytes(document, record)
    return pdf_bytes(document, record)


def write_files(records: list[DemoRecord], folder: Path) -> list[Path]:
    """Born-digital PDFs on disk (bench input)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for record in records:
        for document in record.documents:
            path = folder / f"{document.source_id}.pdf"
            path.write_bytes(pdf_bytes(document, record))
            paths.append(path)
    return paths
