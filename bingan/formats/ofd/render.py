"""OFD -> PDF with reportlab, and page images through pypdfium2.

Text always survives: an embedded OFD font is used only when reportlab can load it and it
maps every character of the run; otherwise the CID font STSong-Light is used, which needs no
font file (pdfium and PDF viewers substitute an installed CJK font such as Noto CJK).
"""
from __future__ import annotations

import atexit
import hashlib
import io
import threading
from collections.abc import Iterable
from itertools import pairwise

import pypdfium2 as pdfium
from fontTools.ttLib import TTFont as ToolsFont
from PIL import Image
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.pdfdoc import (
    PDFAxialShading,
    PDFExponentialFunction,
    PDFRadialShading,
    PDFStitchingFunction,
)
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas as rl_canvas

from bingan.formats.base import FormatError
from bingan.formats.ofd import geometry as g
from bingan.formats.ofd import images
from bingan.formats.ofd.paint import RGB, Shading
from bingan.formats.ofd.reader import Clip, ImageItem, Item, OfdDocument, PathItem, TextItem

FALLBACK_FONT = "STSong-Light"
MAX_SEAL_DEPTH = 2  # a seal is an OFD; a seal inside a seal is the limit seen in practice
MAX_RENDER_PIXELS = 60_000_000
_FONT_LOCK = threading.Lock()
_FONTS: dict[str, tuple[str, frozenset[int]] | None] = {}  # sha1 of font file -> registration


def _fallback() -> str:
    with _FONT_LOCK:
        if FALLBACK_FONT not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(UnicodeCIDFont(FALLBACK_FONT))
    return FALLBACK_FONT


def _register(data: bytes) -> tuple[str, frozenset[int]] | None:
    """Register an embedded TrueType font once per process; None when reportlab can't use it."""
    key = hashlib.sha1(data).hexdigest()
    with _FONT_LOCK:
        if key in _FONTS:
            return _FONTS[key]
        entry = None
        try:
            tools = ToolsFont(io.BytesIO(data), lazy=True)
            # reportlab embeds only TrueType outlines; CFF fonts go to the fallback.
            if "glyf" in tools:
                cmap = frozenset((tools.getBestCmap() or {}).keys())
                name = f"OFD-{key[:16]}"
                pdfmetrics.registerFont(TTFont(name, io.BytesIO(data)))
                entry = (name, cmap)
        except Exception:
            entry = None
        _FONTS[key] = entry
        return entry


class Painter:
    """Draws OFD items onto a reportlab canvas whose user space is OFD page millimetres."""

    def __init__(self, c: rl_canvas.Canvas) -> None:
        self.c = c
        self._images: dict[tuple[int, str], ImageReader | None] = {}
        self._fonts: dict[tuple[int, str], tuple[str, frozenset[int]] | None] = {}
        self._coders: dict[str, GlyphCoder] = {}

    # -- fonts ------------------------------------------------------------------------------------
    def font(self, doc: OfdDocument, font_id: str, text: str) -> str:
        key = (id(doc), font_id)
        if key not in self._fonts:
            res = doc.fonts.get(font_id)
            entry = None
            if res is not None and res.path:
                try:
                    entry = _register(doc.pkg.read(res.path))
                except FormatError:
                    entry = None
            self._fonts[key] = entry
        entry = self._fonts[key]
        if entry and all(ord(ch) in entry[1] for ch in text):
            return entry[0]
        return _fallback()

    # -- items ------------------------------------------------------------------------------------
    def draw(self, doc: OfdDocument, items: Iterable[Item]) -> None:
        for item in items:
            self.c.saveState()
            try:
                self._clip(item.clips)
                if isinstance(item, TextItem):
                    self._text(doc, item)
                elif isinstance(item, PathItem):
                    self._path(item)
                else:
                    self._image(doc, item)
            finally:
                self.c.restoreState()

    def _pdf_path(self, segs: list[g.Segment]):
        p = self.c.beginPath()
        for seg in segs:
            op = seg[0]
            if op == "M":
                p.moveTo(seg[1], seg[2])
            elif op == "L":
                p.lineTo(seg[1], seg[2])
            elif op == "C":
                p.curveTo(*seg[1:7])
            else:
                p.close()
        return p

    def _clip(self, clips: list[Clip]) -> None:
        for clip in clips:  # successive clips intersect
            self.c.clipPath(self._pdf_path(clip.path), stroke=0, fill=0)

    def _path(self, item: PathItem) -> None:
        c = self.c
        fill_mode = 0 if item.even_odd else 1
        fill = item.fill
        shading = item.fill_paint.shading if fill else None
        if shading is not None:
            self._shade(item, shading, fill_mode)
            fill = False
        if not (fill or item.stroke):
            return
        fp, sp = item.fill_paint, item.stroke_paint
        c.setFillColorRGB(*fp.rgb, alpha=fp.alpha)
        c.setStrokeColorRGB(*sp.rgb, alpha=sp.alpha)
        if item.stroke:
            self._stroke_style(item)
        c.drawPath(self._pdf_path(item.path), stroke=int(item.stroke), fill=int(fill),
                   fillMode=fill_mode)

    def _stroke_style(self, item: PathItem) -> None:
        c = self.c
        c.setLineWidth(max(item.line_width, 0.05))
        if item.cap:
            c.setLineCap(item.cap)
        if item.join:
            c.setLineJoin(item.join)
        else:  # OFD's miter limit (4.234) is not PDF's default (10)
            c.setMiterLimit(max(1.0, item.miter))
        if item.dash:
            c.setDash(item.dash[0], item.dash[1])

    def _shade(self, item: PathItem, shading: Shading, fill_mode: int) -> None:
        """Paint a gradient inside the path: clip to it, then draw in the object's space."""
        c = self.c
        c.saveState()
        c.clipPath(self._pdf_path(item.path), stroke=0, fill=0, fillMode=fill_mode)
        c.transform(*item.matrix)
        if item.fill_paint.alpha < 1:
            c.setFillAlpha(item.fill_paint.alpha)
        c.shade(_pdf_shading(shading))
        c.restoreState()

    def _text(self, doc: OfdDocument, item: TextItem) -> None:
        c = self.c
        c.transform(*item.matrix)
        fp, sp = item.fill_paint, item.stroke_paint
        c.setFillColorRGB(*fp.rgb, alpha=fp.alpha)  # a shaded text fill: its average colour
        c.setStrokeColorRGB(*sp.rgb, alpha=sp.alpha)
        # Fill="false" text (scanned pages' OCR layer) stays searchable: render mode 3.
        mode = {(True, False): 0, (False, True): 1, (True, True): 2}.get((item.fill, item.stroke), 3)
        t = c.beginText()
        code = t._code  # raw operators: reportlab's per-glyph API costs ~70 µs a glyph
        code.append(f"{mode} Tr")
        for run in item.runs:
            coder = self._coder(self.font(doc, item.font_id, run.text))
            code.append(coder.run(run.text, run.xs, run.ys, item.size, item.hscale))
        c.drawText(t)

    def _coder(self, font_name: str) -> GlyphCoder:
        coder = self._coders.get(font_name)
        if coder is None:
            coder = self._coders[font_name] = GlyphCoder(self.c, font_name)
        return coder

    def _reader(self, doc: OfdDocument, res_id: str) -> ImageReader | None:
        key = (id(doc), res_id)
        if key not in self._images:
            self._images[key] = None
            path = doc.media.get(res_id)
            if path:
                try:
                    self._images[key] = _image_reader(doc.pkg.read(path))
                except Exception:
                    self._images[key] = None
        return self._images[key]

    def _image(self, doc: OfdDocument, item: ImageItem) -> None:
        reader = self._reader(doc, item.resource_id)
        if reader is None:
            return
        if item.alpha < 1:
            self.c.setFillAlpha(item.alpha)
        self._unit_image(reader, item.matrix)

    def _unit_image(self, reader: ImageReader, matrix: g.Matrix) -> None:
        c = self.c
        c.transform(*matrix)
        c.transform(1, 0, 0, -1, 0, 1)  # image rows run top-down in OFD space
        c.drawImage(reader, 0, 0, 1, 1, mask="auto")

    # -- seals ------------------------------------------------------------------------------------
    def stamp(self, box: tuple[float, float, float, float], kind: str, data: bytes,
              depth: int) -> None:
        if images.kind(data) == "ofd" or kind == "ofd":
            self._nested_ofd(box, data, depth)
            return
        try:
            reader = _image_reader(data)
        except Exception:
            return
        self.c.saveState()
        self._unit_image(reader, (box[2], 0, 0, box[3], box[0], box[1]))
        self.c.restoreState()

    def _nested_ofd(self, box: tuple[float, float, float, float], data: bytes, depth: int) -> None:
        if depth >= MAX_SEAL_DEPTH:
            return
        try:
            seal = OfdDocument(data)
            page = seal.page(1)
        except FormatError:
            return
        bx, by, bw, bh = page.box
        c = self.c
        c.saveState()
        c.transform(box[2] / bw, 0, 0, box[3] / bh, box[0] - bx * box[2] / bw,
                    box[1] - by * box[3] / bh)
        self.draw(seal, page.items)
        self.page_extras(seal, 1, depth + 1)
        c.restoreState()

    def page_extras(self, doc: OfdDocument, number: int, depth: int = 0) -> None:
        """Annotations, then the seal pictures of signatures, above the page content."""
        try:
            annots = doc.annotation_items(number)
        except FormatError:
            annots = []  # annotations are optional; a broken file must not lose the page
        self.draw(doc, annots)
        from bingan.formats.ofd.signature import stamps

        page_id = doc.pages[number - 1].id
        for st in stamps(doc):
            if st.page_id == page_id:
                self.stamp(st.box, st.picture.kind, st.picture.data, depth)


class GlyphCoder:
    """PDF text operators for one font, written directly.

    A run on one baseline becomes a single TJ with kerning that reproduces the OFD glyph
    positions (pdfium renders one text object per Tj, so per-glyph Tj halves its speed).
    """

    def __init__(self, c: rl_canvas.Canvas, font_name: str) -> None:
        self.c = c
        self.doc = c._doc
        self.name = font_name
        self.font = pdfmetrics.getFont(font_name)
        self.cid = not getattr(self.font, "_dynamicFont", False)
        self._glyphs: dict[str, tuple[str, str, float]] = {}  # ch -> (font ref, token, width em)

    def glyph(self, ch: str) -> tuple[str, str, float]:
        found = self._glyphs.get(ch)
        if found is None:
            width = pdfmetrics.stringWidth(ch, self.name, 1.0)
            if self.cid:
                code = ord(ch) if ord(ch) < 0x10000 else 0x3013  # 〓 for what UCS-2 lacks
                found = (self.doc.getInternalFontName(self.name), f"<{code:04X}>", width)
            else:
                sub, raw = self.font.splitString(ch, self.doc)[0]
                found = (self.font.getSubsetInternalName(sub, self.doc),
                         f"({self.c._escape(raw)})", width)
            self._glyphs[ch] = found
        return found

    def run(self, text: str, xs: list[float], ys: list[float], size: float, hs: float) -> str:
        glyphs = [self.glyph(ch) for ch in text]
        one_font = all(gl[0] == glyphs[0][0] for gl in glyphs)
        if one_font and all(y == ys[0] for y in ys) and size > 0 and hs > 0:
            return self._tj(glyphs, xs, ys[0], size, hs)
        parts = []
        for (ref, token, _), x, y in zip(glyphs, xs, ys, strict=False):
            # Page space runs downwards; the glyph is flipped back upright.
            parts.append(f"{ref} {size:.4g} Tf {hs:.4g} 0 0 -1 {x:.3f} {y:.3f} Tm {token} Tj")
        return " ".join(parts)

    def _tj(self, glyphs: list[tuple[str, str, float]], xs: list[float], y: float, size: float,
            hs: float) -> str:
        items = []
        for i, (_, token, width) in enumerate(glyphs):
            items.append(token)
            if i + 1 < len(glyphs):
                # TJ displacement is (w - adj/1000) * size * hs; choose adj to land on xs[i+1].
                adj = (width - (xs[i + 1] - xs[i]) / (size * hs)) * 1000
                if abs(adj) > 0.05:
                    items.append(f"{adj:.1f}")
        return (f"{glyphs[0][0]} {size:.4g} Tf {hs:.4g} 0 0 -1 {xs[0]:.3f} {y:.3f} Tm "
                f"[{' '.join(items)}] TJ")


def _pdf_shading(shading: Shading) -> PDFAxialShading | PDFRadialShading:
    extend = "[{} {}]".format(*("true" if e else "false" for e in shading.extend))
    kind = PDFAxialShading if shading.kind == "axial" else PDFRadialShading
    return kind(*shading.coords, Function=_color_function(shading.stops),
                ColorSpace="DeviceRGB", Extend=extend)


def _color_function(stops: list[tuple[float, RGB]]) -> PDFStitchingFunction:
    """Linear interpolation between the stops over 0..1, flat before the first and after the last."""
    stops = [(0.0, stops[0][1]), *stops, (1.0, stops[-1][1])]
    pieces = [(p0, c0, c1) for (p0, c0), (p1, c1) in pairwise(stops)
              if p1 > p0]
    if not pieces:  # every stop at one position: a flat colour
        pieces = [(0.0, stops[-1][1], stops[-1][1])]
    functions = [PDFExponentialFunction(C0=list(c0), C1=list(c1), N=1) for _, c0, c1 in pieces]
    bounds = [p0 for p0, _, _ in pieces[1:]]
    return PDFStitchingFunction(functions, bounds, [0, 1] * len(pieces), Domain="[0 1]")


def _image_reader(data: bytes) -> ImageReader:
    if images.kind(data) == "jpeg":
        img = Image.open(io.BytesIO(data))
        if img.mode in ("RGB", "L") and img.width * img.height <= images.MAX_PIXELS:
            return ImageReader(io.BytesIO(data))  # reportlab embeds JPEG as is
    img = images.decode(data)
    if img.mode in ("P", "LA", "PA") or (img.mode == "RGBA"):
        img = img.convert("RGBA")
    elif img.mode not in ("RGB", "L"):
        img = img.convert("RGB")
    return ImageReader(img)


def document_pdf(doc: OfdDocument) -> bytes:
    buf = io.BytesIO()
    c = rl_canvas.Canvas(buf, pageCompression=1)
    c.setCreator("Bingan OFD")
    title = doc.info("Title")
    if title:
        c.setTitle(title)
    painter = Painter(c)
    for number in range(1, len(doc.pages) + 1):
        page = doc.page(number)
        bx, by, bw, bh = page.box
        k = g.MM_TO_PT
        c.setPageSize((bw * k, bh * k))
        c.saveState()
        c.transform(k, 0, 0, -k, -bx * k, bh * k + by * k)
        painter.draw(doc, page.items)
        painter.page_extras(doc, number)
        c.restoreState()
        c.showPage()
    if not doc.pages:
        c.showPage()
    c.save()
    return buf.getvalue()


def render_pdf_page(pdf: bytes, page_number: int, dpi: float = 150) -> Image.Image:
    if not 0 < dpi <= 1200:
        raise FormatError("渲染分辨率超出范围", f"dpi {dpi}")
    with images._PDFIUM_LOCK:
        doc = _open_pdf(pdf)
        if not 1 <= page_number <= len(doc):
            raise FormatError("页码超出范围", f"page {page_number} of {len(doc)}")
        page = doc[page_number - 1]
        w, h = page.get_size()
        scale = dpi / 72
        if w * h * scale * scale > MAX_RENDER_PIXELS:
            raise FormatError("页面过大，无法按该分辨率渲染", f"{w}x{h}pt at {dpi} dpi")
        return page.render(scale=scale).to_pil()


_OPEN: list[tuple[bytes, pdfium.PdfDocument]] = []


@atexit.register
def _close_open() -> None:
    while _OPEN:
        _OPEN.pop()[1].close()


def _open_pdf(pdf: bytes) -> pdfium.PdfDocument:
    """Keep the last converted document open: rendering page after page reuses it."""
    if _OPEN and _OPEN[0][0] is pdf:
        return _OPEN[0][1]
    doc = pdfium.PdfDocument(pdf)
    if _OPEN:
        _OPEN.pop()[1].close()
    _OPEN.append((pdf, doc))
    return doc
