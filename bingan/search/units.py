"""The unit a query is true of: 病案 (one stay, the default), 文书 (one document) or 页 (one page).

A clinician asking ``肺炎 咳嗽`` means a record in which both words occur, on any of its current
pages; ``肺炎 -结核`` a record with 肺炎 and 结核 on none of its pages. So, at the record or document
unit, every term is first lifted to the set of units having a matching page (within the user's
scope: pages the user may not see never make a unit match), and AND, OR and NOT are set algebra
over those units. A term itself is still tested page by page: a phrase never runs across a page
or a field boundary.

Field terms keep their own unit: 文书: and 类别: name a document, so at the record unit an AND
group holding one is evaluated per document (``文书:出院记录 肺炎`` = 肺炎 inside a discharge summary;
``(文书:出院记录 肺炎) 咳嗽`` = that, and 咳嗽 anywhere in the record). Fields of the record (诊断:,
科室:, 出院:…) are the same on all its pages.

The pages shown for a matching unit (snippets, page counts) are its pages matching the query's
positive part (``hit_pages``): the terms not under a NOT, an AND of them read as OR (its terms
may stand on different pages), except that a document field keeps restricting the terms of its
group and a record attribute in an AND with other terms chooses no page (it holds on all). A unit
that matches through negation alone shows all its pages.

When every leaf is page text or an attribute of the record (``on_record_documents``), an adapter
may answer the record unit from one aggregated document per record instead (tantivy does:
tantivy_records.py); ``evaluate`` below is the general path and the definition both must agree with.

This module is pure: an adapter supplies ``keys`` (the units having an in-scope page matching a
node, in one index query) and the evaluation below decides which subtrees can go to the index
whole. Collecting a broad term's units reads a unit id for every matching page, so an AND reads
its children one after the other, each restricted to the units found so far (``within``), and a
NOT reads its excluded terms only among the units already found. When the hit pages alone decide
the units (``direct``: one term, an OR of terms), nothing is collected at all.
"""
from __future__ import annotations

from collections.abc import Callable

from bingan.search import query as q

DOCUMENT_FIELDS = frozenset({"type", "category"})
# A unit key: (record_id, document_id); document_id is 0 at the record unit.
Key = tuple[int, int]
# keys(node, unit, within): the units having an in-scope page matching node; with ``within`` the
# adapter may look among those units' records only (it may also return more: the caller intersects).
Keys = Callable[[q.Node, q.Unit, "set[Key] | None"], set[Key]]


def is_document_term(node: q.Node) -> bool:
    """文书:/类别: (with its numeral variants, an OR of terms of the same field)."""
    if isinstance(node, q.Or):
        return all(is_document_term(c) for c in node.children)
    return isinstance(node, q.Term) and node.field in DOCUMENT_FIELDS


def _uniform(node: q.Node, unit: q.Unit) -> bool:
    """Every leaf has one value on all pages of a unit (an attribute of the record, or of the
    document at the document unit): the subtree can be tested on any page."""
    if isinstance(node, q.Term):
        if node.field is None:
            return False
        return node.field not in DOCUMENT_FIELDS or unit == "document"
    if isinstance(node, q.Prefix | q.Range | q.MatchAll):
        return True
    if isinstance(node, q.Not):
        return _uniform(node.child, unit)
    return all(_uniform(c, unit) for c in node.children)


def _liftable(node: q.Node, unit: q.Unit) -> bool:
    """One index query gives the units of this subtree: a leaf, a uniform subtree, an OR of
    liftable subtrees (a unit has a page matching A or B iff it has one matching A or one
    matching B), or an AND of uniform subtrees and one liftable subtree (a unit has a page
    matching A and has U on every page iff it has a page matching A and U: ``肺炎 出院:2024``)."""
    if isinstance(node, q.Term | q.Prefix | q.Range | q.MatchAll):
        return True
    if isinstance(node, q.Or):
        return all(_liftable(c, unit) for c in node.children)
    if isinstance(node, q.And):
        rest = [c for c in node.children if not _uniform(c, unit)]
        return len(rest) <= 1 and all(_liftable(c, unit) for c in rest)
    return _uniform(node, unit)


def direct(node: q.Node, unit: q.Unit) -> bool:
    """The units are those of the hit pages: the page unit, or a liftable query whose page matches
    are, inside the units it selects, its hit pages (a term, an OR of terms, a term with record
    attributes). The index then searches the pages as they are."""
    return unit == "page" or (_liftable(node, unit) and _pages_are_hits(node, unit))


def _pages_are_hits(node: q.Node, unit: q.Unit) -> bool:
    if isinstance(node, q.And):  # liftable: uniform children and at most one other
        rest = [c for c in node.children if not _uniform(c, unit)]
        return not rest or _pages_are_hits(rest[0], unit)
    return hit_pages(node) == node


def on_record_documents(node: q.Node) -> bool:
    """A record's aggregated document (all its current pages' text, each page a separate value,
    plus the record's attributes) answers the whole query at the record unit: every leaf is page
    text or an attribute of the record. Not a document field (文书:/类别: keep their own unit) and
    not a term outside negated mentions (the aggregated document has no affirmed text)."""
    if isinstance(node, q.Term):
        return node.field not in DOCUMENT_FIELDS and not node.affirmed
    if isinstance(node, q.Prefix | q.Range | q.MatchAll):
        return True
    if isinstance(node, q.Not):
        return on_record_documents(node.child)
    return all(on_record_documents(c) for c in node.children)


def evaluate(node: q.Node, unit: q.Unit, keys: Keys, within: set[Key] | None = None) -> set[Key]:
    """The units (record or document) for which ``node`` holds, among ``within`` when given."""
    if _liftable(node, unit):
        found = keys(node, unit, within)
        return found if within is None else found & within
    if isinstance(node, q.Or):
        return set().union(*(evaluate(c, unit, keys, within) for c in node.children))
    if isinstance(node, q.Not):
        universe = keys(q.MatchAll(), unit, None) if within is None else within
        return universe - evaluate(node.child, unit, keys, universe)
    assert isinstance(node, q.And)
    if unit == "record" and any(is_document_term(c) for c in node.children):
        found = {(record, 0) for record, _ in evaluate(node, "document", keys)}
        return found if within is None else found & within
    positive = [c for c in node.children if not isinstance(c, q.Not)]
    negative = [c.child for c in node.children if isinstance(c, q.Not)]
    # one term at a time, each among the units the previous ones left (terms before compound
    # children: a term's units are one index query)
    found = within
    for child in sorted(positive, key=lambda c: not _liftable(c, unit)):
        if found is not None and not found:
            return set()
        found = evaluate(child, unit, keys, found)
    if found is None:
        found = keys(q.MatchAll(), unit, None)
    for child in negative:
        if not found:
            break
        found = found - evaluate(child, unit, keys, found)
    return found


def hit_pages(node: q.Node) -> q.Node:
    """The page-level query whose matches, inside the matching units, are the hit pages."""
    return _skeleton(node) or q.MatchAll()


def _skeleton(node: q.Node) -> q.Node | None:
    """None: the subtree holds through negation alone (it names no page)."""
    if isinstance(node, q.Term | q.Prefix | q.Range | q.MatchAll):
        return node
    if isinstance(node, q.Not):
        return None
    if isinstance(node, q.Or):  # a unit may hold through a branch that names no page: all its pages
        parts = [_skeleton(c) for c in node.children]
        return q.MatchAll() if None in parts else _either(parts)
    parts = [_skeleton(c) for c in node.children if not isinstance(c, q.Not)]
    parts = [p for p in parts if p is not None]
    if not parts:
        return None
    # a record attribute (诊断:, 出院:…) holds on every page: the other terms choose the pages
    named = [p for p in parts if not _uniform(p, "record")]
    parts = named or parts
    fields = [p for p in parts if is_document_term(p)]
    rest = [p for p in parts if not is_document_term(p)]
    if not fields:
        return _either(rest)
    return q.And((*fields, _either(rest))) if rest else _all(fields)


def _either(parts: list[q.Node]) -> q.Node:
    return parts[0] if len(parts) == 1 else q.Or(tuple(parts))


def _all(parts: list[q.Node]) -> q.Node:
    return parts[0] if len(parts) == 1 else q.And(tuple(parts))


def within_records(within: set[Key] | None, limit: int) -> list[int] | None:
    """The record ids a units query may be restricted to, or None: no restriction asked, or more
    records than ``limit`` (then reading the term unrestricted is cheaper than the id list)."""
    if within is None:
        return None
    records = sorted({record for record, _ in within})
    return records if len(records) <= limit else None
