"""Negated mentions in Chinese records (否认结核病史, 未见肺炎征象, 无发热) and the search switch
"排除否定描述" that drops matches standing inside one.

The rule (README, 检索 section, says the same in Chinese):

* A **negation cue** opens a negated span at the cue: 否认, 无, 没有, 未见, 未闻及, 未触及, 未扪及,
  未引出, 未发现, 未出现, 未诉, 未及, 不伴, 不伴有, 排除, 除外, 不考虑.
* The span runs **to the next boundary**: a punctuation mark other than the enumeration comma
  (，。；：！？,.;:!? and a line break or field gap; a dot inside a code such as J18.9 is not one)
  or a word that starts a new clause or a positive finding: 但, 然而, 而, 伴 (not 不伴), 可见,
  可闻及, 可触及, 可扪及. So 否认高血压、糖尿病史 negates both diseases, 无发热但有咳嗽 only 发热,
  and 未见异常，肺部可闻及湿啰音 keeps the crackles. A cue inside an open span changes nothing.
* **Closed phrases** are negated on their own and open no span: 无明显诱因, 无明确诱因, 无诱因,
  无明显原因 — in 无明显诱因出现咳嗽 the cough is affirmed (the negation is about the cause).
* **Not cues**: words beginning with 无 that name a thing rather than deny one (无菌, 无创, 无痛,
  无效, 无力, 无法, 无须, 无需, 无误, 无名) and 有无 (whether or not).
* **Trailing cues** negate their own clause back to the previous boundary or enumeration comma:
  阴性, 不明显, (-) — 结核菌素试验阴性, 下肢水肿不明显, HBsAg(-)、抗HCV(+) negates HBsAg only.

The index holds a second text field, ``affirmed_text``: the page text with every negated span
replaced by a line break (a token, so no phrase joins across the removed span). With the switch
on, page-text terms search that field (tantivy keeps it only for pages with a negation and reads
the others' own text); codes, names and other fields are not affected. Both
adapters compute the field with ``affirmed_text`` and the brute-force checker evaluates the
rule by positions (bingan/search/checking.py), so the two must agree exactly.
"""
from __future__ import annotations

import re
from dataclasses import replace

from bingan.search import query as q

PRE_CUES = ("否认", "没有", "未见", "未闻及", "未触及", "未扪及", "未引出", "未发现", "未出现", "未诉",
            "未及", "不伴有", "不伴", "排除", "除外", "不考虑", "无")
CLOSED = ("无明显诱因", "无明确诱因", "无诱因", "无明显原因")
NOT_CUES = ("无菌", "无创", "无痛", "无效", "无力", "无法", "无须", "无需", "无误", "无名", "有无")
# (-) in each mix of half- and full-width brackets and hyphen (the text is not width-folded here)
POST_CUES = ("阴性", "不明显", *(f"{a}{b}{c}" for a in "(（" for b in "-－" for c in ")）"))
BOUNDARY_WORDS = ("但", "然而", "而", "伴", "可见", "可闻及", "可触及", "可扪及")
# Half- and full-width: the text is matched as written (``normalize`` would cost a pass per page).
BOUNDARY_MARKS = ",;:!?，；：！？\n\r\t。…"
ENUMERATION = "、"

AFFIRMED_FIELD = "affirmed_text"


def _alternation(kind: str, words: tuple[str, ...]) -> str:
    # longest first, so 不伴有 wins over 不伴 and 无明显诱因 over 无
    return f"(?P<{kind}>" + "|".join(map(re.escape, sorted(words, key=len, reverse=True))) + ")"


_ALNUM = "A-Za-z0-9\uff10-\uff19\uff21-\uff3a\uff41-\uff5a"
_MARK = f"[{re.escape(BOUNDARY_MARKS)}]|[ \u3000]{{2,}}|(?<![{_ALNUM}])[.．]|[.．](?![{_ALNUM}])"
# What starts or ends a negation; at one position the first alternative wins (无明显诱因 before 无,
# 有无 before 无, 不伴有 before 不伴).
_TRIGGER_RE = re.compile("|".join((
    _alternation("closed", CLOSED), _alternation("pseudo", NOT_CUES), _alternation("cue", PRE_CUES),
    _alternation("post", POST_CUES),
)))
# The end of a cue's span: a mark or a clause word (伴 of 不伴 is part of the cue, not the end).
_END_RE = re.compile(f"{_MARK}|" + "|".join(re.escape(w) if w != "伴" else "(?<!不)伴" for w in BOUNDARY_WORDS))
# Where a trailing cue's clause begins: after the last mark, clause word or enumeration comma.
_CLAUSE_RE = re.compile(f"{_MARK}|{ENUMERATION}|" + "|".join(map(re.escape, BOUNDARY_WORDS)))


def negated_spans(text: str) -> list[tuple[int, int]]:
    """[start, end) character spans of ``text`` that stand inside a negation, in order, disjoint.
    Looks only at the cues and, from each, for its end: most characters are never visited by
    Python (a page costs a few µs plus ~1 µs per cue)."""
    spans: list[tuple[int, int]] = []
    pos = clause = 0  # clause: where a trailing cue's clause may begin at the earliest
    while (m := _TRIGGER_RE.search(text, pos)) is not None:
        kind, pos = m.lastgroup, m.end()
        if kind == "closed":
            spans.append(m.span())
            clause = m.end()
        elif kind == "cue":
            end = _END_RE.search(text, m.end())
            if end is None:
                spans.append((m.start(), len(text)))
                break
            spans.append((m.start(), end.start()))
            pos = clause = end.end()
        elif kind == "post":
            for boundary in _CLAUSE_RE.finditer(text, clause, m.start()):
                clause = boundary.end()
            spans.append((clause, m.end()))
            clause = m.end()
    return _merged(spans)


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def affirmed_text(text: str) -> str:
    """The text without its negated spans, each replaced by a line break (a token of its own:
    the words on either side never form a phrase). Indexed as ``affirmed_text``."""
    spans = negated_spans(text)
    if not spans:
        return text
    parts, last = [], 0
    for start, end in spans:
        parts.append(text[last:start])
        parts.append("\n")
        last = end
    parts.append(text[last:])
    return "".join(parts)


def exclude_negated(node: q.Node) -> q.Node:
    """The query with every page-text term searching only affirmed mentions (the switch
    "排除否定描述"). Under NOT as well: ``肺炎 -结核`` then keeps a record whose only 结核 is
    否认结核病史. Field terms (诊断:, 姓名: …) are left as they are."""
    if isinstance(node, q.Term):
        return replace(node, affirmed=True) if node.field is None else node
    if isinstance(node, q.Not):
        return q.Not(exclude_negated(node.child))
    if isinstance(node, q.And | q.Or):
        return type(node)(tuple(map(exclude_negated, node.children)))
    return node


def text_field(term: q.Term) -> str:
    """The index field a page-text term searches (Elasticsearch: every page has both)."""
    return AFFIRMED_FIELD if term.affirmed else "text"
