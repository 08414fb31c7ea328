"""Aggregated record documents of the tantivy index (schema 10): one document per record holding
all its current pages' text, so that AND/OR/NOT at the record unit (units.py) is one query over
~one document per ten pages instead of a read of every matching page per term.

* Each page's text is a separate value of ``record_text`` and each page's word pairs separate
  values of ``record_pairs`` (the pages' ``text``/``text_pairs``, not stored again): tantivy
  leaves a position between values and every pair run ends with its end mark, so a phrase
  still never crosses a page.
* The record's attributes (numbers, diagnoses, department, dates, tags, access) are those of its
  pages, which all carry the same. Its permission terms are in ``record_access``, not ``access``:
  every page query is filtered on ``access``, so no page query ever finds a record document.
* The index stays derived: the adapter notes the records whose pages change (``Pending``) and,
  in the same commit, rewrites their documents from the pages added since the last commit and
  the pages already committed (read back from the index: ``text`` is stored), minus deleted
  versions. ``record_source`` stores the record's attributes for a rewrite after deletions only.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import date, datetime

import tantivy

from bingan.search.analysis import word_pair_values
from bingan.search.port import PageDoc

MARK_FIELD, MARK = "unit", "record"
SOURCE_FIELD = "record_source"
# what a record document keeps of a page: its attributes (the same on every page of the record)
_PAGE_ONLY = {"document_id", "version_id", "page", "text", "category", "category_name",
              "document_type", "document_type_name"}
_DATES = ("admitted_at", "discharged_at")


def record_doc_id(record_id: int) -> str:
    return f"r{record_id}"


@dataclass(slots=True)
class PendingRecord:
    """What changed for one record since the last commit."""

    attributes: PageDoc | None = None  # the latest added page (folded), for the attributes
    pages: dict[str, tuple[str, list[str]]] = field(default_factory=dict)  # doc_id → text, pairs
    wiped: bool = False  # the whole record was deleted: committed pages no longer count
    deleted_versions: set[int] = field(default_factory=set)


class Pending:
    """Records whose aggregated document must be rewritten at the next commit."""

    def __init__(self) -> None:
        self.records: dict[int, PendingRecord] = {}

    def _of(self, record_id: int) -> PendingRecord:
        return self.records.setdefault(record_id, PendingRecord())

    def added(self, doc: PageDoc, pairs: list[str]) -> None:
        entry = self._of(doc.record_id)
        entry.attributes = doc
        entry.pages[doc.doc_id] = (doc.text or "", pairs)

    def deleted_versions(self, deleted: set[int], committed: dict[int, set[int]]) -> None:
        """``committed``: those of the deleted versions already committed, by record."""
        for record_id, versions in committed.items():
            self._of(record_id).deleted_versions |= versions
        for entry in self.records.values():  # versions added since the last commit and deleted again
            entry.pages = {k: v for k, v in entry.pages.items() if int(k.split(":")[0]) not in deleted}

    def deleted_record(self, record_id: int) -> None:
        self.records[record_id] = PendingRecord(wiped=True)

    def clear(self) -> None:
        self.records.clear()


def rewrite(writer: tantivy.IndexWriter, searcher: tantivy.Searcher, schema: tantivy.Schema,
            pending: Pending, fields_of: Callable[[PageDoc], dict]) -> None:
    """Replace the documents of the pending records (before the pages' commit, in the same one).
    ``fields_of(doc)`` gives a page's record-level index fields (tantivy_index)."""
    for record_id, entry in pending.records.items():
        writer.delete_documents_by_term("doc_id", record_doc_id(record_id))
        pages = {} if entry.wiped else _committed_pages(searcher, schema, record_id, entry.deleted_versions)
        pages.update(entry.pages)
        attributes = entry.attributes or _stored_attributes(searcher, schema, record_id)
        if not pages or attributes is None:
            continue
        texts = [text for text, _ in pages.values()]
        pairs = [value for _, values in pages.values() for value in values]
        writer.add_document(tantivy.Document.from_dict(
            {**fields_of(attributes), "doc_id": record_doc_id(record_id), MARK_FIELD: MARK,
             "record_text": texts, "record_pairs": pairs, SOURCE_FIELD: _source(attributes).encode()},
            schema))
    pending.clear()


def _committed_pages(searcher, schema, record_id: int, deleted: set[int]) -> dict[str, tuple[str, list[str]]]:
    """The record's committed pages (stored text), but those of deleted versions."""
    query = tantivy.Query.boolean_query([
        (tantivy.Occur.Must, tantivy.Query.term_query(schema, "record_id", record_id)),
        (tantivy.Occur.MustNot, tantivy.Query.term_query(schema, MARK_FIELD, MARK)),
    ])
    count = searcher.search(query, limit=1, count=True).count
    if not count:
        return {}
    pages = {}
    for _, address in searcher.search(query, limit=count, count=False).hits:
        stored = searcher.doc(address).to_dict()
        version = stored["version_id"][0]
        if version in deleted:
            continue
        text = (stored.get("text") or [""])[0]
        pages[f"{version}:{stored['page'][0]}"] = (text, word_pair_values(text))
    return pages


def _stored_attributes(searcher, schema, record_id: int) -> PageDoc | None:
    hits = searcher.search(tantivy.Query.term_query(schema, "doc_id", record_doc_id(record_id)), limit=1).hits
    if not hits:
        return None
    source = json.loads(bytes(searcher.doc(hits[0][1]).to_dict()[SOURCE_FIELD][0]))
    for name in _DATES:
        if source.get(name):
            value = source[name]
            source[name] = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    return PageDoc(**source, document_id=0, version_id=0, page=0, text="")


def _source(doc: PageDoc) -> str:
    kept = {f.name: getattr(doc, f.name) for f in fields(doc) if f.name not in _PAGE_ONLY}
    for name in _DATES:
        if kept[name] is not None:
            kept[name] = kept[name].isoformat()
    return json.dumps(kept, ensure_ascii=False)

