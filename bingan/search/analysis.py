"""Chinese text analysis shared by indexing, querying, snippets and the tests.

Design (measured on this machine, see bench/search.py and bench/README.md):

* The page text is cut by **tantivy's built-in regex tokenizer** (Rust, no Python per
  token) into: one token per Han character, one token per ASCII word or code
  (``0012345``, ``i25.103``, ``j18.9``, ``11010519491231002x`` — dots inside a code are
  kept), and **one token per punctuation mark or line break**. Whitespace is skipped, so
  OCR spaces between Chinese characters vanish (``糖 尿 病`` = ``糖尿病``) while
  punctuation and line breaks occupy a position and therefore break phrase adjacency
  (``糖尿病，肾病`` is not ``糖尿病肾病``).
* A query word becomes a **phrase query over the same tokens** (analysed by the very
  same analyser object, so index and query can never drift apart). Unigram phrases are
  exact substring matches of the token sequence: ``病3级`` → [病, 3, 级], ``行PCI术`` →
  [行, pci, 术], ``CT`` → [ct] which never equals the token ``pct``, ``J18`` never equals
  ``j18.9``.
* This gives the same hit sets as "CJK bigrams + unigrams at the same positions" (a
  bigram at position i implies the unigrams at i and i+1, so every bigram phrase is
  implied by the unigram phrase and vice versa) at the indexing speed of the built-in
  tokenizer. Python-made tokens cost 271 s / 100k records here; through this path the whole
  adapter indexes 100k generated pages in 22–23 s (4,300–4,600 pages/s, peak RSS 97 MB) and
  answers 200 scoped queries at p50 8 ms / p95 22 ms, 200/200 exact against a brute-force
  scan (bench/search.py, bench/README.md). The measured weakness of plain unigram phrases
  (runs across punctuation, 198/200) is closed by the punctuation tokens.

**Word-pair fields (schema 3; schema 2 had Han bigrams only).** Common 2-character words
(肺炎 on half of all pages) and mixed words over very common tokens (病3级: [病, 3, 级], 240k
pages at 1 M) made unigram phrases the expensive part at 1 M pages. ``word_pair_values`` cuts
the text into runs of *word tokens* adjacent in the unigram token stream — a word token is one
Han character or one ASCII word/code; skipped whitespace does not end a run, any other token
does — and emits each run's overlapping pairs as one value of a multi-valued field (whitespace
tokenizer, so tantivy does the indexing). ASCII words carry a closing ``_`` inside pairs
(``病3_ 3_级``) so two ASCII words never read as one. A query of n ≥ 2 word tokens then
becomes one pair term (n = 2) or a phrase of n − 1 pairs (``pair_tokens``); anything with a
punctuation token stays a unigram phrase. Exactness: pairs at consecutive positions within one
value ⇔ the n tokens adjacent in the token stream; tantivy leaves a position gap between values
of a field, so a pair phrase never joins two runs (``糖尿，尿病`` ∌ 糖尿病; tested). The tests
compare ``word_pair_values`` with pairs cut from tantivy's own token stream on random text, and
check that the analyser leaves every Han code point unchanged. The diagnosis and operation
name fields get the same pair fields (诊断:慢性阻塞性肺疾病急性加重: 12 pair terms instead of 13
unigram terms of the names field). tantivy's ``Tokenizer.ngram`` is unusable for this (all
grams at position 0). Cost: ~50–100 µs per page in Python.

**Soft line wraps.** Page text writes a soft wrap of running text (a paragraph line that ends
only because the column is full, formats/wraps.py) as U+2028 LINE SEPARATOR and keeps "\n"
for hard breaks. U+2028 is White_Space for tantivy's Rust regex, Python's ``re`` (the checker's
``TOKEN_RE``) and Elasticsearch's pattern (UNICODE_CHARACTER_CLASS), so it is skipped like a
space: no token, word pairs run across it (结\u2028核 → 结核). The analysis itself is unchanged
(no index rebuild); pages extracted before keep "\n" at their wraps until extracted again.

Full-width letters, digits and punctuation (``ＣＴ``, ``１８．９``, ``，``) are folded to
ASCII inside the analyser (lowercase + ascii_fold filters), so ``，`` and ``,`` are the same
token. ``normalize`` does the same fold in Python (same length, so character offsets stay
valid) for the query syntax and for snippets.

**Compatibility characters (schema 4).** What the analyser's filters leave alone but means the
same as ordinary text — Roman numerals (Ⅱ型 = II型), unit squares (㎎ = mg), ℃, µ, Kangxi
radicals and compatibility ideographs from PDF text layers (⽇ = 日), minus and middle-dot
variants — is folded in Python by ``fold`` (NFKC per character, an explicit list) before a
page is indexed (``fold_page``, both adapters; the folded text is what is stored and shown in
snippets) and before a query is parsed. Superscripts are not folded (10⁹/L is not 109/L).
Arabic and Roman numerals before 型/度/期/级 are query-side variants of one term (query.py).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import replace
from functools import lru_cache
from itertools import chain
from operator import add, attrgetter
from typing import TYPE_CHECKING

import tantivy

if TYPE_CHECKING:
    from bingan.search.port import PageDoc

# Han ranges written once and rendered for both regex dialects (Rust for tantivy, Python
# for snippets and the brute-force checker), so the two can never disagree.
_HAN_RANGES: tuple[tuple[int, int], ...] = (
    (0x3007, 0x3007),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0x20000, 0x3134F),
)

TOKENIZER_NAME = "bingan_zh"
KEYWORD_TOKENIZER_NAME = "bingan_kw"
BIGRAM_TOKENIZER_NAME = "bingan_bigram"
BIGRAM_VERSION = "word-runs-v4"  # stored in the index meta: a change here forces a rebuild


def _han_class(rust: bool) -> str:
    def esc(cp: int) -> str:
        return f"\\x{{{cp:X}}}" if rust else f"\\U{cp:08X}"

    return "".join(esc(a) if a == b else f"{esc(a)}-{esc(b)}" for a, b in _HAN_RANGES)


def _alnum_class(rust: bool) -> str:
    # ASCII and full-width letters/digits: full-width ones are folded by ascii_fold after
    # tokenizing, so ＣＴ１８ becomes one token ct18 like CT18.
    ranges = ((0xFF10, 0xFF19), (0xFF21, 0xFF3A), (0xFF41, 0xFF5A))
    fmt = (lambda cp: f"\\x{{{cp:X}}}") if rust else (lambda cp: chr(cp))
    return "A-Za-z0-9" + "".join(f"{fmt(a)}-{fmt(b)}" for a, b in ranges)


def token_pattern(rust: bool = True) -> str:
    """Han character | word/code with inner dots | line break | field gap | any other visible mark.

    A field gap (two or more spaces, a tab; formats/ writes the gap between fields and table
    cells as two spaces) is a token like a line break, so 张三  性别 holds no phrase 三性."""
    han, alnum = _han_class(rust), _alnum_class(rust)
    dot = "[.\\x{FF0E}]" if rust else "[.\uff0e]"
    gap = "[ \\x{3000}]{2,}|\\t" if rust else "[ \u3000]{2,}|\t"
    return (
        f"[{han}]"
        f"|[{alnum}]+(?:{dot}[{alnum}]+)*"
        r"|\n"
        f"|{gap}"
        f"|[^\\s{han}{alnum}]"
    )


HAN_RE = re.compile(f"[{_han_class(rust=False)}]")
TOKEN_RE = re.compile(token_pattern(rust=False))

# Characters the Rust regex tokenizer skips: Unicode White_Space (Rust's ``\s``) except the
# line break, which is a token. Spelled out because Python's ``\s`` also matches
# U+001C–U+001F, which Rust's does not (they are visible-mark tokens there).
_SKIPPED = (
    "\t\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
)
_SKIPPED_RE = re.compile(f"[{_SKIPPED}]+")
_GAP_RE = re.compile("[ \u3000]{2,}|\t")  # field gaps: tokens (see token_pattern), so runs end there

# Full-width ASCII → ASCII and ideographic space → space (as ascii_fold does), \r → \n.
_FOLD = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_FOLD[0x3000] = 0x20
_FOLD[0x0D] = 0x0A


_FOLD_RE = re.compile("[\uff01-\uff5e\u3000\r]")


def normalize(text: str) -> str:
    """Fold full-width ASCII and line endings; the result has the same length as the input.

    str.translate with a dict costs ~1 µs per 5 characters of Chinese text, and snippets
    normalise every shown page; most pages have nothing to fold, so look first."""
    return text.translate(_FOLD) if _FOLD_RE.search(text) else text


# Compatibility characters that mean the same as ordinary text but would be other tokens:
# Roman numerals (Ⅱ型 = II型), unit squares (㎎ = mg), ℃/℉, the micro sign, and the Kangxi
# radicals and compatibility ideographs that PDF text layers and OCR put for ordinary Han
# characters (⽇ for 日). Their NFKC forms, taken per character. Deliberately not all of NFKC:
# superscripts would turn 10⁹/L into 109/L, and full-width forms are folded by the analyser
# already (keeping stored text as written). Plus what NFKC leaves alone: the minus sign as a
# hyphen, and the middle-dot variants of transliterated names (买买提•艾力 = 买买提·艾力).
_NFKC_RANGES = ((0xB5, 0xB5), (0x2103, 0x2103), (0x2109, 0x2109), (0x2160, 0x217F),
                (0x2E80, 0x2EFF), (0x2F00, 0x2FDF), (0x3380, 0x33DF), (0xF900, 0xFAFF),
                (0x2F800, 0x2FA1F))
_COMPAT: dict[int, str] = {
    cp: folded
    for lo, hi in _NFKC_RANGES
    for cp in range(lo, hi + 1)
    if (folded := unicodedata.normalize("NFKC", chr(cp))) != chr(cp)
}
_COMPAT.update(dict.fromkeys((0x2212, 0xFE63), "-"))
_COMPAT.update(dict.fromkeys((0x2022, 0x2027, 0x2219, 0x22C5, 0x30FB, 0xFF65), "\u00b7"))


def _char_class(codepoints: list[int]) -> str:
    """A regex class of sorted code points as ranges (a class of 1,300 single characters
    costs re ~1 µs per character scanned; as ~60 ranges it is C speed)."""
    ranges: list[list[int]] = []
    for cp in codepoints:
        if ranges and cp == ranges[-1][1] + 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    return "[" + "".join(re.escape(chr(a)) + (f"-{re.escape(chr(b))}" if b > a else "") for a, b in ranges) + "]"


_COMPAT_RE = re.compile(_char_class(sorted(_COMPAT)))


def fold(text: str) -> str:
    """Compatibility characters → their ordinary spelling, for every text that is indexed or
    queried (both adapters, the query parser, the reference matcher). Unlike ``normalize``
    it may change the length (Ⅲ → III), so the index stores folded text and snippets are cut
    from it. Most pages hold none of these characters: look first (~1 µs per page)."""
    return text.translate(_COMPAT) if _COMPAT_RE.search(text) else text


_FOLDED = ("text", "patient_name", "record_number", "id_number", "category_name",
           "document_type_name", "department_name")
_FOLDED_LISTS = ("aliases", "diagnosis_codes", "diagnosis_names", "operation_codes", "operation_names")
_get_folded, _get_folded_lists = attrgetter(*_FOLDED), attrgetter(*_FOLDED_LISTS)


def fold_page(doc: PageDoc) -> PageDoc:
    """The page as both adapters index (and store) it: every value that is analysed or matched
    as a keyword folded; the codes the scope and the facets compare (department, campus,
    category, document type, tags) as they are, since the access layer names them so. One
    search over all values first: rebuilding the dataclass costs ~15 µs, most pages need none."""
    values = "\n".join(chain(_get_folded(doc), *_get_folded_lists(doc)))
    if not _COMPAT_RE.search(values):
        return doc
    changes: dict[str, object] = {name: fold(getattr(doc, name)) for name in _FOLDED}
    changes.update({name: [fold(v) for v in getattr(doc, name)] for name in _FOLDED_LISTS})
    return replace(doc, **changes)


def build_analyzer() -> tantivy.TextAnalyzer:
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.regex(token_pattern(rust=True)))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .build()
    )


def build_bigram_analyzer() -> tantivy.TextAnalyzer:
    """The bigram field's values are already tokens separated by spaces."""
    return tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build()


# Ends every pair value: a token no query asks for, which keeps runs 3 positions apart (see
# pair_cover). Not a pair: pairs hold no "|".
RUN_END = " |"

# Word tokens (one Han character, or an ASCII word/code once full-width forms are folded) are
# what pair tokens are made of; every other token (punctuation, line break, other marks) ends
# a run. In a pair an ASCII word carries a closing "_" so that pairs of two ASCII words are
# unambiguous (``ct_18_`` ≠ ``c_t18_``); "_" itself is a mark token, never inside a word.
_ASCII_WORD = "[a-z0-9]+(?:\\.[a-z0-9]+)*"
_ASCII_WORD_RE = re.compile(_ASCII_WORD)


# Full-width letters, digits and dot → ASCII (what ascii_fold does to word tokens). Not \r:
# the Rust tokenizer skips a lone \r, so it must not become a line break here.
_WIDTH_FOLD = {cp: cp - 0xFEE0 for cp in (*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B),
                                          *range(0xFF41, 0xFF5B), 0xFF0E)}
_WIDTH_RE = re.compile("[\uff0e\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]")
# Candidate runs: Han, ASCII alnum, dots and (skipped) spaces. Pure-Han candidates are runs
# as they stand; the others are cut token by token (a dot outside a word is a mark).
_CANDIDATE_RE = re.compile(f"[{_han_class(rust=False)}A-Za-z0-9. ]{{2,}}")
_HAS_ASCII_RE = re.compile("[A-Za-z0-9.]")
# Inside a candidate: Han character | ASCII word | a dot outside a word (a mark: ends a run).
_CANDIDATE_TOKEN_RE = re.compile(f"[{_han_class(rust=False)}]|{_ASCII_WORD}|\\.")


def _pairs_of_words(candidate: str) -> list[str]:
    """Pair values of a candidate holding ASCII: a loop over its few tokens."""
    values: list[str] = []
    words: list[str] = []
    for tok in _CANDIDATE_TOKEN_RE.findall(candidate.lower()):
        if tok == ".":
            _flush(words, values)
            words = []
        else:  # Han characters sort above "~"; ASCII words get their closing mark
            words.append(tok if tok > "~" else tok + "_")
    _flush(words, values)
    return values


def _flush(words: list[str], values: list[str]) -> None:
    if len(words) > 1:
        values.append(" ".join(map(add, words, words[1:])) + RUN_END)


# Characters neither ASCII, Han, skipped whitespace nor full-width alnum/dot: each one is a
# mark token for tantivy, but lowercase + ascii_fold turn some into ASCII words (① → "1",
# é → "e", ß → "ss", the Kelvin sign → "k"), which a query word can then match. Pages with
# such a character take the exact slow path over tantivy's own tokens.
_OTHER_RE = re.compile(
    f"[^\\x00-\\x7f{_han_class(rust=False)}{_SKIPPED}\\uff0e\\uff10-\\uff19\\uff21-\\uff3a\\uff41-\\uff5a]"
)
_WORDLIKE: dict[str, bool] = {}


def _has_wordlike_mark(text: str) -> bool:
    for ch in set(_OTHER_RE.findall(text)):
        wordlike = _WORDLIKE.get(ch)
        if wordlike is None:
            wordlike = _WORDLIKE[ch] = any(_ASCII_ALNUM_RE.search(tok) for tok in analyze(ch))
        if wordlike:
            return True
    return False


_ASCII_ALNUM_RE = re.compile("[A-Za-z0-9]")


def _is_word(tok: str) -> bool:
    return (len(tok) == 1 and HAN_RE.match(tok) is not None) or _ASCII_WORD_RE.fullmatch(tok) is not None


def _pairs_of_tokens(tokens: list[str]) -> list[str]:
    """The definition of the pair field, over tantivy's token stream (slow: one loop step per
    token). ``word_pair_values``' fast path must give the same (tested on random text)."""
    values: list[str] = []
    words: list[str] = []
    for tok in tokens:
        if _is_word(tok):
            words.append(tok if tok > "~" else tok + "_")
        else:
            _flush(words, values)
            words = []
    _flush(words, values)
    return values


def word_pair_values(text: str) -> list[str]:
    """Schema 3 pair field: one value per run of adjacent word tokens, its overlapping pairs.

    A run may mix Han characters and ASCII words, so mixed words (病3级 → 病3_ 3_级,
    行PCI术, 胸部X线) are pair phrases too instead of unigram phrases over very common
    tokens. Runs end at every non-word token, and each run is a separate value (tantivy's
    position gap), so pairs never join across punctuation or line breaks. Only ASCII letters
    are lowercased (str.lower() on the whole text would turn e.g. the Kelvin sign, a mark
    token, into the word "k"). Pure-Han runs, most of them, need no Python loop.
    """
    if _has_wordlike_mark(text):
        return _pairs_of_tokens(analyze(text))
    if _WIDTH_RE.search(text):
        text = text.translate(_WIDTH_FOLD)
    values = []
    for cand in _CANDIDATE_RE.findall(_SKIPPED_RE.sub(" ", _GAP_RE.sub("\n", text))):
        if _HAS_ASCII_RE.search(cand):
            values += _pairs_of_words(cand)
        else:
            run = cand.replace(" ", "")
            if len(run) > 1:
                values.append(" ".join(map(add, run, run[1:])) + RUN_END)
    return values


def pair_cover(pairs: list[str]) -> list[tuple[int, str]]:
    """(offset, pair) for a phrase query: every other pair plus the last one. Pairs at offsets
    i and i + 2 of one run cover four adjacent tokens, so this is exact as long as two runs
    can never sit within 2 positions of each other — the reason for ``RUN_END`` (last pair of
    a run at p, end mark at p + 1, tantivy's value gap at p + 2, next run from p + 3). A phrase
    of 12 pairs (a 13-character diagnosis) reads 7 postings lists instead of 12."""
    offsets = sorted({*range(0, len(pairs), 2), len(pairs) - 1})
    return [(i, pairs[i]) for i in offsets]


def pair_tokens(tokens: tuple[str, ...] | list[str]) -> list[str] | None:
    """The pairs of a query's analysed tokens, or None when a token is not a word token
    (then only the unigram phrase over the text field is exact)."""
    if len(tokens) < 2:
        return None
    if not all(map(_is_word, tokens)):
        return None
    words = [tok if tok > "~" else tok + "_" for tok in tokens]
    return list(map(add, words, words[1:]))


def build_keyword_analyzer() -> tantivy.TextAnalyzer:
    """Whole value as one lowercase token: record numbers, ID numbers, ICD codes."""
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.raw())
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .build()
    )


@lru_cache(maxsize=1)
def _analyzer() -> tantivy.TextAnalyzer:
    return build_analyzer()


def analyze(text: str) -> list[str]:
    """Tokens of a text or a query word, exactly as the index sees them."""
    return _analyzer().analyze(text)


def keyword(value: str) -> str:
    return fold(normalize(value)).strip().lower()


def is_identifier(tokens: list[str]) -> bool:
    """One ASCII word/code: worth looking up in the record-number and ID fields too."""
    return len(tokens) == 1 and tokens[0][:1].isascii() and tokens[0][:1].isalnum()


def match_pattern(tokens: list[str]) -> re.Pattern[str]:
    """A Python regex finding a token sequence in original text (for snippets).

    Whitespace may sit between tokens (it is skipped when indexing), a soft wrap too (U+2028,
    formats/wraps.py); ASCII tokens need word boundaries so ``ct`` is not found inside ``pct``.
    """
    parts = []
    for tok in tokens:
        piece = re.escape(tok)
        if tok[:1].isascii() and tok[:1].isalnum():
            piece = rf"(?<![A-Za-z0-9])(?<![A-Za-z0-9]\.){piece}(?![A-Za-z0-9]|\.[A-Za-z0-9])"
        parts.append(piece)
    return re.compile(r"[ \t\u3000\u2028]*".join(parts), re.IGNORECASE)
