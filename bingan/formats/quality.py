"""Is the text layer of a page worth indexing, or does the page need OCR?

Some Chinese PDFs carry fonts without a usable ToUnicode map: every library then returns
mojibake, "(cid:N)" placeholders or private-use code points. Those pages go to OCR.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image

_CID = re.compile(r"\(cid:\d+\)")
# CJK characters and punctuation (not the ideographic space): what stands on either side of
# a space that normalisation removes.
CJK_MARK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3001-\u303f\uff00-\uffef"
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
BLANK = " \t\u00a0\u3000"  # whitespace within a line
# Page text writes a gap between fields ("姓名：张三        性别：男", table cells) as exactly
# FIELD_GAP. Two spaces: a single space between CJK characters is an artefact, so the gap
# must not look like one; HTML shows it as one space; ``text_hash`` ignores it; and people
# separate fields by typing several spaces, so text without geometry (OCR lines, Office
# text, OFD) reads the same. Whitespace runs of two or more, tabs and ideographic spaces
# count as such gaps.
FIELD_GAP = "  "
_WIDE = re.compile(rf"(?<=[^\s])(?:[{BLANK}]{{2,}}|[\t\u3000])(?=[^\s])")
# A single space between two CJK characters (or CJK punctuation) is an artefact of OCR
# engines and of PDF writers that place every glyph separately; Chinese is written without
# them. Digits count too ("2 型糖尿病" must be found as "2型糖尿病"); Latin words keep theirs.
_NARROW = re.compile(rf"(?<=[{CJK_MARK}])[ \u00a0](?=[{CJK_MARK}0-9])|(?<=[0-9])[ \u00a0](?=[{CJK_MARK}])")
# Letter-spaced titles ("入  院  记  录", "出　院　小　结") and labels spread to the width of
# longer ones ("姓    名：", a common form layout) put wide gaps between single characters:
# three or more single CJK characters in a row, a line of two, or single characters ending in
# a colon are one word.
_SPACED = re.compile(
    rf"(?:(?<=\n)|^)[{BLANK}]*[{_HAN}](?:[{BLANK}]+[{_HAN}])[{BLANK}]*(?=\n|$)"
    rf"|(?<![^\s])[{_HAN}](?:[{BLANK}]+[{_HAN}]){{2,}}(?![^\s])"
    rf"|(?<![^\s])[{_HAN}](?:[{BLANK}]+[{_HAN}])*[{BLANK}]+[{_HAN}](?=[：:])"
)
_BLANKS = re.compile(f"[{BLANK}]+")

MIN_CHARS = 8  # below this a ratio says nothing
MAX_IMPLAUSIBLE = 0.3
MAX_PRIVATE_USE = 0.05
INK_LEVEL = 200  # grey value below which a pixel counts as ink
MIN_INK = 0.002  # share of ink pixels that makes a page "visibly not empty"


@dataclass(frozen=True)
class Verdict:
    needs_ocr: bool
    reason: str = ""  # technical, for the log


def normalize_cjk_spaces(text: str) -> str:
    """Drop the artefact spaces inside Chinese text, keep the gaps between fields.

    Idempotent: page text may pass through here again (OFD, cached pages)."""
    if _SPACED.search(text):
        text = _SPACED.sub(_join_spaced, text)
    return _NARROW.sub("", _WIDE.sub(FIELD_GAP, text))


def _join_spaced(match: re.Match[str]) -> str:
    spaced = match.group()
    word = spaced.strip(BLANK)
    indent = spaced[:spaced.index(word[0])]  # a line's indentation stays
    return indent + _BLANKS.sub("", word) + spaced[len(indent) + len(word):]


def check_text(text: str) -> Verdict:
    """Quality of extracted text alone (no rendering): placeholders, private use, mojibake."""
    if _CID.search(text):
        return Verdict(True, "(cid:N) placeholders")
    # Count each distinct character once: pages repeat characters a lot, and this check
    # runs on every page the pipeline indexes.
    counts = Counter(text)
    visible = sum(n for ch, n in counts.items() if not ch.isspace())
    if not visible:
        return Verdict(False)
    private = sum(n for ch, n in counts.items() if "\ue000" <= ch <= "\uf8ff")
    if private >= 3 and private / visible > MAX_PRIVATE_USE:
        return Verdict(True, f"private-use characters: {private}")
    return _check_mojibake(counts)


def _check_mojibake(counts: Counter[str]) -> Verdict:
    non_ascii = sum(n for ch, n in counts.items() if ord(ch) > 127 and not ch.isspace())
    if non_ascii < MIN_CHARS:
        return Verdict(False)
    implausible = sum(n for ch, n in counts.items() if ord(ch) > 127 and not ch.isspace() and not _plausible(ch))
    ratio = implausible / non_ascii
    if ratio > MAX_IMPLAUSIBLE:
        return Verdict(True, f"mojibake: {ratio:.0%} implausible characters")
    return Verdict(False)


@lru_cache(maxsize=8192)
def _plausible(ch: str) -> bool:
    """GB2312 covers the characters of ordinary simplified Chinese text.

    Mojibake (UTF-8 read as GBK, GBK read as Latin-1) falls mostly outside it, while real
    medical text rarely leaves it (a rare name character now and then stays under the ratio).
    """
    if "\u00c0" <= ch <= "\u00ff" or "\u0080" <= ch <= "\u00bf":
        return False  # Latin-1 letters in a Chinese record are the signature of "Ã©" garbage
    try:
        ch.encode("gb2312")
    except UnicodeEncodeError:
        return ch in "①②③④⑤⑥⑦⑧⑨⑩™®©±·•…‰′″℃°μ" or "\u2460" <= ch <= "\u24ff"
    return True


def has_ink(image: Image.Image) -> bool:
    """Does a (low-resolution) page image show anything, i.e. is empty text suspicious?"""
    grey = np.asarray(image.convert("L"))
    if grey.size == 0:
        return False
    return float((grey < INK_LEVEL).mean()) >= MIN_INK
