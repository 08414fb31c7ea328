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

**Han bigram field (schema 2).** Common 2-character words (肺炎 on half of all pages) made
unigram phrases the expensive part at 1 M pages. ``han_bigram_values`` cuts the same text
into runs of Han characters adjacent in the unigram token stream (skipped whitespace
removed first, anything else ends a run) and emits each run's overlapping bigrams as one
value of a multi-valued field (whitespace tokenizer, so tantivy does the indexing). A word of
n ≥ 2 Han characters then becomes one bigram term (n = 2) or a phrase of n − 1 bigrams.
Exactness: bigram (c_i c_{i+1}) at consecutive positions within one value ⇔ unigrams
c_i … c_{i+n-1} adjacent in the token stream; tantivy leaves a position gap between values of
a field, so a bigram phrase never joins two runs (``糖尿，尿病`` ∌ 糖尿病; tested). tantivy's
``Tokenizer.ngram`` is unusable for this (all grams at position 0). Words with single Han
characters or ASCII (病3级, 行PCI术, CT) stay unigram phrases. The test suite checks that the
analyser leaves every Han code point unchanged, so the Python-cut bigrams and the Rust-cut
unigrams can never disagree. Cost: ~30 µs per page in Python, index +23% (464 → 572 MB at
1 M pages).

Full-width letters, digits and punctuation (``ＣＴ``, ``１８．９``, ``，``) are folded to
ASCII inside the analyser (lowercase + ascii_fold filters), so ``，`` and ``,`` are the same
token. ``normalize`` does the same fold in Python (same length, so character offsets stay
valid) for the query syntax and for snippets.
"""
from __future__ import annotations

import re
from functools import lru_cache
from operator import add

import tantivy

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
BIGRAM_VERSION = "han-runs-v1"  # stored in the index meta: a change here forces a rebuild


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
    """Han character | word/code with inner dots | line break | any other visible mark."""
    han, alnum = _han_class(rust), _alnum_class(rust)
    dot = "[.\\x{FF0E}]" if rust else "[.\uff0e]"
    return (
        f"[{han}]"
        f"|[{alnum}]+(?:{dot}[{alnum}]+)*"
        r"|\n"
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
# Once skipped characters are gone, Han tokens adjacent in the token stream are adjacent
# characters (ASCII words may merge too, which does not matter: only Han runs are kept).
_HAN_RUN_RE = re.compile(f"[{_han_class(rust=False)}]{{2,}}")

# Full-width ASCII → ASCII and ideographic space → space (as ascii_fold does), \r → \n.
_FOLD = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_FOLD[0x3000] = 0x20
_FOLD[0x0D] = 0x0A


def normalize(text: str) -> str:
    """Fold full-width ASCII and line endings; the result has the same length as the input."""
    return text.translate(_FOLD)


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


def han_bigram_values(text: str) -> list[str]:
    """One value per run of adjacent Han tokens: its overlapping bigrams, space-separated.

    ``糖 尿病，肾病`` → ``["糖尿 尿病", "肾病"]``. Each run is a separate value of a
    multi-valued field, and tantivy leaves a position gap between values, so a bigram phrase
    can never join two runs (``糖尿，尿病`` does not contain 糖尿病). Built with C-level
    string operations (``map(add, s, s[1:])``): no Python loop per character.
    """
    runs = _HAN_RUN_RE.findall(_SKIPPED_RE.sub("", text))
    return [" ".join(map(add, run, run[1:])) for run in runs]


def is_han_run(tokens: tuple[str, ...] | list[str]) -> bool:
    """Two or more tokens, every one a single Han character: answerable from the bigram field."""
    return len(tokens) >= 2 and all(len(t) == 1 and HAN_RE.match(t) for t in tokens)


def bigrams(tokens: tuple[str, ...] | list[str]) -> list[str]:
    return list(map(add, tokens, tokens[1:]))


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
    return normalize(value).strip().lower()


def is_identifier(tokens: list[str]) -> bool:
    """One ASCII word/code: worth looking up in the record-number and ID fields too."""
    return len(tokens) == 1 and tokens[0][:1].isascii() and tokens[0][:1].isalnum()


def match_pattern(tokens: list[str]) -> re.Pattern[str]:
    """A Python regex finding a token sequence in original text (for snippets).

    Whitespace may sit between tokens (it is skipped when indexing); ASCII tokens need
    word boundaries so ``ct`` is not found inside ``pct``.
    """
    parts = []
    for tok in tokens:
        piece = re.escape(tok)
        if tok[:1].isascii() and tok[:1].isalnum():
            piece = rf"(?<![A-Za-z0-9])(?<![A-Za-z0-9]\.){piece}(?![A-Za-z0-9]|\.[A-Za-z0-9])"
        parts.append(piece)
    return re.compile(r"[ \t\u3000]*".join(parts), re.IGNORECASE)
