"""Compiling the query AST and the permission scope into tantivy queries (schema of
``tantivy_index.build_schema``).

* A text word is a phrase over the analyser's tokens, or over the word-pair fields when it is
  made of 2+ word tokens (analysis.py).
* A code prefix (``诊断:J18*``) is a regex query over the keyword field's raw terms: the FST
  walk visits only the terms under the prefix. Measured on a 1 M-page codes-only index (20k
  distinct codes, 100k record numbers), top-400 with a 3-department scope: 0.05–6.6 ms per pass,
  against 0.04–3.1 ms for a side field holding every prefix as a term (worst: one digit of a
  record number, 38k pages); but that field grew the index 14 → 48 MB and its build 60 → 101 s.
* The permission filter is a flat union of precomputed ``access`` terms (``access_terms``).
"""
from __future__ import annotations

import re
from datetime import date, datetime

import tantivy

from bingan import clock
from bingan.search import query as q
from bingan.search.analysis import is_identifier, keyword, normalize, pair_cover, pair_tokens
from bingan.search.negation import AFFIRMED_FIELD
from bingan.search.port import CONFIDENTIALITY_LEVELS, PageDoc, Scope

ACCESS_UNION_MAX = 64  # more access terms than this: one term-set bitset instead of a union
SEP = "\x1f"  # inside access terms: cannot occur in department/campus codes

Occur = tantivy.Occur


def access_terms(doc: PageDoc) -> list[str]:
    """The page's permission attributes precomputed as four terms, one per shape of Scope
    (departments × campuses, departments, campuses, everything), each with confidentiality
    and sealed: the scope compiles to a flat union of a few of these terms instead of nested
    department/campus/level/sealed clauses walked for every match."""
    tail = f"{doc.confidentiality}{SEP}{int(doc.sealed)}"
    return [
        f"o{SEP}{doc.department}{SEP}{doc.campus}{SEP}{tail}",
        f"d{SEP}{doc.department}{SEP}{tail}",
        f"c{SEP}{doc.campus}{SEP}{tail}",
        f"a{SEP}{tail}",
    ]


def scope_access_terms(s: Scope, *, org: bool = True) -> list[str]:
    """Access terms a scope admits (``org=False``: ignoring departments and campuses, for
    granted records): the levels of ``CONFIDENTIALITY_LEVELS`` up to ``max_confidentiality``."""
    levels = [lvl for lvl in CONFIDENTIALITY_LEVELS if lvl <= s.max_confidentiality]
    tails = [f"{lvl}{SEP}{sealed}" for lvl in levels for sealed in ((0, 1) if s.include_sealed else (0,))]
    if not org or (s.all_departments and s.campuses is None):
        heads = ["a"]
    elif s.all_departments:
        heads = [f"c{SEP}{c}" for c in sorted(s.campuses)]
    elif s.campuses is None:
        heads = [f"d{SEP}{d}" for d in sorted(s.departments)]
    else:
        heads = [f"o{SEP}{d}{SEP}{c}" for d in sorted(s.departments) for c in sorted(s.campuses)]
    return [f"{h}{SEP}{t}" for h in heads for t in tails]



def as_datetime(value: date | datetime) -> datetime:
    """An instant; a date (a query's bound) is the start of that day in the hospital's time."""
    return clock.instant(value)


class Compiler:
    """AST (query.py) → tantivy Query for one schema."""

    def __init__(self, schema: tantivy.Schema, *, text_fields: tuple[str, str] = ("text", "text_pairs"),
                 access_field: str = "access") -> None:
        """The field names differ for the aggregated record documents (tantivy_records.py)."""
        self.schema = schema
        self.text_fields = text_fields
        self.access_field = access_field

    def compile(self, node: q.Node, scope: tantivy.Query | None = None) -> tantivy.Query:
        """``scope`` (the permission filter) is pushed into every OR branch: a union is walked
        in full whatever it is intersected with, so ``(A OR B) AND scope`` evaluates A's and B's
        phrases on every page, while ``(A AND scope) OR (B AND scope)`` lets the filter's bitset
        drive each branch (measured at 1 M pages: 发热 OR 双肺呼吸音粗 top-400 pass 47 → 25 ms,
        aggregation 42 → 23 ms). Scores are unchanged: the filter scores 0."""
        if isinstance(node, q.MatchAll):
            return tantivy.Query.all_query()
        if isinstance(node, q.Term):
            return self.term(node)
        if isinstance(node, q.Prefix):
            return self.prefix(node)
        if isinstance(node, q.Range):
            return self.range(node)
        if isinstance(node, q.Not):
            return self.boolean([], [node.child], scope)
        if isinstance(node, q.Or):
            return tantivy.Query.boolean_query(
                [(Occur.Should, self.branch(child, scope)) for child in node.children]
            )
        positive = [c for c in node.children if not isinstance(c, q.Not)]
        negative = [c.child for c in node.children if isinstance(c, q.Not)]
        return self.boolean(positive, negative, scope)

    def branch(self, node: q.Node, scope: tantivy.Query | None) -> tantivy.Query:
        compiled = self.compile(node, scope)
        if scope is None or isinstance(node, q.Or):  # a nested OR filtered its own branches
            return compiled
        return tantivy.Query.boolean_query([(Occur.Must, compiled), (Occur.Must, scope)])

    def boolean(
        self, positive: list[q.Node], negative: list[q.Node], scope: tantivy.Query | None = None
    ) -> tantivy.Query:
        clauses = [(Occur.Must, self.compile(c, scope)) for c in positive]
        if not clauses:  # a pure negation means "everything else in scope"
            clauses.append((Occur.Must, tantivy.Query.all_query()))
        # excluded subtrees are only tested on candidates: no filter needed inside them
        clauses += [(Occur.MustNot, self.compile(c)) for c in negative]
        return tantivy.Query.boolean_query(clauses)

    def phrase(self, field: str, tokens: tuple[str, ...]) -> tantivy.Query:
        if len(tokens) == 1:
            return tantivy.Query.term_query(self.schema, field, tokens[0])
        return tantivy.Query.phrase_query(self.schema, field, list(tokens))

    def text(self, tokens: tuple[str, ...], field: str | None = None, pairs_field: str | None = None) -> tantivy.Query:
        """Words of 2+ word tokens (Han characters and ASCII words, e.g. 肺炎, 病3级, 行PCI术):
        a pair term or a phrase of pairs, far fewer and shorter postings than the unigram
        phrase; single tokens and anything with punctuation are the unigram phrase."""
        field, pairs_field = field or self.text_fields[0], pairs_field or self.text_fields[1]
        pairs = pair_tokens(tokens)
        if not pairs:
            return self.phrase(field, tokens)
        if len(pairs) == 1:
            return self.exact(pairs_field, pairs[0])
        return tantivy.Query.phrase_query(self.schema, pairs_field, pair_cover(pairs))

    def affirmed(self, tokens: tuple[str, ...]) -> tantivy.Query:
        """Outside negated mentions (排除否定描述): the text of a page without any negation, the
        affirmed_text of the others. Only pages with a negation carry that field, and it has no
        word-pair field: each would have added most of a page's indexing cost again for the
        share of pages with a negation (bench/README.md)."""
        unnegated = tantivy.Query.boolean_query(
            [(Occur.Must, self.text(tokens)), (Occur.MustNot, self.exact("negated", "1"))])
        return self.either(unnegated, self.phrase(AFFIRMED_FIELD, tokens))

    def exact(self, field: str, value: str) -> tantivy.Query:
        return tantivy.Query.term_query(self.schema, field, value)

    def either(self, *queries: tantivy.Query) -> tantivy.Query:
        return tantivy.Query.boolean_query([(Occur.Should, x) for x in queries])

    def term(self, t: q.Term) -> tantivy.Query:
        kw = keyword(t.text)
        match t.field:
            case None:
                text = self.affirmed(t.tokens) if t.affirmed else self.text(t.tokens)
                if not is_identifier(list(t.tokens)):
                    return text
                return self.either(
                    text, self.exact("record_keys", kw), self.exact("id_number", kw)
                )
            case "record":
                return self.exact("record_keys", kw)
            case "id":
                return self.exact("id_number", kw)
            case "name":
                return self.phrase("patient_name", t.tokens)
            case "tag":
                return self.exact("tags", normalize(t.text).strip())
            case "kind":
                return self.exact("record_kind", t.text)
            case "diagnosis" | "operation":
                prefix = t.field
                names = self.text(t.tokens, f"{prefix}_names", f"{prefix}_pairs")
                return self.either(self.exact(f"{prefix}_codes", kw), names)
        code_field, name_field = {
            "dept": ("department", "department_name"),
            "category": ("category", "category_name"),
            "type": ("document_type", "document_type_name"),
        }[t.field]
        raw = normalize(t.text).strip()
        return self.either(self.exact(code_field, raw), self.phrase(name_field, t.tokens))

    def prefix(self, p: q.Prefix) -> tantivy.Query:
        """Terms of the keyword field starting with the prefix (tantivy regexes match whole
        terms). Every character but [a-z0-9] is written as a hex escape: ``\\<`` and the like
        are assertions in Rust's regex syntax, not literals."""
        literal = re.sub("[^a-z0-9]", lambda m: f"\\x{{{ord(m[0]):X}}}", p.prefix)
        return tantivy.Query.regex_query(self.schema, q.PREFIX_FIELDS[p.field], literal + ".*")

    def range(self, r: q.Range) -> tantivy.Query:
        if r.field in q.DATE_FIELDS:
            field = "discharged_at" if r.field == "discharged" else "admitted_at"
            ftype = tantivy.FieldType.Date
            lo = as_datetime(r.lo) if r.lo is not None else None
            hi = as_datetime(r.hi) if r.hi is not None else None
        else:
            field, ftype, lo, hi = r.field, tantivy.FieldType.Integer, r.lo, r.hi
        return tantivy.Query.range_query(
            self.schema, field, ftype, lower_bound=lo, upper_bound=hi,
            include_upper=hi is None,
        )

    def scope(self, s: Scope) -> tantivy.Query:
        """The permission filter as clauses of the query (never a post-filter): the access
        terms the scope admits (plus granted records with their own level/sealed terms), then
        the rarely used tag, category and withheld-record clauses."""
        visible = [(Occur.Should, self.access(scope_access_terms(s)))]
        if s.granted_record_ids:
            granted = tantivy.Query.boolean_query([
                (Occur.Must, self.any_of("record_id", sorted(s.granted_record_ids))),
                (Occur.Must, self.access(scope_access_terms(s, org=False))),
            ])
            visible.append((Occur.Should, granted))
        must = [(Occur.Must, tantivy.Query.boolean_query(visible))]
        if s.allowed_categories is not None:
            must.append((Occur.Must, self.any_of("category", sorted(s.allowed_categories))))
        if s.denied_tags:
            must.append((Occur.MustNot, self.any_of("tags", sorted(s.denied_tags))))
        if s.withheld_record_ids:
            must.append((Occur.MustNot, self.any_of("record_id", sorted(s.withheld_record_ids))))
        return tantivy.Query.const_score_query(tantivy.Query.boolean_query(must), 0.0)

    def access(self, terms: list[str]) -> tantivy.Query:
        """A union of term queries (seekable, no setup). Measured at 1 M pages, whole
        ``search()`` per query, interleaved, CPU p50/p95: union 15.7 / 42.7 ms, term-set
        bitset 17.5 / 47.3 ms (the bitset is rebuilt for every use, and the filter is used
        once per OR branch and per pass); schema 2's nested clauses cost twice the union in
        the top-k pass. Very wide scopes (hundreds of terms) use the term set."""
        if not terms:
            return tantivy.Query.empty_query()
        if len(terms) > ACCESS_UNION_MAX:
            return tantivy.Query.term_set_query(self.schema, self.access_field, terms)
        if len(terms) == 1:
            return self.exact(self.access_field, terms[0])
        return self.either(*(self.exact(self.access_field, t) for t in terms))

    def any_of(self, field: str, values: list) -> tantivy.Query:
        """A few values: a union of term scorers (seekable, cost ∝ candidates). Many values
        (grants): a term-set bitset, built from those terms' postings only."""
        if not values:
            return tantivy.Query.empty_query()
        if len(values) > 16:
            return tantivy.Query.term_set_query(self.schema, field, values)
        if len(values) == 1:
            return self.exact(field, values[0])
        return self.either(*(self.exact(field, v) for v in values))
