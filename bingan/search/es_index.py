"""Elasticsearch adapter of the SearchIndex port (scale-out).

* The index template lives in ``mappings/bingan-pages-v<N>.json``; the index is
  ``<prefix>-pages-v<N>`` and the alias ``<prefix>-pages`` points at the version in service.
  A new schema version creates a new index; ``needs_rebuild()`` is True until the reindex
  job calls ``mark_rebuilt()``, which moves the alias.
* Text uses the same token scheme as tantivy (a pattern tokenizer rendered from
  ``analysis.token_pattern``): the standard tokenizer drops punctuation without leaving a
  position gap, so its unigram phrases would run across ``，``. ``text.cjk`` (cjk_bigram with
  unigrams) only adds relevance.
* The request body is a pure function (``search_body``) of the parsed query and the Scope: the
  scope is a ``filter`` of the one query (the same rule as ``Scope.admits`` and the tantivy
  access terms), so hits, totals, collapsed records, the record count and the facets all stay
  inside it. Code prefixes are ``prefix`` queries on the normalised keyword fields. Pages are
  folded like the tantivy side (``analysis.fold_page``) before they are sent.
* Results are grouped by record with field collapsing (pagination counts records); facets
  are terms aggregations counting records (a cardinality per bucket); ``total_records`` is a
  cardinality aggregation, exact below ``EXACT_RECORDS`` (precision threshold).
* The unit (病案/文书/页, units.py): when the hit pages alone decide the units (``units.direct``:
  a term, an OR of terms, the page unit) the one request above is all. Otherwise the units are
  evaluated first, each liftable subtree's units read by a composite aggregation on record_id
  (and document_id), paged with ``after`` (``UNITS_PER_REQUEST`` buckets a request, under
  ``search.max_buckets``); the _search request then asks for the hit pages of those units
  (``terms`` on record_id/document_id in chunks of ``index.max_terms_count``), and the record
  count is exact.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from pathlib import Path

from elasticsearch import Elasticsearch, NotFoundError
from elasticsearch.helpers import streaming_bulk

from bingan import clock
from bingan.search import query as q
from bingan.search.analysis import fold_page, is_identifier, keyword, normalize
from bingan.search.negation import affirmed_text, text_field
from bingan.search.port import (
    CONFIDENTIALITY_LEVELS,
    FACET_NAMES,
    PageDoc,
    PageHit,
    RecordAccess,
    RecordHit,
    Scope,
    SearchIndex,
    SearchResult,
    Sort,
)
from bingan.search.snippets import make_snippet
from bingan.search.units import Key, Keys, direct, evaluate, hit_pages, within_records

SCHEMA_VERSION = 5  # 2: values folded before indexing (analysis.fold_page); 3: dates in the hospital's time zone;
# 4: affirmed_text, the page text without its negated mentions (negation.py); 5: record_keys include the 住院号
MAPPINGS_DIR = Path(__file__).resolve().parents[2] / "mappings"
EXACT_RECORDS = 3000
HITS_PER_RECORD = 3
FACET_SIZE = 50
BULK_CHUNK = 500
UNITS_PER_REQUEST = 10_000  # composite buckets per request (search.max_buckets is 65,536)
TERMS_PER_CLAUSE = 65_536  # index.max_terms_count
WITHIN_RECORDS_MAX = 20_000  # a units query restricted to more records than this is sent unrestricted


def load_template(prefix: str, version: int = SCHEMA_VERSION) -> dict:
    body = json.loads((MAPPINGS_DIR / f"bingan-pages-v{version}.json").read_text(encoding="utf-8"))
    body = {k: v for k, v in body.items() if not k.startswith("_comment")}
    body["index_patterns"] = [f"{prefix}-pages-v{version}"]
    return body


def _date(value: date | datetime | None) -> str | None:
    """An instant with the hospital's offset; a date is the start of the hospital's day."""
    return clock.local(value).isoformat() if value else None


def to_source(doc: PageDoc) -> dict:
    """The indexed document: values folded as the tantivy adapter folds them (analysis.fold)."""
    doc = fold_page(doc)
    return {
        "doc_id": doc.doc_id, "record_id": doc.record_id, "version_id": doc.version_id,
        "document_id": doc.document_id, "page": doc.page, "stay": doc.stay,
        "year": doc.discharge_year, "confidentiality": doc.confidentiality, "sealed": doc.sealed,
        "record_number": doc.record_number, "record_keys": [doc.record_number, *doc.aliases],
        "id_number": doc.id_number, "diagnosis_codes": doc.diagnosis_codes,
        "operation_codes": doc.operation_codes, "category": doc.category,
        "department": doc.department, "record_kind": doc.record_kind, "campus": doc.campus,
        "document_type": doc.document_type, "tags": doc.tags, "patient_name": doc.patient_name,
        "category_name": doc.category_name, "document_type_name": doc.document_type_name,
        "department_name": doc.department_name, "diagnosis_names": doc.diagnosis_names,
        "operation_names": doc.operation_names, "admitted_at": _date(doc.admitted_at),
        "discharged_at": _date(doc.discharged_at), "text": doc.text or "",
        "affirmed_text": affirmed_text(doc.text or ""),
    }


ACCESS_FIELDS = ("department", "department_name", "campus", "confidentiality", "tags", "sealed")
ACCESS_SCRIPT = "".join(f"ctx._source.{name} = params.{name};" for name in ACCESS_FIELDS)


def access_source(access: RecordAccess) -> dict:
    """The access fields as ``to_source`` writes them (folded the same way)."""
    page = PageDoc(record_id=access.record_id, record_number="", stay=0, document_id=0, version_id=0, page=0,
                   text="", department=access.department, department_name=access.department_name,
                   campus=access.campus, confidentiality=access.confidentiality, tags=list(access.tags),
                   sealed=access.sealed)
    source = to_source(page)
    return {name: source[name] for name in ACCESS_FIELDS}


class DslCompiler:
    """AST (query.py) → Elasticsearch query DSL, with the same semantics as the tantivy one."""

    def compile(self, node: q.Node) -> dict:
        if isinstance(node, q.MatchAll):
            return {"match_all": {}}
        if isinstance(node, q.Term):
            return self.term(node)
        if isinstance(node, q.Prefix):
            return self.prefix(node)
        if isinstance(node, q.Range):
            return self.range(node)
        if isinstance(node, q.Not):
            return {"bool": {"must_not": [self.compile(node.child)]}}
        if isinstance(node, q.Or):
            return {"bool": {"should": [self.compile(c) for c in node.children],
                             "minimum_should_match": 1}}
        pos = [self.compile(c) for c in node.children if not isinstance(c, q.Not)]
        neg = [self.compile(c.child) for c in node.children if isinstance(c, q.Not)]
        return {"bool": {"must": pos or [{"match_all": {}}], "must_not": neg}}

    @staticmethod
    def phrase(field: str, text: str) -> dict:
        return {"match_phrase": {field: {"query": normalize(text)}}}

    @staticmethod
    def either(*clauses: dict) -> dict:
        return {"bool": {"should": list(clauses), "minimum_should_match": 1}}

    def term(self, t: q.Term) -> dict:
        kw = keyword(t.text)
        raw = normalize(t.text).strip()
        match t.field:
            case None:
                text = self.phrase(text_field(t), t.text)
                if not is_identifier(list(t.tokens)):
                    return text
                return self.either(
                    text, {"term": {"record_keys": kw}}, {"term": {"id_number": kw}}
                )
            case "record":
                return {"term": {"record_keys": kw}}
            case "id":
                return {"term": {"id_number": kw}}
            case "name":
                return self.phrase("patient_name", t.text)
            case "tag":
                return {"term": {"tags": raw}}
            case "kind":
                return {"term": {"record_kind": t.text}}
            case "diagnosis" | "operation":
                return self.either(
                    {"term": {f"{t.field}_codes": kw}}, self.phrase(f"{t.field}_names", t.text)
                )
        code, name = {
            "dept": ("department", "department_name"),
            "category": ("category", "category_name"),
            "type": ("document_type", "document_type_name"),
        }[t.field]
        return self.either({"term": {code: raw}}, self.phrase(name, t.text))

    @staticmethod
    def prefix(p: q.Prefix) -> dict:
        """The keyword fields are lowercased by their normalizer and the prefix already is;
        ``case_insensitive`` keeps the match right should a field lose its normalizer."""
        return {"prefix": {q.PREFIX_FIELDS[p.field]: {"value": p.prefix, "case_insensitive": True}}}

    @staticmethod
    def range(r: q.Range) -> dict:
        field = {"discharged": "discharged_at", "admitted": "admitted_at"}.get(r.field, r.field)
        bounds = {}
        if r.lo is not None:
            bounds["gte"] = _date(r.lo) if isinstance(r.lo, date) else r.lo
        if r.hi is not None:
            bounds["lt"] = _date(r.hi) if isinstance(r.hi, date) else r.hi
        return {"range": {field: bounds}}

    @staticmethod
    def scope(s: Scope) -> list[dict]:
        """Filter clauses (no scoring, cached by Elasticsearch): the rule of ``Scope.admits``,
        clause for clause — (departments and campuses, or a granted record), level within
        ``CONFIDENTIALITY_LEVELS`` and ≤ the user's, no denied tag, an allowed category, not
        sealed. An empty ``terms`` list matches nothing, as an empty set admits nothing."""
        org: list[dict] = []
        if not s.all_departments:
            org.append({"terms": {"department": sorted(s.departments)}})
        if s.campuses is not None:
            org.append({"terms": {"campus": sorted(s.campuses)}})
        org_q: dict = {"bool": {"filter": org}} if org else {"match_all": {}}
        if s.granted_record_ids:
            org_q = {"bool": {"should": [org_q, {"terms": {"record_id": sorted(s.granted_record_ids)}}],
                              "minimum_should_match": 1}}
        must_not: list[dict] = []
        if s.denied_tags:
            must_not.append({"terms": {"tags": sorted(s.denied_tags)}})
        if not s.include_sealed:
            must_not.append({"term": {"sealed": True}})
        if s.withheld_record_ids:
            must_not.append({"terms": {"record_id": sorted(s.withheld_record_ids)}})
        top = min(s.max_confidentiality, CONFIDENTIALITY_LEVELS[-1])
        levels = {"gte": CONFIDENTIALITY_LEVELS[0], "lte": top}
        clauses = [org_q, {"range": {"confidentiality": levels}}]
        if s.allowed_categories is not None:
            clauses.append({"terms": {"category": sorted(s.allowed_categories)}})
        clauses.append({"bool": {"must_not": must_not}})
        return clauses


def any_of(field: str, values: list[int]) -> dict:
    """``terms`` in chunks of ``TERMS_PER_CLAUSE`` (an empty list matches nothing)."""
    chunks = [values[i : i + TERMS_PER_CLAUSE] for i in range(0, len(values), TERMS_PER_CLAUSE)] or [[]]
    if len(chunks) == 1:
        return {"terms": {field: chunks[0]}}
    return DslCompiler.either(*({"terms": {field: chunk}} for chunk in chunks))


def unit_restriction(units: set[Key], unit: q.Unit) -> dict:
    # document_id has doc values but no index (mapping): Elasticsearch 8.1+ answers a terms query
    # on it from the doc values of the candidates the other clauses leave
    if unit == "document":
        return any_of("document_id", sorted({d for _, d in units}))
    return any_of("record_id", sorted({r for r, _ in units}))


def unit_keys_body(node: q.Node, unit: q.Unit, scope: Scope, *, records: list[int] | None = None,
                   after: dict | None = None) -> dict:
    """One page of the units having an in-scope page matching ``node`` (among ``records``): a
    composite aggregation, no hits."""
    sources = [{"r": {"terms": {"field": "record_id"}}}]
    if unit == "document":
        sources.append({"d": {"terms": {"field": "document_id"}}})
    composite: dict = {"size": UNITS_PER_REQUEST, "sources": sources}
    if after:
        composite["after"] = after
    filters = DslCompiler.scope(scope)
    if records is not None:
        filters.append(any_of("record_id", records))
    return {"size": 0, "track_total_hits": False, "aggs": {"units": {"composite": composite}},
            "query": {"bool": {"must": [DslCompiler().compile(node)], "filter": filters}}}


def unit_keys(search: Callable[[dict], dict], scope: Scope) -> Keys:
    """The ``keys`` of units.evaluate over ``search`` (a _search call): every page of the
    composite aggregation, memoised for one search."""
    memo: dict[tuple, set[Key]] = {}

    def keys(node: q.Node, unit: q.Unit, within: set[Key] | None) -> set[Key]:
        records = within_records(within, WITHIN_RECORDS_MAX)
        if (node, unit) in memo:
            return memo[node, unit]
        found: set[Key] = set()
        after = None
        while True:
            agg = search(unit_keys_body(node, unit, scope, records=records, after=after))["aggregations"]["units"]
            found.update((int(b["key"]["r"]), int(b["key"].get("d", 0))) for b in agg["buckets"])
            after = agg.get("after_key")
            if len(agg["buckets"]) < UNITS_PER_REQUEST or after is None:
                break
        if records is None:
            memo[node, unit] = found
        return found

    return keys


def search_body(
    parsed: q.ParsedQuery, scope: Scope, *, offset: int = 0, limit: int = 20, group: bool = True,
    facets: bool = True, sort: Sort = "relevance", units: set[Key] | None = None,
) -> dict:
    """The whole _search request body, a pure function of the query and the scope (tested
    without a server). The scope is a ``filter`` of the one query, so hits, ``total``, the
    collapsed records with their inner hits, the record count and the facets all see only
    what the scope admits. ``units``: the evaluated units of a query that is not
    ``units.direct``; the body then asks for their hit pages."""
    compiler = DslCompiler()
    bigram_boost = [{"match": {"text.cjk": t.text}} for t in parsed.highlight_terms()]
    filters = compiler.scope(scope)
    root = parsed.root
    if units is not None:
        root = hit_pages(parsed.root)
        filters.append(unit_restriction(units, parsed.unit))
    body: dict = {
        "from": offset,
        "size": limit,
        "query": {"bool": {"must": [compiler.compile(root)], "filter": filters,
                           "should": bigram_boost}},
        "track_total_hits": True,
        "aggs": {"records": {"cardinality": {"field": "record_id", "precision_threshold": EXACT_RECORDS}}},
    }
    if facets:
        # counted in records, as the headline count: a distinct-record count per bucket
        per_bucket = {"records": {"cardinality": {"field": "record_id", "precision_threshold": EXACT_RECORDS}}}
        body["aggs"].update({n: {"terms": {"field": n, "size": FACET_SIZE}, "aggs": per_bucket} for n in FACET_NAMES})
    if group:
        body["collapse"] = {"field": "record_id", "inner_hits": {
            "name": "pages", "size": HITS_PER_RECORD, "sort": [{"_score": "desc"}]}}
    if sort != "relevance":
        body["sort"] = [{"discharged_at": "desc" if sort == "discharged_desc" else "asc"}, "_score"]
    return body


class ElasticsearchIndex(SearchIndex):
    def __init__(self, url: str, *, prefix: str = "bingan", client: Elasticsearch | None = None) -> None:
        self.es = client or Elasticsearch(url, request_timeout=60)
        self.prefix = prefix
        self.index = f"{prefix}-pages-v{SCHEMA_VERSION}"
        self.alias = f"{prefix}-pages"
        self._ensure_index()

    def _ensure_index(self) -> None:
        body = load_template(self.prefix)
        self.es.indices.put_index_template(name=self.index, **body)
        if not self.es.indices.exists(index=self.index):
            self.es.indices.create(index=self.index)
        if not self.es.indices.exists_alias(name=self.alias):
            self.es.indices.put_alias(index=self.index, name=self.alias)

    @property
    def schema_version(self) -> int:
        return SCHEMA_VERSION

    def needs_rebuild(self) -> bool:
        try:
            current = self.es.indices.get_alias(name=self.alias)
        except NotFoundError:
            return True
        return self.index not in current

    def mark_rebuilt(self) -> None:
        """Point the alias at this schema version once the reindex has finished."""
        old = [name for name in self.es.indices.get_alias(name=self.alias) if name != self.index]
        actions = [{"add": {"index": self.index, "alias": self.alias}}]
        actions += [{"remove": {"index": name, "alias": self.alias}} for name in old]
        self.es.indices.update_aliases(actions=actions)

    def _actions(self, docs: Iterable[PageDoc]) -> Iterator[dict]:
        for doc in docs:
            yield {"_index": self.index, "_id": doc.doc_id, "_source": to_source(doc)}

    def add(self, docs: Iterable[PageDoc]) -> int:
        n = 0
        for ok, item in streaming_bulk(self.es, self._actions(docs), chunk_size=BULK_CHUNK):
            if not ok:
                raise RuntimeError(f"Elasticsearch 写入失败：{item}")
            n += 1
        return n

    def delete_versions(self, version_ids: Iterable[int]) -> None:
        ids = sorted({int(v) for v in version_ids})
        if ids:
            self.es.delete_by_query(index=self.index, query={"terms": {"version_id": ids}},
                                    refresh=False, conflicts="proceed")

    def delete_record(self, record_id: int) -> None:
        self.es.delete_by_query(index=self.index, query={"term": {"record_id": int(record_id)}},
                                conflicts="proceed")

    def update_access(self, access: RecordAccess, pages: Callable[[], list[PageDoc]]) -> None:
        """A partial update of the access fields of every page of the record, in place."""
        self.es.update_by_query(
            index=self.index, query={"term": {"record_id": access.record_id}}, conflicts="proceed",
            script={"lang": "painless", "source": ACCESS_SCRIPT, "params": access_source(access)},
        )

    def commit(self) -> None:
        self.es.indices.refresh(index=self.index)

    @property
    def count(self) -> int:
        return int(self.es.count(index=self.index)["count"])

    def optimize(self) -> None:
        self.es.indices.forcemerge(index=self.index, only_expunge_deletes=True)

    def clear(self) -> None:
        self.es.delete_by_query(index=self.index, query={"match_all": {}}, conflicts="proceed",
                                refresh=True)

    def drop(self) -> None:
        """Delete the index and template (tests)."""
        self.es.indices.delete(index=self.index, ignore_unavailable=True)
        self.es.indices.delete_index_template(name=self.index)

    def close(self) -> None:
        self.es.close()

    def search(
        self,
        query: str,
        scope: Scope,
        *,
        limit: int = 20,
        offset: int = 0,
        group_by_record: bool = True,
        facets: bool = True,
        sort: Sort = "relevance",
    ) -> SearchResult:
        q.check_window(offset, limit)
        parsed = q.parse(query)
        units = None
        if not direct(parsed.root, parsed.unit):
            units = evaluate(parsed.root, parsed.unit, unit_keys(self._search, scope))
        body = search_body(parsed, scope, offset=offset, limit=limit, group=group_by_record,
                           facets=facets, sort=sort, units=units)
        resp = self._search(body)
        terms = parsed.highlight_terms()
        records = [self._record(hit, terms, group_by_record) for hit in resp["hits"]["hits"]]
        aggs = resp.get("aggregations", {})
        n_records = int(aggs["records"]["value"]) if units is None else len({r for r, _ in units})
        return SearchResult(
            total=int(resp["hits"]["total"]["value"]),
            total_records=n_records,
            records=records,
            facets={
                name: [(str(b.get("key_as_string", b["key"])), int(b["records"]["value"]))
                       for b in aggs[name]["buckets"]]
                for name in FACET_NAMES
            } if facets else {},
            total_records_exact=units is not None or n_records < EXACT_RECORDS,
            warnings=parsed.warnings,
            suggestion=parsed.suggestion,
        )

    def _search(self, body: dict) -> dict:
        # The alias: during a rebuild after a schema change it still names the old, full index.
        return self.es.search(index=self.alias, body=body)

    @staticmethod
    def _record(hit: dict, terms: list[q.Term], group: bool) -> RecordHit:
        src = hit["_source"]
        pages = hit["inner_hits"]["pages"]["hits"] if group else {"hits": [hit], "total": {"value": 1}}
        page_hits = [
            PageHit(
                document_id=p["_source"]["document_id"], version_id=p["_source"]["version_id"],
                document_type_name=p["_source"].get("document_type_name", ""),
                category_name=p["_source"].get("category_name", ""), page=p["_source"]["page"],
                snippet=make_snippet(p["_source"].get("text", ""), terms),
                score=float(p.get("_score") or 0.0),
            )
            for p in pages["hits"]
        ]
        discharged = src.get("discharged_at")
        return RecordHit(
            record_id=src["record_id"], record_number=src["record_number"], stay=src["stay"],
            patient_name=src.get("patient_name", ""), department_name=src.get("department_name", ""),
            discharged_at=clock.local_date(datetime.fromisoformat(discharged)) if discharged else None,
            score=float(hit.get("_score") or 0.0), hits=page_hits,
            matched_pages=int(pages["total"]["value"]),
        )
