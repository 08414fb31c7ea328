"""The user query language, parsed once into an AST that each adapter compiles.

Grammar (whitespace separates terms; AND is the default)::

    query   := or
    or      := and ( ("OR" | "|" | "||") and )*
    and     := unary ( ["AND" | "&&"] unary )*
    unary   := ("-" | "NOT" | "!") unary | primary
    primary := "(" or ")" | field ":" value | "\"phrase\"" | word
    value   := word | "\"phrase\"" | range

Fields have Chinese and English names (病案号:/record: — also 住院号:/inpatient: —, 姓名:/name:,
科室:/dept:, 诊断:/diagnosis:,
手术:/operation:, 类别:/category:, 文书:/type:, 身份证:/id:, 住院次数:/stay:, 年份:/year:,
标签:/tag:, 出院:/discharged:, 入院:/admitted:, 病案类型:/kind:). Ranges: ``a..b``, ``a..``,
``..b``, ``>=a``, ``>a``, ``<=a``, ``<a`` or one value; dates may be ``2024``, ``2024-03`` or
``2024-03-31`` and a partial date covers its whole month/year. A diagnosis or operation
code covers its subdivisions as coders write them (``诊断:J18`` = J18, J18.0, J18.900; ``手术:36.06``
= 36.0601); quoted it is that code only (``诊断:"J18.900"``). Codes and numbers take a
trailing ``*`` for a prefix (``诊断:J18*``, ``手术:36.06*``, ``病案号:00123*``, ``身份证:110105*``;
case-insensitive, at least one letter or digit before the ``*``). Full-width punctuation is
accepted (``科室：心内科``, ``（…）``, ``“…”``, ``「…」``). Parentheses attached to a word are part
of it (``乙肝表面抗原(+)``, ``HBsAg(-)``); a group opens after a space. Every error a user can
make raises ``QueryError`` with a Chinese message.

The unit a query is true of (``单位:病案`` default, ``单位:文书``, ``单位:页``; unit:record/
document/page) is read once from anywhere in the query: AND, OR and NOT combine over all of a
record's (or a document's) pages, see units.py. Lower-case ``or``/``and``/``not`` between terms are
searched as words, and ``ParsedQuery.suggestion`` holds the query with them upper-case.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from bingan.search.analysis import analyze, fold, keyword, normalize

MAX_QUERY_CHARS = 1000
MAX_DEPTH = 32


class QueryError(ValueError):
    """A query the user must fix; ``str(error)`` is the Chinese message to show."""


# Results reachable by paging, as Elasticsearch's default max_result_window: an index collects
# offset + limit hits before it can skip, so page 10⁸ would ask for 10⁸ hits.
MAX_RESULT_WINDOW = 10_000


def check_window(offset: int, limit: int) -> None:
    if offset < 0 or limit < 0:
        raise QueryError("分页参数不能为负数")
    if offset + limit > MAX_RESULT_WINDOW:
        raise QueryError(f"只能翻阅前 {MAX_RESULT_WINDOW} 条结果，请增加检索条件缩小范围")


FIELD_ALIASES: dict[str, str] = {
    "病案号": "record", "record": "record", "mrn": "record",
    "住院号": "record", "inpatient": "record",  # a stay's 住院号 is one of the numbers its record is found by
    "姓名": "name", "name": "name",
    "科室": "dept", "dept": "dept", "department": "dept",
    "诊断": "diagnosis", "diagnosis": "diagnosis", "dx": "diagnosis",
    "手术": "operation", "operation": "operation", "op": "operation",
    "类别": "category", "category": "category",
    "文书": "type", "type": "type",
    "身份证": "id", "id": "id",
    "住院次数": "stay", "stay": "stay",
    "年份": "year", "year": "year",
    "标签": "tag", "tag": "tag",
    "出院": "discharged", "discharged": "discharged",
    "入院": "admitted", "admitted": "admitted",
    "病案类型": "kind", "kind": "kind",
}
FIELD_LABELS = {
    "record": "病案号", "name": "姓名", "dept": "科室", "diagnosis": "诊断", "operation": "手术",
    "category": "类别", "type": "文书", "id": "身份证", "stay": "住院次数", "year": "年份",
    "tag": "标签", "discharged": "出院", "admitted": "入院", "kind": "病案类型",
}
DATE_FIELDS = {"discharged", "admitted"}
# Fields whose codes/numbers take a prefix → the keyword field of the index (the same name in
# both adapters) whose values it is matched against.
PREFIX_FIELDS = {
    "record": "record_keys", "id": "id_number",
    "diagnosis": "diagnosis_codes", "operation": "operation_codes",
}
INT_FIELDS = {"stay", "year"}
# A code as coders write it: ICD-10 (J18, J18.900, I10.x00) or ICD-9-CM-3 (36, 36.0601).
CODE_FIELDS = {"diagnosis", "operation"}
_CODE_RE = re.compile(r"(?:[a-z]\d{2}|\d{2})(?:\.[0-9a-z]*)?")
Unit = Literal["record", "document", "page"]
UNIT_ALIASES: dict[str, Unit] = {
    "病案": "record", "record": "record", "文书": "document", "document": "document",
    "页": "page", "page": "page",
}
UNIT_LABELS: dict[Unit, str] = {"record": "病案", "document": "文书", "page": "页"}
UNIT_FIELDS = {"单位", "unit"}
KIND_VALUES = {
    "normal": "normal", "普通": "normal", "death": "death", "死亡": "death",
    "special": "special", "特殊": "special",
}


@dataclass(frozen=True, slots=True)
class Term:
    """A word or phrase; ``field`` None = page text. ``tokens`` as the analyser cuts them.
    ``affirmed``: page text outside negated mentions only (negation.exclude_negated)."""

    field: str | None
    text: str
    tokens: tuple[str, ...]
    affirmed: bool = False


@dataclass(frozen=True, slots=True)
class Prefix:
    """Codes or numbers of ``field`` starting with ``prefix`` (keyword-normalised: lowercase)."""

    field: str
    prefix: str


@dataclass(frozen=True, slots=True)
class Range:
    """Half-open interval [lo, hi) over a date or integer field; None = unbounded."""

    field: str
    lo: date | int | None
    hi: date | int | None


@dataclass(frozen=True, slots=True)
class Not:
    child: Node


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class MatchAll:
    pass


Node = Term | Prefix | Range | Not | And | Or | MatchAll


@dataclass(slots=True)
class ParsedQuery:
    """The AST and the options that say how to evaluate it (query expansion and the negation
    switch plug in here as further options)."""

    root: Node
    warnings: list[str] = field(default_factory=list)
    unit: Unit = "record"
    suggestion: str = ""  # the query the user probably meant (是否要找…), or ""

    def highlight_terms(self) -> list[Term]:
        """Text terms a matching page contains (not under a negation), for snippets."""
        return list(_positive_text_terms(self.root))


def _positive_text_terms(node: Node):
    if isinstance(node, Term) and node.field is None:
        yield node
    elif isinstance(node, And | Or):
        for child in node.children:
            yield from _positive_text_terms(child)


# ---------------------------------------------------------------- lexer

# Opening quote → the quotes that may close it. IMEs and pasted text mix straight and curly
# double quotes (“…“, "…”), so any double quote closes any double quote.
_DOUBLE = '"“”„'
_QUOTES = {**dict.fromkeys(_DOUBLE, _DOUBLE), "「": "」", "『": "』", "‘": "’‘"}
_BREAK = set(" \t\n()") | set(_QUOTES)


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # WORD PHRASE FIELD LP RP OR AND NOT
    value: str = ""
    extra: str = ""  # FIELD: the value; PHRASE-valued field marks extra="phrase"
    quoted: bool = False


def _read_phrase(text: str, i: int) -> tuple[str, int]:
    closers = _QUOTES[text[i]]
    end = next((j for j in range(i + 1, len(text)) if text[j] in closers), -1)
    if end < 0:
        raise QueryError("引号未闭合：请检查查询中的引号是否成对")
    return text[i + 1 : end], end + 1


def _read_word(text: str, i: int) -> tuple[str, int]:
    """A word runs to the next space, quote or parenthesis, except that a parenthesis attached
    to the word and closed inside it belongs to it: 乙肝表面抗原(+) and HBsAg(-) are one term,
    not a term followed by a group (after ``field:`` a parenthesis still opens a group)."""
    j = i
    while j < len(text):
        if text[j] == "(" and j > i and text[j - 1] != ":":
            close = _attached_close(text, j)
            if close is None:
                break
            j = close + 1
        elif text[j] in _BREAK:
            break
        else:
            j += 1
    return text[i:j], j


def _attached_close(text: str, start: int) -> int | None:
    """Index of the ")" matching the "(" at ``start`` before any space or quote, or None."""
    depth = 0
    for k in range(start, len(text)):
        ch = text[k]
        if ch.isspace() or ch in _QUOTES:
            return None
        depth += (ch == "(") - (ch == ")")
        if depth == 0:
            return k
    return None


def _lex(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "()":
            toks.append(_Tok("LP" if ch == "(" else "RP"))
            i += 1
        elif ch in _QUOTES:
            phrase, i = _read_phrase(text, i)
            toks.append(_Tok("WORD", phrase, quoted=True))
        elif ch in "-!" and (i + 1 == len(text) or not text[i + 1].isspace()):
            toks.append(_Tok("NOT"))
            i += 1
        else:
            tok, i = _lex_word(text, i)
            toks.append(tok)
    return toks


def _lex_word(text: str, i: int) -> tuple[_Tok, int]:
    word, j = _read_word(text, i)
    if word in ("OR", "|", "||"):
        return _Tok("OR"), j
    if word in ("AND", "&&"):
        return _Tok("AND"), j
    if word == "NOT":
        return _Tok("NOT"), j
    name, sep, value = word.partition(":")
    if not sep or not name:
        return _Tok("WORD", word), j
    if not value and j < len(text) and text[j] in _QUOTES:
        value, j = _read_phrase(text, j)
        return _Tok("FIELD", name, value, quoted=True), j
    return _Tok("FIELD", name, value), j


# ---------------------------------------------------------------- parser


class _Parser:
    def __init__(self, toks: list[_Tok]) -> None:
        self.toks = toks
        self.pos = 0
        self.depth = 0
        self.warnings: list[str] = []

    def peek(self) -> _Tok | None:
        return self.toks[self.pos] if self.pos < len(self.toks) else None

    def take(self) -> _Tok:
        tok = self.toks[self.pos]
        self.pos += 1
        return tok

    def parse(self) -> Node:
        node = self.parse_or()
        if self.peek() is not None:
            raise QueryError("括号不匹配：多了一个右括号“)”")
        return node

    def parse_or(self) -> Node:
        children = [self.parse_and()]
        while (tok := self.peek()) is not None and tok.kind == "OR":
            self.take()
            if self.peek() is None or self.peek().kind in ("OR", "RP"):
                raise QueryError("OR 后缺少检索词")
            children.append(self.parse_and())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def parse_and(self) -> Node:
        children: list[Node] = []
        while (tok := self.peek()) is not None and tok.kind not in ("OR", "RP"):
            if tok.kind == "AND":
                self.take()
                if not children or self.peek() is None or self.peek().kind in ("OR", "RP", "AND"):
                    raise QueryError("AND 两侧都需要检索词")
                continue
            children.append(self.parse_unary())
        if not children:
            raise QueryError("缺少检索词：OR 或括号旁边不能为空")
        return children[0] if len(children) == 1 else And(tuple(children))

    def parse_unary(self) -> Node:
        tok = self.take()
        if tok.kind == "NOT":
            nxt = self.peek()
            if nxt is None or nxt.kind in ("OR", "RP", "AND"):
                raise QueryError("NOT（或减号）后缺少要排除的检索词")
            return Not(self.parse_unary())
        if tok.kind == "LP":
            return self.parse_group()
        if tok.kind == "RP":
            raise QueryError("括号不匹配：多了一个右括号“)”")
        if tok.kind == "FIELD":
            return self.parse_field(tok)
        if "*" in tok.value and not tok.quoted:
            _refuse_bare_star(tok.value)
        return _text_term(None, tok.value)

    def parse_group(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise QueryError("查询嵌套层数过多")
        if self.peek() is not None and self.peek().kind == "RP":
            raise QueryError("括号内缺少检索词")
        node = self.parse_or()
        if self.peek() is None or self.peek().kind != "RP":
            raise QueryError("括号不匹配：缺少右括号“)”")
        self.take()
        self.depth -= 1
        return node

    def parse_field(self, tok: _Tok) -> Node:
        canonical = FIELD_ALIASES.get(tok.value.lower())
        if canonical is None:
            whole = f"{tok.value}:{tok.extra}"
            if re.fullmatch(r"[A-Za-z_\u4e00-\u9fff]+", tok.value):
                self.warnings.append(f"未知字段“{tok.value}”，已按普通文本检索“{whole}”")
            return _text_term(None, whole)
        value = tok.extra.strip()
        if not value:
            raise QueryError(f"字段“{FIELD_LABELS[canonical]}”后缺少检索值")
        if "*" in value and not tok.quoted:
            return parse_prefix(canonical, value)
        if canonical in DATE_FIELDS or canonical in INT_FIELDS:
            return parse_range(canonical, value)
        if canonical == "kind":
            return _kind_term(value)
        if canonical in CODE_FIELDS and not tok.quoted and _CODE_RE.fullmatch(keyword(value)):
            return _code_tree(canonical, value)
        return _text_term(canonical, value)


def _text_term(field_name: str | None, text: str) -> Term | Or:
    """The term, or the term OR its numeral variants (2型糖尿病 → also II型糖尿病)."""
    tokens = tuple(analyze(text))
    if not tokens:
        raise QueryError("检索词为空")
    term = Term(field_name, text, tokens)
    variants = _numeral_variants(tokens)
    if not variants:
        return term
    # " ".join: whitespace is skipped by the analysers, so the text analyses to these tokens
    return Or((term, *(Term(field_name, " ".join(v), v) for v in variants)))


# Arabic and Roman numerals name the same type, degree, stage or grade (2型 = Ⅱ型 = II型,
# 高血压3级 = 高血压Ⅲ级; Ⅱ is folded to II before this). 5 and 10 are left out: V型 and X型
# are as often shapes (X型腿). Chinese numerals too: 患者一度昏迷 is "at one point".
_NUMERALS = {"1": "i", "2": "ii", "3": "iii", "4": "iv", "6": "vi", "7": "vii", "8": "viii",
             "9": "ix", "11": "xi", "12": "xii"}
_NUMERALS |= {roman: arabic for arabic, roman in _NUMERALS.items()}
_GRADED = frozenset("型度期级")
MAX_NUMERALS = 3  # numerals varied per term: at most 2³ − 1 variants


def _numeral_variants(tokens: tuple[str, ...]) -> list[tuple[str, ...]]:
    spots = [i for i in range(len(tokens) - 1) if tokens[i] in _NUMERALS and tokens[i + 1] in _GRADED]
    spots = spots[:MAX_NUMERALS]
    variants = []
    for mask in range(1, 2 ** len(spots)):
        alt = list(tokens)
        for bit, i in enumerate(spots):
            if mask >> bit & 1:
                alt[i] = _NUMERALS[alt[i]]
        variants.append(tuple(alt))
    return variants


def _code_tree(field_name: str, value: str) -> Node:
    """The code and its subdivisions: J18 → J18 and J18.*; J18.9 → every code starting J18.9
    (J18.900); the names still match the value as a phrase."""
    stem = keyword(value)
    if "." not in stem:
        stem += "."
    return Or((Term(field_name, value, tuple(analyze(value))), Prefix(field_name, stem)))


def _refuse_bare_star(word: str) -> None:
    if word == "*":
        raise QueryError("“*”只能单独使用（列出权限内的全部病案），或放在编码末尾，例如 诊断:J18*")
    raise QueryError(f"“{word}”：前缀检索（*）需写在编码字段后，例如 诊断:J18*、手术:36.06*、病案号:00123*")


def parse_prefix(field_name: str, value: str) -> Prefix:
    """``J18*`` → Prefix("diagnosis", "j18"); refused when it would match (nearly) everything."""
    label = FIELD_LABELS[field_name]
    if field_name not in PREFIX_FIELDS:
        allowed = "、".join(FIELD_LABELS[f] for f in PREFIX_FIELDS)
        raise QueryError(f"字段“{label}”不支持前缀检索（*），可用于：{allowed}")
    stem = value[:-1]
    if not value.endswith("*") or "*" in stem:
        raise QueryError(f"“{label}:{value}”：通配符 * 只能放在末尾，且只能有一个，例如 诊断:J18*")
    prefix = keyword(stem)
    if not re.search("[a-z0-9]", prefix):
        raise QueryError(f"前缀过短：“{label}:{value}”的 * 前至少需要 1 个字母或数字，例如 诊断:J18*")
    return Prefix(field_name, prefix)


def _kind_term(value: str) -> Term:
    kind = KIND_VALUES.get(value.lower())
    if kind is None:
        raise QueryError("病案类型只能是：普通、死亡、特殊（normal / death / special）")
    return Term("kind", kind, (kind,))


# ---------------------------------------------------------------- ranges

_DATE_RE = re.compile(r"(\d{4})(?:[-/.](\d{1,2})(?:[-/.](\d{1,2}))?)?")


def _date_bounds(text: str) -> tuple[date, date]:
    """[first day, day after the last day] of a year, month or day."""
    m = _DATE_RE.fullmatch(text)
    if m is None:
        raise QueryError(f"日期格式错误：“{text}”，应为 2024-01-31、2024-01 或 2024")
    year, month, day = int(m[1]), m[2], m[3]
    try:
        if month is None:
            return date(year, 1, 1), date(year + 1, 1, 1)
        first = date(year, int(month), 1)
        nxt = date(year + (first.month == 12), first.month % 12 + 1, 1)
        if day is None:
            return first, nxt
        one = date(year, int(month), int(day))
        return one, date.fromordinal(one.toordinal() + 1)
    except ValueError as exc:
        raise QueryError(f"日期不存在：“{text}”") from exc


def _int_bounds(text: str, label: str) -> tuple[int, int]:
    if not re.fullmatch(r"\d{1,9}", text):
        raise QueryError(f"“{label}”应为整数，例如 {label}:2 或 {label}:1..3，而不是“{text}”")
    return int(text), int(text) + 1


def _bounds(field_name: str, text: str) -> tuple[date | int, date | int]:
    if field_name in DATE_FIELDS:
        return _date_bounds(text)
    return _int_bounds(text, FIELD_LABELS[field_name])


def parse_range(field_name: str, value: str) -> Range:
    """``a..b`` / ``>=a`` / ``<b`` / one value → half-open [lo, hi)."""
    for op in (">=", "<=", ">", "<"):
        if value.startswith(op):
            lo, hi = _bounds(field_name, value[len(op) :].strip())
            return {
                ">=": Range(field_name, lo, None),
                ">": Range(field_name, hi, None),
                "<=": Range(field_name, None, hi),
                "<": Range(field_name, None, lo),
            }[op]
    if ".." in value:
        left, _, right = value.partition("..")
        if not left and not right:
            raise QueryError(f"“{FIELD_LABELS[field_name]}”的范围两端不能都为空")
        lo = _bounds(field_name, left)[0] if left else None
        hi = _bounds(field_name, right)[1] if right else None
        if lo is not None and hi is not None and lo >= hi:
            raise QueryError(f"“{FIELD_LABELS[field_name]}”的范围起点晚于终点：{value}")
        return Range(field_name, lo, hi)
    lo, hi = _bounds(field_name, value)
    return Range(field_name, lo, hi)


# ---------------------------------------------------------------- entry point


def parse(query: str | ParsedQuery) -> ParsedQuery:
    """Parse a user query; ``*`` alone lists everything in scope. A query parsed already passes
    through: the web layer parses, applies the switches 同义词扩展 (synonyms.Dictionary.expand)
    and 排除否定描述 (negation.exclude_negated) and hands the adapter the result."""
    if isinstance(query, ParsedQuery):
        return query
    text = fold(normalize(query)).strip()
    if not text:
        raise QueryError("请输入检索词")
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"查询过长（最多 {MAX_QUERY_CHARS} 个字符）")
    toks, unit = _take_unit(_lex(text))
    if not toks:
        raise QueryError("请输入检索词（单位:… 只说明按什么单位组合检索词）")
    if [t.kind for t in toks] == ["WORD"] and toks[0].value == "*" and not toks[0].quoted:
        return ParsedQuery(MatchAll(), unit=unit)
    parser = _Parser(toks)
    root = parser.parse()
    return ParsedQuery(root, parser.warnings, unit=unit, suggestion=_suggestion(text, toks))


def _take_unit(toks: list[_Tok]) -> tuple[list[_Tok], Unit]:
    """Remove the ``单位:`` directive; the record is the default unit."""
    units = [t for t in toks if t.kind == "FIELD" and t.value.lower() in UNIT_FIELDS]
    if not units:
        return toks, "record"
    if len(units) > 1:
        raise QueryError("只能指定一个检索单位（单位:病案、单位:文书 或 单位:页）")
    unit = UNIT_ALIASES.get(units[0].extra.strip().lower())
    if unit is None:
        raise QueryError(f"检索单位只能是 病案、文书 或 页，而不是“{units[0].extra}”")
    return [t for t in toks if t is not units[0]], unit


_LOWER_OPERATORS = {"or": "OR", "and": "AND", "not": "NOT"}


def _suggestion(text: str, toks: list[_Tok]) -> str:
    """The query with lower-case or/and/not between terms written upper-case, when any."""
    if not any(t.kind == "WORD" and not t.quoted and t.value in _LOWER_OPERATORS for t in toks[1:-1]):
        return ""
    return upper_operators(text)


def upper_operators(text: str) -> str:
    """``肺炎 or 结核`` → ``肺炎 OR 结核`` (only words standing alone between spaces)."""
    return re.sub(r"(?<=\s)(or|and|not)(?=\s)", lambda m: _LOWER_OPERATORS[m[1]], text)
