"""Soft line wraps (软换行): a paragraph line that ends only because its column is full.

Chinese running text wraps at any character, so a narrow column prints "否认肝炎、结" on one
line and "核等传染病史" on the next. Page text keeps a *hard* break ("\\n": a new paragraph,
a table row, a field, a list item) as a token that no phrase spans; a *soft* wrap is written
as SOFT_WRAP (U+2028 LINE SEPARATOR), which the search analyser skips like a space (it is
Unicode White_Space for tantivy's Rust regex, Python's ``re`` and Elasticsearch's Java
pattern alike), so 结核 is found across it while the page text keeps its lines. ``text_hash``
ignores whitespace, so a page reads the same before and after.

The rule, from the layouts of born-digital records (EMR print-outs, reportlab/OFD lines, OCR
line boxes): the break after a line is soft when

* both lines are running text: one field each (no field gap: table rows and forms are hard),
  same font size (within SIZE_TOLERANCE);
* the next line starts at the block's left edge (not indented like a new paragraph; the
  current line may carry the first-line indent) and directly below (no paragraph spacing);
* the line ends at the block's right edge: the rest of the column could not hold the next
  line's first word (a character, for Chinese), so the line is full;
* the line does not end a sentence or a label (。！？：；!?:;) and the next line does not
  start an item: a number (1. 2、（3）一、), a bullet, a heading (第二章) or a label (性别：).

Latin words: a hyphenated wrap of a lowercase word (diag-/nosis) and a code or word cut inside
Chinese text (行P/CI术, 100/mg, 36./5℃: Chinese wraps at any character, so the two halves are
one word) are joined with nothing between them; a wrap between English words (a space
typeset as a line end) is SOFT_WRAP, read as a space.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

SOFT_WRAP = "\u2028"
SIZE_TOLERANCE = 0.2  # share of the font size two lines of one paragraph may differ by
INDENT_EMS = 2.5  # a first-line indent (two characters, 首行缩进) and a little slack
ALIGN_EMS = 0.5  # the next line starts within this of the block's left edge
LEADING_EMS = 1.2  # the most space between two lines of one paragraph (box bottom to top)
FULL_EMS = 1.5  # a CJK line is full when it ends within this of the right edge
MIN_WIDTH_EMS = 6.0  # a shorter line is a label or a heading, not a wrapped paragraph line

_HARD_END = frozenset("。！？：；!?:;")
_ITEM_START = re.compile(
    r"(?:[0-9０-９]{1,3}[.、．)）]"  # 1. 2、 3)
    r"|[（(][0-9０-９一二三四五六七八九十]{1,3}[)）]"  # （1） (一)
    r"|[一二三四五六七八九十]{1,3}[、.．]"  # 一、
    r"|[•·●○■□◆◇▪※*\-–—]"  # bullets and dashes
    r"|第[一二三四五六七八九十百0-9]+[章节条部篇]"  # headings
    r"|[^\s，。、：:；;]{1,6}[：:])"  # a label: 性别：
)
_ASCII_WORD_END = re.compile(r"[A-Za-z0-9.]+$")
_ASCII_START = re.compile(r"[A-Za-z0-9]")
_HYPHENATED = re.compile(r"[a-z]-$")


@dataclass(frozen=True)
class Line:
    """A line of page text with its box (points or pixels from the top-left corner)."""

    text: str
    x0: float
    y0: float
    x1: float
    y1: float
    size: float  # font size in the box's units (the box height where no font is known)
    fields: int = 1  # parts separated by field gaps


def separators(lines: list[Line]) -> list[str]:
    """What stands between line i and line i + 1: "\\n", SOFT_WRAP, "" (one word) or "-"
    (a hyphen to drop: the line loses its last character, the halves are one word)."""
    rights = _block_rights(lines)
    return [_separator(a, b, right) for a, b, right in zip(lines, lines[1:], rights, strict=False)]


def joined(texts: list[str], seps: list[str]) -> str:
    """The lines' texts joined by ``separators``' verdicts."""
    parts: list[str] = []
    for text, sep in zip(texts, [*seps, ""][: len(texts)], strict=True):
        parts.append(text[:-1] if sep == "-" else text)
        parts.append("" if sep == "-" else sep)
    return "".join(parts)


def join_lines(lines: list[Line]) -> str:
    return joined([line.text for line in lines], separators(lines))


def _continues(a: Line, b: Line) -> bool:
    """b can be the next line of a's paragraph by geometry alone."""
    size = max(a.size, b.size)
    if size <= 0 or abs(a.size - b.size) > SIZE_TOLERANCE * size:
        return False
    if a.fields > 1 or b.fields > 1:
        return False
    if not -ALIGN_EMS * size <= a.x0 - b.x0 <= INDENT_EMS * size:
        return False
    return -0.25 * size <= b.y0 - a.y1 <= LEADING_EMS * size  # directly below, no paragraph spacing


def _block_rights(lines: list[Line]) -> list[float]:
    """The right edge of the block of left-aligned, evenly spaced lines each line is in."""
    rights: list[float] = []
    start = 0
    for index in range(1, len(lines) + 1):
        if index == len(lines) or not _continues(lines[index - 1], lines[index]):
            right = max(line.x1 for line in lines[start:index])
            rights += [right] * (index - start)
            start = index
    return rights


def _separator(a: Line, b: Line, right: float) -> str:
    first, last = b.text[:1], a.text[-1:]
    if not first or not last or first.isspace() or last.isspace() or last in _HARD_END:
        return "\n"
    if not _continues(a, b) or a.x1 - a.x0 < MIN_WIDTH_EMS * a.size or _ITEM_START.match(b.text):
        return "\n"
    if right - a.x1 > _first_word_width(b):
        return "\n"  # the next line's first word would have fit: the line ended on purpose
    return _latin_join(a.text, b.text)


def _first_word_width(line: Line) -> float:
    """Room the next line's first word needs: a character for Chinese, the word (at half an
    em a letter) and a space for Latin."""
    word = re.match(r"[A-Za-z0-9.\-]+", line.text)
    if word is None:
        return FULL_EMS * line.size
    return max(FULL_EMS, 0.55 * (len(word.group()) + 1)) * line.size


def _latin_join(before: str, after: str) -> str:
    if _HYPHENATED.search(before) and after[:1].islower() and after[:1].isascii():
        return "-"
    tail = _ASCII_WORD_END.search(before)
    if tail and _ASCII_START.match(after) and tail.start() > 0 and not before[tail.start() - 1].isspace():
        return ""  # cut inside Chinese text: the halves are one word or code
    return SOFT_WRAP
