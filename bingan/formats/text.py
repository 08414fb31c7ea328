"""Plain text (LIS exports, interface dumps): decoded, laid out on A4 pages, rendered.

A text report is viewed like any other page: lines are wrapped to the A4 text width and
paginated by lines, in Noto Sans CJK (OFL) at 10.5 pt (Chinese 五号, the size of printed
reports). The layout is computed in points once, so the page count and the text of each
page do not depend on the resolution a page is later drawn at.
"""
from __future__ import annotations

import codecs
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from bingan.formats.base import FormatError, TextBox
from bingan.formats.options import format_options

PAGE_WIDTH_PT, PAGE_HEIGHT_PT = 595.28, 841.89  # A4
MARGIN_PT = 56.7  # 2 cm
FONT_SIZE_PT = 10.5
LINE_HEIGHT_PT = FONT_SIZE_PT * 1.5
TAB = "    "
MAX_BYTES = 50 * 1024 * 1024  # a larger ".txt" is a log dump, not a record: thousands of pages
MAX_RENDER_PIXELS = 120_000_000
DEFAULT_DPI = 150
NOTO_CJK = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
NOTO_SC_INDEX = 2  # the .ttc holds JP, KR, SC, TC, HK faces: 2 is Simplified Chinese
_MEASURE_SIZE = 100  # widths are measured at 100 px and scaled: one measurement per character

_font_lock = threading.Lock()


@dataclass(frozen=True)
class Line:
    text: str
    width_pt: float
    joiner: str | None = None  # None: starts a logical line; else what the wrap removed ("" or " ")


@dataclass(frozen=True)
class TextPage:
    number: int
    lines: tuple[Line, ...]

    @property
    def text(self) -> str:
        """The page's text with wrapped lines joined back, so that a term the wrap split
        ("白细" | "胞计数") is still found by search."""
        parts: list[str] = []
        for line in self.lines:
            separator = "\n" if line.joiner is None else line.joiner
            parts.append(line.text if not parts else separator + line.text)
        return "".join(parts)

    def boxes(self) -> list[TextBox]:
        return [TextBox(line.text, MARGIN_PT, _line_top(index), MARGIN_PT + line.width_pt,
                        _line_top(index) + FONT_SIZE_PT * 1.2)
                for index, line in enumerate(self.lines) if line.text.strip()]


def _line_top(index: int) -> float:
    return MARGIN_PT + index * LINE_HEIGHT_PT


# -- decoding ------------------------------------------------------------------------------

_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def decode(data: bytes) -> tuple[str, str]:
    """(text, encoding). A BOM decides; then strict UTF-8 (GBK text is almost never valid
    UTF-8); then GB18030, the superset of GBK and GB2312 that Chinese systems still write."""
    if len(data) > MAX_BYTES:
        raise FormatError("纯文本文件过大，无法显示", f"{len(data)} bytes > {MAX_BYTES}")
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding, "replace"), encoding.replace("-sig", "")
    for encoding in ("utf-8", "gb18030"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", "replace"), "utf-8 (damaged)"


# -- layout --------------------------------------------------------------------------------


def layout(text: str) -> list[TextPage]:
    """Wrapped lines in pages; a form feed starts a new page, as on a line printer."""
    per_page = int((PAGE_HEIGHT_PT - 2 * MARGIN_PT) // LINE_HEIGHT_PT)
    pages: list[TextPage] = []
    for sheet in _normalise(text).split("\f"):
        lines = [piece for raw in sheet.split("\n") for piece in wrap(raw)]
        for start in range(0, max(len(lines), 1), per_page):
            pages.append(TextPage(len(pages) + 1, tuple(lines[start:start + per_page])))
    return pages


def _normalise(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", TAB)
    return "".join(ch for ch in text if ch in "\n\f" or ch.isprintable() or ch == " ").rstrip()


def wrap(raw: str) -> list[Line]:
    """Break a logical line where it reaches the text width; Latin words move whole to the
    next line when the line has a space to break at, CJK breaks between any characters."""
    limit = PAGE_WIDTH_PT - 2 * MARGIN_PT
    lines: list[Line] = []
    rest = raw.rstrip()
    joiner: str | None = None
    while rest:
        cut = _word_boundary(rest, _fit(rest, limit))
        piece = rest[:cut]
        lines.append(Line(piece.rstrip(), _width(piece.rstrip()), joiner))
        rest = rest[cut:]
        stripped = rest.lstrip(" ")
        joiner = " " if (len(stripped) < len(rest) or piece != piece.rstrip()) else ""
        rest = stripped
    return lines or [Line("", 0.0)]


def _fit(text: str, limit: float) -> int:
    """How many characters of ``text`` fit in ``limit`` points (at least one)."""
    width = 0.0
    for index, ch in enumerate(text):
        width += _advance(ch)
        if width > limit and index > 0:
            return index
    return len(text)


def _word_boundary(text: str, cut: int) -> int:
    if cut >= len(text) or not (text[cut - 1].isascii() and text[cut - 1].isalnum() and text[cut].isascii()
                                and text[cut].isalnum()):
        return cut
    space = text.rfind(" ", 0, cut)
    return space + 1 if space > cut // 2 else cut  # a very long word is cut rather than left alone


def _width(text: str) -> float:
    return sum(_advance(ch) for ch in text)


@lru_cache(maxsize=65536)
def _advance(ch: str) -> float:
    with _font_lock:  # FreeType faces are not safe to share between threads
        return _font(_MEASURE_SIZE).getlength(ch) * FONT_SIZE_PT / _MEASURE_SIZE


# -- rendering -----------------------------------------------------------------------------


def render(page: TextPage, dpi: float | None = None, width: int | None = None) -> Image.Image:
    scale = (width / PAGE_WIDTH_PT) if width else (dpi or DEFAULT_DPI) / 72
    size = (max(1, round(PAGE_WIDTH_PT * scale)), max(1, round(PAGE_HEIGHT_PT * scale)))
    if size[0] * size[1] > MAX_RENDER_PIXELS:
        raise FormatError("页面图像尺寸过大，请降低分辨率", f"{size} pixels")
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    with _font_lock:
        font = _font(max(1, round(FONT_SIZE_PT * scale)))
        for index, line in enumerate(page.lines):
            if line.text:
                draw.text((MARGIN_PT * scale, _line_top(index) * scale), line.text, fill=0, font=font)
    return image.convert("RGB")


def font_path() -> str:
    return format_options().cjk_font.strip() or NOTO_CJK


@lru_cache(maxsize=16)
def _font(pixels: int) -> ImageFont.FreeTypeFont:
    path = font_path()
    if not Path(path).is_file():
        raise FormatError("无法显示纯文本：服务器缺少中文字体（Noto CJK）", f"font not found: {path}")
    index = NOTO_SC_INDEX if path.endswith(".ttc") else 0
    return ImageFont.truetype(path, size=pixels, index=index)
