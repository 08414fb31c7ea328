"""Highlight snippets built from stored page text, shared by both adapters.

tantivy's SnippetGenerator highlights single terms, so with unigram phrase queries it would
mark every 病 on the page; Elasticsearch's highlighter differs again. One implementation
here finds the whole matched term (OCR spaces allowed between its tokens) and marks it.
"""
from __future__ import annotations

import html
import re
from functools import lru_cache

from bingan.search.analysis import match_pattern, normalize
from bingan.search.query import Term

WINDOW = 60  # characters of context shown around the first match
# A soft wrap (U+2028, formats/wraps.py) is shown as what it stands for: nothing inside Chinese
# text (browsers would break the line there), a space between two Latin words.
_SOFT_WRAP_AFTER_LATIN = re.compile("(?<=[A-Za-z0-9])\u2028(?=[A-Za-z0-9])")


@lru_cache(maxsize=512)
def _pattern(tokens: tuple[str, ...]) -> re.Pattern[str]:
    return match_pattern(list(tokens))


def _spans(text: str, terms: list[Term]) -> list[tuple[int, int]]:
    spans = []
    for term in terms:
        spans.extend(m.span() for m in _pattern(term.tokens).finditer(text) if m.end() > m.start())
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def make_snippet(text: str, terms: list[Term], window: int = WINDOW) -> str:
    """HTML-escaped excerpt around the first match with every match in it wrapped in <mark>."""
    folded = normalize(text)  # same length as text, so spans index the original
    spans = _spans(folded, terms)
    first = spans[0][0] if spans else 0
    start = max(0, first - window // 3)
    end = min(len(text), start + window)
    out = ["…" if start > 0 else ""]
    cursor = start
    for s, e in spans:
        if e <= start or s >= end:
            continue
        s, e = max(s, start), min(e, end)
        out.append(html.escape(text[cursor:s]))
        out.append(f"<mark>{html.escape(text[s:e])}</mark>")
        cursor = e
    out.append(html.escape(text[cursor:end]))
    out.append("…" if end < len(text) else "")
    return _SOFT_WRAP_AFTER_LATIN.sub(" ", "".join(out)).replace("\u2028", "").replace("\n", " ")
