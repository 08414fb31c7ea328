"""PDF: pypdfium2 first (fast, text with positions, rendering); for files it cannot open a
pikepdf (qpdf) repair, then pdfminer text only; encrypted files reported, never crashed on."""
from __future__ import annotations

import ctypes
import io
import logging
import re
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from bingan.formats import guard, quality, wraps
from bingan.formats.base import FormatError, Metadata, PageText, Signature, TextBox

log = logging.getLogger(__name__)

# PDFium is not thread-safe: every call into it (ours and the OFD renderer's) holds this lock.
PDFIUM_LOCK = threading.RLock()
# Another thread may be inside PDFium (the GIL is released there) when a guarded document
# forks its child: holding the lock across fork hands the child a library at rest.
guard.hold_across_fork(PDFIUM_LOCK)

DEFAULT_DPI = 150
MAX_RENDER_PIXELS = 120_000_000  # ~A0 at 300 dpi; more is a hostile or broken page size
# Enough to see one typed line on a scanned page: at 24 dpi a 12 pt line blurred into grey
# and the page was taken for blank.
INK_CHECK_DPI = quality.INK_CHECK_DPI
UNMAPPED_SAMPLE = 64  # characters per page checked for a missing Unicode mapping
# A page that is one picture (>= SCAN_COVER of its area) with fewer sound characters of text
# than LABEL_CHARS is a scan with a label; born-digital pages with a figure have their
# figure beside the text, or a caption longer than that.
SCAN_COVER = 0.8
LABEL_CHARS = 40
MAX_PAGES = 100_000
# Two characters on a line stand in separate fields (table cells, "姓名：张三    性别：男")
# when the gap between their advance boxes is at least this share of the line height (the
# loose boxes are ~1.1 em high, so ~0.8 em: a typed ideographic space, 1 em, counts;
# letter spacing and justified text stay below), or at least this many of the font's own
# space widths (two typed spaces: PDFium reports runs of spaces as one character).
FIELD_GAP_HEIGHTS = 0.75
FIELD_GAP_SPACES = 1.5
# Whitespace with a CJK character on one side: normalisation would drop it, so the geometry
# decides whether it separates fields. Latin words keep their space either way.
_CJK_GAP = re.compile(rf"(?<=[{quality.CJK_MARK}])[{quality.BLANK}]+(?=\S)"
                      rf"|(?<=\S)[{quality.BLANK}]+(?=[{quality.CJK_MARK}])")

ENCRYPTED_MESSAGE = "PDF 已加密，需要密码才能打开，无法读取内容"
DAMAGED_MESSAGE = "PDF 文件已损坏，无法打开"
UNPARSABLE_SIGNATURE = "签名数据无法解析，无法验证"

SourceType = bytes | Path


class PdfFile:
    """An opened PDF. ``mode`` is "pdfium" (full) or "text-only" (pdfminer rescued the text,
    nothing can be rendered)."""

    def __init__(self, source: SourceType) -> None:
        self._source = source
        self._doc: pdfium.PdfDocument | None = None
        self._text_only: list[PageText] | None = None
        self.repaired = False
        self.mode = "pdfium"
        self._open()

    # -- opening -------------------------------------------------------------------------

    def _open(self) -> None:
        first_error = self._try_pdfium(self._source)
        if first_error is None:
            return
        if _is_password_error(first_error):
            raise FormatError(ENCRYPTED_MESSAGE, str(first_error))
        repaired = _pikepdf_repair(self._source)
        if repaired is not None and self._try_pdfium(repaired) is None:
            self.repaired = True
            return
        self._text_only = _pdfminer_pages(self._source, str(first_error))
        self.mode = "text-only"

    def _try_pdfium(self, source: SourceType) -> pdfium.PdfiumError | None:
        try:
            with PDFIUM_LOCK:
                doc = pdfium.PdfDocument(source if isinstance(source, bytes) else str(source))
                count = len(doc)
        except pdfium.PdfiumError as exc:
            return exc
        if count <= 0 or count > MAX_PAGES:
            with PDFIUM_LOCK:
                doc.close()
            return pdfium.PdfiumError(f"implausible page count {count}")
        self._doc = doc
        return None

    def close(self) -> None:
        if self._doc is not None:
            with PDFIUM_LOCK:
                self._doc.close()
            self._doc = None

    # -- pages ---------------------------------------------------------------------------

    def page_count(self) -> int:
        if self._text_only is not None:
            return len(self._text_only)
        with PDFIUM_LOCK:
            return len(self._require_doc())

    def page_texts(self) -> list[PageText]:
        return [self.page_text(n) for n in range(1, self.page_count() + 1)]

    def page_text(self, number: int) -> PageText:
        """Text of one page with line boxes; ``needs_ocr`` set when the quality check fails."""
        self._check_number(number)
        if self._text_only is not None:
            return self._text_only[number - 1]
        with PDFIUM_LOCK:
            page = self._extract(number)
        page.needs_ocr = self._needs_ocr(page)
        return page

    def _extract(self, number: int) -> PageText:
        try:
            page = self._require_doc()[number - 1]
            textpage = page.get_textpage()
            try:
                height = page.get_height()
                raw = textpage.get_text_range()
                chars = _char_indices(raw, textpage.count_chars())
                spaced = _with_gaps(textpage, raw, chars)
                text = quality.normalize_cjk_spaces(_clean(spaced))
                lines = _lines(spaced, text)
                boxes, geometry = _line_boxes(textpage, raw, lines, chars, height)
                text = _unwrapped(text, geometry)
                unmapped = _unmapped(textpage) if text.strip() else 0
            finally:
                textpage.close()
                page.close()
        except pdfium.PdfiumError as exc:
            raise FormatError(f"PDF 第 {number} 页无法读取", str(exc)) from exc
        return PageText(number=number, text=text, boxes=boxes, source="text" if text.strip() else "none",
                        unmapped=unmapped)

    def _needs_ocr(self, page: PageText) -> bool:
        if page.text.strip():
            verdict = quality.check_text(page.text, page.unmapped)
            if verdict.needs_ocr:
                log.info("page %d needs OCR: %s", page.number, verdict.reason)
            return verdict.needs_ocr or self._labelled_scan(page)
        # No text: a scanned page has ink, a blank page has none.
        return quality.has_ink(self.render(page.number, dpi=INK_CHECK_DPI))

    def _labelled_scan(self, page: PageText) -> bool:
        """A picture covering the page under a few words of text (an archive's label, a
        scan date, a page number): the page's own words are in the picture."""
        if quality.sound_chars(page.text, page.unmapped) >= LABEL_CHARS:
            return False
        with PDFIUM_LOCK:
            covered = _picture_share(self._require_doc(), page.number)
        if covered < SCAN_COVER:
            return False
        log.info("page %d needs OCR: a full-page picture under %d characters of text", page.number, len(page.text))
        return True

    # -- rendering -----------------------------------------------------------------------

    def render(self, number: int, dpi: float | None = None, width: int | None = None) -> Image.Image:
        self._check_number(number)
        if self._doc is None:
            raise FormatError("PDF 文件已损坏，只能读取文字，无法生成页面图像", "text-only fallback")
        with PDFIUM_LOCK:
            page = self._doc[number - 1]
            try:
                scale = _scale(page.get_width(), page.get_height(), dpi, width)
                bitmap = page.render(scale=scale)
                image = bitmap.to_pil()
                image.load()
            except pdfium.PdfiumError as exc:
                raise FormatError(f"PDF 第 {number} 页无法显示", str(exc)) from exc
            finally:
                page.close()
        return image.convert("RGB") if image.mode != "RGB" else image

    # -- metadata ------------------------------------------------------------------------

    def metadata(self) -> Metadata:
        meta = Metadata(media_type="application/pdf", pages=self.page_count())
        meta.extra["reader"] = self.mode + ("+repaired" if self.repaired else "")
        if self._doc is None:
            return meta
        with PDFIUM_LOCK:
            info = self._doc.get_metadata_dict(skip_empty=True)
            meta.encrypted = pdfium_c.FPDF_GetSecurityHandlerRevision(self._doc) != -1
            count = pdfium_c.FPDF_GetSignatureCount(self._doc)
            listed = [_signature(pdfium_c.FPDF_GetSignatureObject(self._doc, i)) for i in range(max(count, 0))]
        # Outside the PDFium lock: pyHanko parses the file itself.
        meta.signatures = _verified(self._source, listed) if listed else []
        meta.producer = info.get("Producer", "")
        meta.title = info.get("Title", "")
        meta.created = parse_pdf_date(info.get("CreationDate", ""))
        for key in ("Creator", "Author", "Subject"):
            if info.get(key):
                meta.extra[key.lower()] = info[key]
        return meta

    # -- helpers -------------------------------------------------------------------------

    def _require_doc(self) -> pdfium.PdfDocument:
        if self._doc is None:
            raise FormatError(DAMAGED_MESSAGE, "document closed")
        return self._doc

    def _check_number(self, number: int) -> None:
        count = self.page_count()
        if not 1 <= number <= count:
            raise FormatError(f"页码 {number} 超出范围（共 {count} 页）", f"page {number} of {count}")


def _scale(width_pt: float, height_pt: float, dpi: float | None, width: int | None) -> float:
    if width_pt <= 0 or height_pt <= 0:
        raise FormatError("PDF 页面尺寸无效", f"{width_pt}x{height_pt}")
    scale = width / width_pt if width else (dpi or DEFAULT_DPI) / 72
    if scale <= 0 or width_pt * height_pt * scale * scale > MAX_RENDER_PIXELS:
        raise FormatError("页面图像尺寸过大，请降低分辨率", f"{width_pt}x{height_pt}pt at scale {scale}")
    return scale


def _clean(text: str) -> str:
    # PDFium ends lines with \r\n and marks soft hyphens / NULs from broken fonts.
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "").replace("\ufffe", "")


def _char_indices(raw: str, count: int) -> list[int] | None:
    """PDFium's character index of each character of its text, or None when they disagree.

    A character outside the BMP (𠮷, CJK extension B and later) is two PDFium characters, one
    per UTF-16 code unit, but one character of the text."""
    if len(raw) == count:
        return None  # the identity: most pages
    indices, index = [], 0
    for char in raw:
        indices.append(index)
        index += 2 if ord(char) > 0xFFFF else 1
    return indices if index == count else []


def _with_gaps(textpage: pdfium.PdfTextPage, raw: str, chars: list[int] | None) -> str:
    """Each whitespace run next to a CJK character as FIELD_GAP or one space, by geometry
    (only where text and character indices agree); line breaks stay where they are."""
    if chars == []:
        return raw
    return _CJK_GAP.sub(lambda run: _gap(textpage, _at(chars, run.start()) - 1, _at(chars, run.end())), raw)


def _at(chars: list[int] | None, index: int) -> int:
    return index if chars is None else chars[index]


def _gap(textpage: pdfium.PdfTextPage, left: int, right: int) -> str:
    """FIELD_GAP where the characters around a whitespace run stand apart, else one space."""
    _, low_left, before, high_left = textpage.get_charbox(left, loose=True)
    after, low_right, _, high_right = textpage.get_charbox(right, loose=True)
    gap = after - before  # negative on vertical or rotated text: no gap
    height = max(high_left - low_left, high_right - low_right)  # zero for some Type 3 fonts
    if height > 0 and gap >= FIELD_GAP_HEIGHTS * height:
        return quality.FIELD_GAP
    if gap >= FIELD_GAP_SPACES * _space_width(textpage, left + 1, right):
        return quality.FIELD_GAP
    return " "


def _space_width(textpage: pdfium.PdfTextPage, start: int, end: int) -> float:
    """Advance of a real (not PDFium-generated) space in the run; infinite when there is none."""
    for index in range(start, end):
        left, _, right, _ = textpage.get_charbox(index, loose=True)
        if right - left > 0:
            return right - left
    return float("inf")


_LINE = re.compile(r"[^\r\n]+")


def _lines(spaced: str, text: str) -> list[str]:
    """The page text's lines, one per line of PDFium's text (normalising never joins or
    splits lines; cleaning may empty one, then each line is normalised alone)."""
    lines = _LINE.findall(text)
    if len(lines) == len(_LINE.findall(spaced)):
        return lines
    return [quality.normalize_cjk_spaces(_clean(line)) for line in _LINE.findall(spaced)]


def _line_boxes(textpage: pdfium.PdfTextPage, raw: str, lines: list[str], chars: list[int] | None,
                height: float) -> tuple[list[TextBox], list[wraps.Line]]:
    """A box per field of each line: the rectangles PDFium makes of the line's characters;
    and each line's geometry for the soft-wrap rule (wraps.py; none when the text and
    character indices disagree: then every break stays hard).

    Asked line by line, by character range. Asking PDFium for the text inside each rectangle
    instead scans the whole page per rectangle and made long documents several times
    slower than reading their text; the text comes from the line itself: one part per field
    when the line has as many fields as rectangles, else the whole line in their union (a
    font change inside a line also starts a rectangle)."""
    if chars == []:
        return _bounded_boxes(textpage, height), []
    boxes, geometry = [], []
    for line, text in zip(_LINE.finditer(raw), lines, strict=True):
        start, end = _at(chars, line.start()), _at(chars, line.end() - 1) + 1
        rects = [textpage.get_rect(index) for index in range(textpage.count_rects(start, end - start))]
        fields = [field.strip() for field in text.split(quality.FIELD_GAP) if field.strip()]
        union = (min(r[0] for r in rects), min(r[1] for r in rects), max(r[2] for r in rects),
                 max(r[3] for r in rects)) if rects else (0.0, 0.0, 0.0, 0.0)
        if len(fields) == len(rects):
            boxes += [_box(field, rect, height) for field, rect in zip(fields, rects, strict=True)]
        elif rects and text.strip():
            boxes.append(_box(text.strip(), union, height))
        size = pdfium_c.FPDFText_GetFontSize(textpage, start) if rects else 0.0
        geometry.append(wraps.Line(text, union[0], height - union[3], union[2], height - union[1], size,
                                   max(len(fields), 1)))
    return boxes, geometry


def _unwrapped(text: str, geometry: list[wraps.Line]) -> str:
    """The page text with its soft wraps marked (wraps.py). Only a single line break between
    two lines is a candidate: a blank line is a paragraph break. The text's lines are the
    geometry's lines unless cleaning emptied one (then the text stays as it is)."""
    found = list(_LINE.finditer(text))
    if len(found) != len(geometry) or len(found) < 2:
        return text
    seps = wraps.separators(geometry)
    parts = [text[: found[0].start()]]
    for index, match in enumerate(found):
        between = text[match.end(): found[index + 1].start()] if index + 1 < len(found) else text[match.end():]
        soft = index + 1 < len(found) and between == "\n" and seps[index] != "\n"
        parts.append(match.group()[:-1] if soft and seps[index] == "-" else match.group())
        parts.append(seps[index] if soft and seps[index] != "-" else "" if soft else between)
    return "".join(parts)


def _box(text: str, rect: tuple[float, float, float, float], height: float) -> TextBox:
    left, bottom, right, top = rect
    return TextBox(text, left, height - top, right, height - bottom)


def _bounded_boxes(textpage: pdfium.PdfTextPage, height: float) -> list[TextBox]:
    """A box per rectangle of the page, each with the text PDFium finds inside (slow: for
    pages whose text and character indices disagree)."""
    rects = [textpage.get_rect(index) for index in range(textpage.count_rects())]
    texts = [quality.normalize_cjk_spaces(_clean(textpage.get_text_bounded(*rect))).strip() for rect in rects]
    return [_box(text, rect, height) for text, rect in zip(texts, rects, strict=True) if text]


def _picture_share(doc: pdfium.PdfDocument, number: int) -> float:
    """Share of the page the largest picture on it covers."""
    page = doc[number - 1]
    try:
        width, height = page.get_size()
        largest = 0.0
        for picture in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=3):
            left, bottom, right, top = picture.get_bounds()
            visible = (min(right, width) - max(left, 0.0)) * (min(top, height) - max(bottom, 0.0))
            largest = max(largest, visible if right > left and top > bottom else 0.0)
    finally:
        page.close()
    return largest / (width * height) if width > 0 and height > 0 else 0.0


def _unmapped(textpage: pdfium.PdfTextPage) -> int:
    """Estimated characters PDFium read without a Unicode mapping (it then reports the glyph's
    code as if it were the character). Sampled: a call per character would cost as much as
    reading the text."""
    count = textpage.count_chars()
    sample = range(0, count, max(1, count // UNMAPPED_SAMPLE))
    if not sample:
        return 0
    hits = sum(pdfium_c.FPDFText_HasUnicodeMapError(textpage, index) == 1 for index in sample)
    return round(hits * count / len(sample))


def _is_password_error(exc: Exception) -> bool:
    return "password" in str(exc).lower()


def _pikepdf_repair(source: SourceType) -> bytes | None:
    """qpdf rebuilds broken cross-reference tables; the rewritten bytes often open in PDFium."""
    import pikepdf

    try:
        with pikepdf.open(io.BytesIO(source) if isinstance(source, bytes) else source) as pdf:
            if len(pdf.pages) == 0:
                return None
            out = io.BytesIO()
            pdf.save(out)
            return out.getvalue()
    except pikepdf.PasswordError as exc:
        raise FormatError(ENCRYPTED_MESSAGE, str(exc)) from exc
    except Exception as exc:  # qpdf raises many types on garbage; all mean "no"
        log.debug("pikepdf repair failed: %s", exc)
        return None


def _pdfminer_pages(source: SourceType, why: str) -> list[PageText]:
    """Last resort: pdfminer's lenient parser recovers text from some files PDFium rejects."""
    try:
        with io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb") as stream:
            pages = _miner_read(stream)
    except Exception as exc:  # pdfminer raises anything on damaged input
        raise FormatError(_damaged_message(exc), f"pdfium: {why}; pdfminer: {exc!r}") from exc
    if not pages:
        raise FormatError(DAMAGED_MESSAGE, f"pdfium: {why}; pdfminer: no pages")
    return pages


def _miner_read(stream: io.IOBase) -> list[PageText]:
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LTTextContainer, LTTextLine

    pages: list[PageText] = []
    for number, layout in enumerate(extract_pages(stream), start=1):
        if number > MAX_PAGES:
            break
        boxes = [_miner_box(line, layout.height)
                 for element in layout if isinstance(element, LTTextContainer)
                 for line in element if isinstance(line, LTTextLine)]
        boxes = [box for box in boxes if box.text]
        text = wraps.join_lines([wraps.Line(box.text, box.x0, box.y0, box.x1, box.y1, box.y1 - box.y0)
                                 for box in boxes])
        verdict = quality.check_text(text)
        pages.append(PageText(number, text, boxes, "text" if text else "none",
                              needs_ocr=verdict.needs_ocr or not text))
    return pages


def _damaged_message(exc: Exception) -> str:
    if "encrypt" in type(exc).__name__.lower() or "password" in str(exc).lower():
        return ENCRYPTED_MESSAGE
    return DAMAGED_MESSAGE


def _miner_box(line: object, height: float) -> TextBox:
    text = quality.normalize_cjk_spaces(line.get_text()).strip()  # type: ignore[attr-defined]
    x0, y0, x1, y1 = line.bbox  # type: ignore[attr-defined]
    return TextBox(text, x0, height - y1, x1, height - y0)


_PDF_DATE = re.compile(
    r"D?:?(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?\s*(?:([Zz+\-])(\d{2})?'?(\d{2})?'?)?"
)


def parse_pdf_date(value: str) -> datetime | None:
    """PDF dates look like D:20240131120000+08'00'; every part after the year is optional."""
    match = _PDF_DATE.match(value.strip()) if value else None
    if not match:
        return None
    parts = [int(p) if p else d for p, d in zip(match.groups()[:6], (0, 1, 1, 0, 0, 0), strict=False)]
    try:
        stamp = datetime(*parts)  # type: ignore[misc]
    except ValueError:
        return None
    sign, hours, minutes = match.group(7), match.group(8), match.group(9)
    if sign in ("+", "-"):
        offset = timedelta(hours=int(hours or 0), minutes=int(minutes or 0))
        return stamp.replace(tzinfo=timezone(offset if sign == "+" else -offset))
    if sign in ("Z", "z"):
        return stamp.replace(tzinfo=UTC)
    return stamp


def _signature(handle: object) -> Signature:
    """What PDFium can tell without verifying: used when pyHanko cannot parse the file."""
    sub_filter = _c_string(pdfium_c.FPDFSignatureObj_GetSubFilter, handle)
    signed_at = parse_pdf_date(_c_string(pdfium_c.FPDFSignatureObj_GetTime, handle))
    signer = _signer_name(_c_bytes(pdfium_c.FPDFSignatureObj_GetContents, handle))
    return Signature(verdict="unverifiable", reason=UNPARSABLE_SIGNATURE, signer=signer, signed_at=signed_at,
                     kind=f"PDF {sub_filter}".strip())


def _verified(source: SourceType, listed: list[Signature]) -> list[Signature]:
    from bingan.formats import signatures

    return signatures.verify_pdf(source if isinstance(source, bytes) else Path(source).read_bytes(), listed)


def _c_string(function: object, handle: object) -> str:
    size = function(handle, None, 0)  # type: ignore[operator]
    if size <= 0:
        return ""
    buffer = ctypes.create_string_buffer(size)
    function(handle, buffer, size)  # type: ignore[operator]
    return buffer.value.decode("latin-1", "replace")


def _c_bytes(function: object, handle: object) -> bytes:
    size = function(handle, None, 0)  # type: ignore[operator]
    if size <= 0:
        return b""
    buffer = ctypes.create_string_buffer(size)
    function(handle, buffer, size)  # type: ignore[operator]
    return buffer.raw[:size]


def _signer_name(contents: bytes) -> str:
    """Common name of the first certificate in the PKCS#7 blob, when it parses."""
    if not contents.strip(b"\x00"):
        return ""
    try:
        from asn1crypto import cms

        info = cms.ContentInfo.load(contents.rstrip(b"\x00"))
        certificates = info["content"]["certificates"]
        subject = certificates[0].chosen.subject.native
        return str(subject.get("common_name", ""))
    except Exception:  # any malformed blob just means "signer unknown"
        return ""
