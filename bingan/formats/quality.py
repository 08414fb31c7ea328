"""Is the text layer of a page worth indexing, or does the page need OCR?

Some Chinese PDFs carry fonts without a usable ToUnicode map: every library then returns
mojibake, "(cid:N)" placeholders, private-use or unmapped code points. Those pages go to OCR.
What a page says in any script is not judged: only the marks of a broken layer are.
"""
from __future__ import annotations

import codecs
import re
import unicodedata
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
_SPACE = re.compile(r"\s")

MIN_CHARS = 8  # below this a ratio says nothing
MAX_GARBAGE = 0.3  # share of broken characters that condemns a text layer
MAX_PRIVATE_USE = 0.05
INK_LEVEL = 200  # grey value below which a pixel counts as ink
# A page without text is looked at in a small rendering: a scanned page carrying one short
# typed line ("This is a multi page document. Page 1.") must count as ink. At 24 dpi with a
# 0.2 % threshold such a line blurred into grey and its page was taken for blank; at 48 dpi
# the line is ~0.1 % of the pixels, a page number alone ~0.02 %.
INK_CHECK_DPI = 48
MIN_INK = 0.0002  # share of ink pixels that makes a page "visibly not empty"


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


def check_text(text: str, unmapped: int = 0) -> Verdict:
    """Is this text layer broken? Judged by the marks of broken fonts and encodings, never by
    script: Korean, Arabic, rare name characters (CJK extensions, 𠮷 䶮 㛃) and symbols are text.

    ``unmapped``: characters the PDF reader could not map to Unicode (no ToUnicode entry; it
    then reports the raw glyph code, which can look like any character)."""
    if _CID.search(text):
        return Verdict(True, "(cid:N) placeholders")
    visible = len(text) - len(_SPACE.findall(text))
    if not visible:
        return Verdict(False)
    # Judge each distinct character once: pages repeat characters a lot, and this check runs
    # on every page the pipeline indexes.
    distinct = set(text)
    private = sum(text.count(ch) for ch in distinct if _private_use(ch))
    if private >= 3 and private / visible > MAX_PRIVATE_USE:
        return Verdict(True, f"private-use characters: {private}")
    if any(map(_mojibake_suspect, distinct)):
        text, mojibake = _without_mojibake(text)
        non_ascii = len(text) - len(text.encode("ascii", "ignore")) + mojibake
        # Mojibake hits only non-ASCII characters (ASCII survives every mis-decoding), so
        # it is weighed against those: "RÃ©sumÃ©" is broken though most letters are fine.
        if non_ascii >= MIN_CHARS and mojibake / non_ascii > MAX_GARBAGE:
            return Verdict(True, f"mojibake: {mojibake / non_ascii:.0%} of non-ASCII characters")
    bad = _broken_count(text) + unmapped
    if visible >= MIN_CHARS and bad / visible > MAX_GARBAGE:
        return Verdict(True, f"broken text: {bad / visible:.0%} of characters unmapped or replaced")
    return Verdict(False)


def sound_chars(text: str, unmapped: int = 0) -> int:
    """Visible characters that are not garbage: the measure by which OCR output may replace
    a text layer (only when it has more of them)."""
    text = _CID.sub("\ufffd", text)  # a placeholder is one lost character
    rest, mojibake = _without_mojibake(text)
    visible = sum(1 for ch in text if not ch.isspace())
    return max(0, visible - mojibake - _broken_count(rest) - unmapped)


def _broken_count(text: str) -> int:
    return sum(text.count(ch) for ch in set(text) if _broken(ch))


@lru_cache(maxsize=8192)
def _mojibake_suspect(ch: str) -> bool:
    """Can this character come out of a mis-decoding (_MISREADS)? Latin-1 and Windows-1252
    characters, and the GBK characters outside GB2312 that UTF-8 bytes read as GBK mostly
    become. Only pages with one are tried for mojibake: the proof costs time."""
    if "\u0080" <= ch <= "\u00ff" or ch in _CP1252_EXTRA:
        return True
    try:
        ch.encode("gbk")
    except UnicodeEncodeError:
        return False
    try:
        ch.encode("gb2312")
    except UnicodeEncodeError:
        return True
    return False


@lru_cache(maxsize=8192)
def _broken(ch: str) -> bool:
    """Replacement characters, control codes, private use and unassigned code points: what
    fonts without a usable Unicode map produce. Planes 2-3 are ideographs even where this
    Python's Unicode tables are older than the character (CJK extension H and later)."""
    if ch.isspace():
        return False
    if _private_use(ch) or ch == "\ufffd":
        return True
    category = unicodedata.category(ch)
    return category in ("Cc", "Cs") or (category == "Cn" and not 0x20000 <= ord(ch) <= 0x3FFFF)


def _private_use(ch: str) -> bool:
    return "\ue000" <= ch <= "\uf8ff" or ord(ch) >= 0xF0000


# Runs of non-ASCII characters (ASCII survives every mis-decoding unchanged, so a run of
# mojibake never spans it).
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]{2,}")
# The mis-decodings seen in the wild, and the shortest run that proves one: UTF-8 bytes shown
# as Windows-1252/Latin-1 ("Ã©") or as GBK ("鍏ラ櫌"); GBK bytes shown as Latin-1 ("ÈëÔº"; four
# characters, two Chinese ones: a pair of accented letters is often valid GBK by chance).
_CP1252_EXTRA = frozenset(bytes(range(0x80, 0xA0)).decode("cp1252", "ignore"))
_MISREADS = (("cp1252", "utf-8", 2), ("latin-1", "utf-8", 2), ("gbk", "utf-8", 2), ("latin-1", "gbk", 4))


# Readers show a byte the shown-as codec lacks (0x81 in Windows-1252, a broken GBK pair) as a
# replacement character or, PDFium in simple fonts, a black square: encoding back, such a
# character stands for one lost byte, given as a UTF-8 continuation byte (any would do).
_LOST = frozenset("\ufffd\u25a0")
_LOST_BYTE = "bingan-lost-byte"


def _lost_byte(error: UnicodeError) -> tuple[bytes, int]:
    lost = error.object[error.start:error.end]  # type: ignore[attr-defined]
    if not set(lost) <= _LOST:
        raise error
    return b"\x80" * len(lost), error.end  # type: ignore[attr-defined]


codecs.register_error(_LOST_BYTE, _lost_byte)


def _without_mojibake(text: str) -> tuple[str, int]:
    """The text without its provably mis-decoded runs, and how many characters they had.

    A run is mis-decoded when, encoded back with the wrong codec, it decodes with the right
    one into fewer characters (a lenient reader's replacement marks allowed at its ends).
    Real text of any script almost never does: its bytes are not valid UTF-8 or GBK in that
    order."""
    count = 0

    def drop(run: re.Match[str]) -> str:
        nonlocal count
        if not _misread(run.group()):
            return run.group()
        count += sum(1 for ch in run.group() if not ch.isspace())
        return ""

    return _NON_ASCII_RUN.sub(drop, text), count


@lru_cache(maxsize=4096)
def _misread(run: str) -> bool:
    for shown_as, written_as, shortest in _MISREADS:
        if len(run) < shortest:
            continue
        try:
            fixed = run.encode(shown_as, _LOST_BYTE).decode(written_as, "replace")
        except UnicodeEncodeError:
            continue
        damaged = fixed.count("\ufffd")
        if damaged <= len(fixed) // 4 and len(fixed) - damaged < len(run):
            return True
    return False


def has_ink(image: Image.Image) -> bool:
    """Does a (low-resolution) page image show anything, i.e. is empty text suspicious?"""
    grey = np.asarray(image.convert("L"))
    if grey.size == 0:
        return False
    return float((grey < INK_LEVEL).mean()) >= MIN_INK
