"""OFD benchmark: text pages/s and render ms/page at 150 dpi, against the same pages as PDF.

The PDF twin carries the same lines at the same positions in the same font (reportlab,
STSong-Light), read with bare pypdfium2, so the ratio isolates what the OFD path costs.

    .venv/bin/python bench/ofd.py [--pages 20] [--docs 3] [--repeat 5]
"""
from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

import pypdfium2 as pdfium
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "fixtures")]

import ofd_gen as gen  # noqa: E402

from bingan.formats import ofd  # noqa: E402

MM = 72 / 25.4
SIZE, TOP, GAP = 3.5, 15.0, 6.5


def page_lines(doc: int, page: int) -> list[str]:
    """40 lines of a progress note: a dense, typical text page."""
    return [f"{doc}-{page}-{i:02d} 患者主诉咳嗽三天伴发热，体温最高38.5℃，查体双肺呼吸音粗。"
            for i in range(40)]


def make_ofd(doc: int, pages: int) -> bytes:
    b = gen.OfdBuilder(title=f"基准 {doc}")
    for p in range(pages):
        b.pages.append(gen.text_page(page_lines(doc, p), top=TOP, size=SIZE, gap=GAP))
    return b.build()


def make_pdf(doc: int, pages: int) -> bytes:
    if "STSong-Light" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(210 * MM, 297 * MM))
    for p in range(pages):
        c.setFont("STSong-Light", SIZE * MM)
        for i, line in enumerate(page_lines(doc, p)):
            c.drawString(20 * MM, (297 - TOP - i * GAP) * MM, line)
        c.showPage()
    c.save()
    return buf.getvalue()


def ofd_text(data: bytes) -> int:
    ofd._CACHE.clear()  # measure a cold document, as ingest sees it
    return len(ofd.page_texts(data))


def ofd_render(data: bytes, dpi: float) -> int:
    ofd._CACHE.clear()  # the OFD->PDF conversion is part of the cost
    n = ofd.page_count(data)
    for page in range(1, n + 1):
        ofd.render_page(data, page, dpi).tobytes()
    return n


def pdf_text(data: bytes) -> int:
    doc = pdfium.PdfDocument(data)
    for page in doc:
        page.get_textpage().get_text_range()
    n = len(doc)
    doc.close()
    return n


def pdf_render(data: bytes, dpi: float) -> int:
    doc = pdfium.PdfDocument(data)
    for page in doc:
        page.render(scale=dpi / 72).to_pil().tobytes()
    n = len(doc)
    doc.close()
    return n


def timed(fn, docs: list[bytes], repeat: int, *args: float) -> list[float]:
    """Seconds per page for each repeat over all documents."""
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        pages = sum(fn(d, *args) for d in docs)
        out.append((time.perf_counter() - t0) / pages)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=20)
    ap.add_argument("--docs", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--dpi", type=float, default=150)
    args = ap.parse_args()
    ofds = [make_ofd(d, args.pages) for d in range(args.docs)]
    pdfs = [make_pdf(d, args.pages) for d in range(args.docs)]
    ofd_render(ofds[0], args.dpi)  # warm-up: fonts, pdfium font mapper
    pdf_render(pdfs[0], args.dpi)
    rows = {
        "ofd_text": statistics.median(timed(ofd_text, ofds, args.repeat)),
        "pdf_text": statistics.median(timed(pdf_text, pdfs, args.repeat)),
        "ofd_render": statistics.median(timed(ofd_render, ofds, args.repeat, args.dpi)),
        "pdf_render": statistics.median(timed(pdf_render, pdfs, args.repeat, args.dpi)),
    }
    total = args.docs * args.pages
    print(f"{args.docs} documents x {args.pages} pages (40 lines, ~1,500 CJK glyphs/page), "
          f"median of {args.repeat}")
    print(f"text   OFD {1 / rows['ofd_text']:7.0f} pages/s | PDF (pypdfium2) "
          f"{1 / rows['pdf_text']:7.0f} pages/s | OFD/PDF speed {rows['pdf_text'] / rows['ofd_text']:.2f}")
    print(f"render OFD {rows['ofd_render'] * 1000:7.1f} ms/page | PDF (pypdfium2) "
          f"{rows['pdf_render'] * 1000:7.1f} ms/page | OFD/PDF time "
          f"{rows['ofd_render'] / rows['pdf_render']:.2f} (at {args.dpi:g} dpi, {total} pages)")
    targets = (1 / rows["ofd_text"] >= 100, rows["ofd_render"] * 1000 <= 60)
    print(f"targets: text >= 100 pages/s {'met' if targets[0] else 'MISSED'}; "
          f"render <= 60 ms/page {'met' if targets[1] else 'MISSED'}")


if __name__ == "__main__":
    main()
