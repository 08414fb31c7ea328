"""tantivy adapter of the SearchIndex port (the embedded default).

* Text is analysed by the regex analyser of ``analysis.py`` (registered on every open:
  tantivy does not store analysers in the index); a query word is a phrase over its tokens.
* The schema version lives in ``bingan-search.json`` beside the index. Opening an index
  built with another version starts an empty one and ``needs_rebuild()`` stays True until
  the reindex job calls ``mark_rebuilt()``.
* One writer per process, created on the first write; if another process holds the lock,
  writes raise ``IndexBusyError`` and searching still works (readers need no lock).
* Words of 2+ word tokens (Han characters, ASCII words) are looked up in the ``text_pairs``
  field, diagnosis/operation names in ``*_pairs`` (analysis.py).
* The permission filter is a flat union of precomputed ``access`` terms (``access_terms``);
  code prefixes are regex queries over keyword terms. Both are compiled in tantivy_query.py.
* Values are folded (``analysis.fold_page``: Ⅱ → II, ㎎ → mg) before they are indexed and stored.
* Each record also has one aggregated document (tantivy_records.py): at the record unit, a query
  of page text and record attributes is one query over those (``_plan``), and the records shown
  are the best of them, with only their hit pages read (``_search_records``). The facets of
  record attributes are counted on the matching record documents (exactly, one document per
  record); one pass over the hit pages, without the permission filter (``_RecordPlan``), counts
  the pages and the category facet.
* Facet counts are **records** (tantivy terms aggregations over fast fields of the full
  filtered query, a distinct-record count per bucket), computed in one aggregation pass together
  with the distinct-record estimate, on a worker thread in parallel with the scoring/top-k pass
  (both release the GIL). Each pass costs a full walk of the matches *and* the permission filter (~10–20 ms
  at 1 M pages for the filter alone), so the first top-k round asks for 400 pages (or 20 ×
  the records needed) rather than growing from 100 in extra passes.
  ``total_records`` is exact whenever every matching page was
  collected for grouping (up to ``EXACT_GROUP_LIMIT`` pages), otherwise a HyperLogLog
  estimate flagged ``total_records_exact=False``.
"""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import tantivy

from bingan import clock
from bingan.search import query as q
from bingan.search.analysis import (
    BIGRAM_TOKENIZER_NAME,
    BIGRAM_VERSION,
    KEYWORD_TOKENIZER_NAME,
    TOKENIZER_NAME,
    build_analyzer,
    build_bigram_analyzer,
    build_keyword_analyzer,
    fold_page,
    token_pattern,
    word_pair_values,
)
from bingan.search.port import (
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
from bingan.search.tantivy_query import Compiler
from bingan.search.tantivy_records import MARK, MARK_FIELD, Pending, rewrite
from bingan.search.tantivy_schema import build_schema, record_fields, to_document
from bingan.search.tantivy_stats import Stats, StatsCache, scope_key
from bingan.search.units import Key, Keys, direct, evaluate, hit_pages, on_record_documents, within_records

_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="bingan-search")
# 2: text_bigrams field; 3: word pairs (text, diagnosis, operation), access terms; 4: values
# folded (analysis.fold: Ⅱ → II, ㎎ → mg, ⽇ → 日) before analysis and storage
SCHEMA_VERSION = 10  # 5: year and date bounds in the hospital's time zone (clock); 6: document_id
# indexed and fast (the document unit, units.py); 7: affirmed_text/affirmed_pairs (negation.py);
# 8: record_keys include the stay's 住院号; 9: affirmed_text only on pages with a negation (negated), no
# affirmed_pairs; 10: an aggregated document per record (tantivy_records.py)
META_FILE = "bingan-search.json"
EXACT_GROUP_LIMIT = 20_000
FIRST_ROUND_PAGES = 400
PAGES_PER_GROUP_GUESS = 20
HITS_PER_RECORD = 3
FACET_SIZE = 50

Occur = tantivy.Occur


class IndexBusyError(RuntimeError):
    """Another process holds the index writer."""


class TantivySearchIndex(SearchIndex):
    def __init__(
        self,
        path: str | Path | None = None,
        *,
        heap_size: int = 96_000_000,
        num_threads: int = 1,
        stats_cache_size: int = 256,
    ) -> None:
        """``path`` None = in memory (tests). ``heap_size`` bounds the writer's memory.
        ``stats_cache_size`` 0 turns the facet cache off (benchmarks must, to stay honest)."""
        self.path = Path(path) if path else None
        self.heap_size = heap_size
        self.num_threads = num_threads
        self._writer: tantivy.IndexWriter | None = None
        self.schema = build_schema()
        self._rebuild_pending = False
        self._index = self._open()
        self._compiler = Compiler(self.schema)
        self._record_compiler = Compiler(
            self.schema, text_fields=("record_text", "record_pairs"), access_field="record_access")
        self._pending = Pending()
        self._stats = StatsCache(stats_cache_size)
        self._commits = 0

    # ------------------------------------------------------------ opening and meta

    def _meta(self) -> dict:
        return {
            "schema_version": SCHEMA_VERSION, "tokenizer": token_pattern(), "bigrams": BIGRAM_VERSION
        }

    def _stored_meta(self) -> dict | None:
        meta = self.path / META_FILE if self.path else None
        if meta is None or not meta.exists():
            return None
        return json.loads(meta.read_text(encoding="utf-8"))

    def _write_meta(self, rebuild_pending: bool) -> None:
        self._rebuild_pending = rebuild_pending
        if self.path is None:
            return
        meta = {**self._meta(), "rebuild_pending": rebuild_pending}
        if self._stored_meta() == meta:
            return  # opening for reading writes nothing: several web processes open the same index
        # a name of this process and thread: two openers each replace the file whole, never each other's half
        tmp = self.path / f"{META_FILE}.{os.getpid()}.{threading.get_ident()}.tmp"
        tmp.write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        tmp.replace(self.path / META_FILE)

    def _open(self) -> tantivy.Index:
        if self.path is None:
            return self._register(tantivy.Index(self.schema))
        self.path.mkdir(parents=True, exist_ok=True)
        with _opening_lock(self.path):  # web processes starting together: one creates or wipes at a time
            stored = self._stored_meta()
            has_index = tantivy.Index.exists(str(self.path))
            outdated = has_index and (
                stored is None
                or {k: stored.get(k) for k in self._meta()} != self._meta()
                or not tantivy.Index.is_compatible(str(self.path))
            )
            if outdated:
                self._wipe()
            index = self._register(tantivy.Index(self.schema, str(self.path), reuse=True))
            pending = outdated or bool(stored and stored.get("rebuild_pending"))
            self._write_meta(rebuild_pending=pending)
        return index

    def _wipe(self) -> None:
        for child in self.path.iterdir():
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()

    @staticmethod
    def _register(index: tantivy.Index) -> tantivy.Index:
        index.register_tokenizer(TOKENIZER_NAME, build_analyzer())
        index.register_tokenizer(KEYWORD_TOKENIZER_NAME, build_keyword_analyzer())
        index.register_tokenizer(BIGRAM_TOKENIZER_NAME, build_bigram_analyzer())
        return index

    @property
    def schema_version(self) -> int:
        return SCHEMA_VERSION

    def needs_rebuild(self) -> bool:
        """Read from the meta file: another process (the worker) may have finished the rebuild."""
        stored = self._stored_meta()
        return self._rebuild_pending if stored is None else bool(stored.get("rebuild_pending"))

    def mark_rebuilt(self) -> None:
        """Called by the reindex job once every page has been added and committed."""
        self._write_meta(rebuild_pending=False)

    # ------------------------------------------------------------ writing

    def _w(self) -> tantivy.IndexWriter:
        if self._writer is None:
            try:
                self._writer = self._index.writer(self.heap_size, self.num_threads)
            except ValueError as exc:
                if "LockBusy" in str(exc) or "lock" in str(exc).lower():
                    raise IndexBusyError("检索索引正被另一个进程写入，请稍后重试") from exc
                raise
        return self._writer

    def add(self, docs: Iterable[PageDoc], *, upsert: bool = True) -> int:
        """``upsert=False`` skips the delete-by-id (only for loading an empty index)."""
        writer, n = self._w(), 0
        for doc in docs:
            if upsert:
                writer.delete_documents_by_term("doc_id", doc.doc_id)
            doc = fold_page(doc)
            pairs = word_pair_values(doc.text or "")
            writer.add_document(to_document(doc, pairs, self.schema))
            self._pending.added(doc, pairs)
            n += 1
        return n

    def delete_versions(self, version_ids: Iterable[int]) -> None:
        writer, searcher = self._w(), self._index.searcher()
        deleted = {int(vid) for vid in version_ids}
        by_record: dict[int, set[int]] = {}
        for vid in deleted:
            writer.delete_documents_by_term("version_id", vid)
            hits = searcher.search(tantivy.Query.term_query(self.schema, "version_id", vid), limit=1).hits
            for record_id in searcher.fast_field_values("record_id", [a for _, a in hits]):
                by_record.setdefault(record_id, set()).add(vid)
        self._pending.deleted_versions(deleted, by_record)

    def delete_record(self, record_id: int) -> None:
        self._w().delete_documents_by_term("record_id", int(record_id))  # its record document too
        self._pending.deleted_record(int(record_id))

    def update_access(self, access: RecordAccess, pages: Callable[[], list[PageDoc]]) -> None:
        """tantivy updates no field in place: the record's pages are written again from the
        database (the current versions only, as the pipeline indexes them)."""
        self.delete_record(access.record_id)
        self.add(pages(), upsert=False)

    def commit(self) -> None:
        if self._writer is not None:
            self._rewrite_records()
            self._writer.commit()
        self._commits += 1
        self._index.reload()

    def _generation(self) -> tuple:
        """Changes with every commit, in this process or another (tantivy rewrites meta.json)."""
        if self.path is None:
            return (self._commits,)
        try:
            st = (self.path / "meta.json").stat()
        except FileNotFoundError:
            return (self._commits,)
        return (self._commits, st.st_mtime_ns, st.st_size)

    def optimize(self) -> None:
        """Commit, let the merge policy run until the segment count settles, drop dead files.

        tantivy-py has no forced merge; the log merge policy keeps O(log n) segments. A new
        writer may start merges on the segments it finds, hence the loop.
        """
        self._rewrite_records()
        previous = -1
        while previous != self.num_segments:
            previous = self.num_segments
            writer = self._w()
            writer.commit()
            writer.wait_merging_threads()  # consumes the writer
            self._writer = None
            # reload first: files still used by a live searcher generation are kept by the GC
            self._index.reload()
        self._w().garbage_collect_files()

    def clear(self) -> None:
        writer = self._w()
        writer.delete_all_documents()
        self._pending.clear()
        writer.commit()
        writer.garbage_collect_files()
        self._index.reload()
        self._write_meta(rebuild_pending=False)

    def close(self) -> None:
        self._pending.clear()
        if self._writer is not None:
            self._writer.rollback()
            self._writer.wait_merging_threads()
            self._writer = None

    def _rewrite_records(self) -> None:
        """The aggregated documents of the records whose pages changed, in the pages' commit."""
        if self._pending.records:
            rewrite(self._w(), self._index.searcher(), self.schema, self._pending, record_fields)

    @property
    def count(self) -> int:
        """Pages (the aggregated record documents are not counted)."""
        searcher = self._index.searcher()
        marked = tantivy.Query.term_query(self.schema, MARK_FIELD, MARK)
        return searcher.num_docs - searcher.search(marked, limit=1, count=True).count

    @property
    def num_segments(self) -> int:
        return self._index.searcher().num_segments

    # ------------------------------------------------------------ searching

    def compile(self, query: str, scope: Scope) -> tuple[tantivy.Query, q.ParsedQuery, int | None]:
        """The query over the hit pages, the parsed query, and the number of matching records
        when the unit is the record or the document (None at the page unit)."""
        return self._plan(query, scope)[:3]

    def _plan(self, query: str, scope: Scope) -> tuple[tantivy.Query, q.ParsedQuery, int | None, _RecordPlan | None]:
        """``compile``, and the query over the aggregated record documents when they answer it."""
        parsed = q.parse(query)
        scope_q = self._compiler.scope(scope)
        if direct(parsed.root, parsed.unit):
            return self._scoped(parsed.root, scope_q), parsed, None, None
        if parsed.unit == "record" and scope.allowed_categories is None and on_record_documents(parsed.root):
            plan = self._record_plan(parsed.root, scope)
            return plan.pages, parsed, len(plan.records), plan
        pages = self._scoped(hit_pages(parsed.root), scope_q)
        units = evaluate(parsed.root, parsed.unit, self._keys(scope_q))
        field, values = ("record_id", {r for r, _ in units})
        if parsed.unit == "document":
            field, values = ("document_id", {d for _, d in units})
        restrict = self._compiler.any_of(field, sorted(values))
        compiled = tantivy.Query.boolean_query([(Occur.Must, pages), (Occur.Must, restrict)])
        return compiled, parsed, len({r for r, _ in units}), None

    def _scoped(self, node: q.Node, scope_q: tantivy.Query) -> tantivy.Query:
        user = self._compiler.compile(node, scope_q)
        return tantivy.Query.boolean_query([(Occur.Must, user), (Occur.Must, scope_q)])

    def _record_plan(self, node: q.Node, scope: Scope) -> _RecordPlan:
        """The matching records from their aggregated documents, with the facets of record
        attributes counted on them in the same aggregation (a record document is one record)."""
        records_q = self._records_query(node, scope)
        searcher = self._index.searcher()
        spec = {n: {"terms": {"field": n, "size": FACET_SIZE}} for n in RECORD_FACETS}
        found = _record_histogram(searcher, records_q, spec)
        if found is None:  # more records than one histogram holds
            found = (_record_keys(searcher, records_q, self.schema), searcher.aggregate(records_q, spec))
        keys, agg = found
        records = sorted(r for r, _ in keys)
        # the pages only: a page query without the permission filter would find record documents too
        pages = tantivy.Query.boolean_query([(Occur.Must, self._compiler.compile(hit_pages(node))),
                                             (Occur.MustNot, tantivy.Query.term_query(self.schema, MARK_FIELD, MARK))])
        restrict = self._compiler.any_of("record_id", records)
        return _RecordPlan(
            query=records_q, records=records,
            facets={name: _buckets(agg[name], lambda b: b["doc_count"]) for name in RECORD_FACETS},
            hit_pages=pages, pages=tantivy.Query.boolean_query([(Occur.Must, pages), (Occur.Must, restrict)]))

    def _records_query(self, node: q.Node, scope: Scope) -> tantivy.Query:
        """The aggregated documents of the records for which ``node`` holds. Exact when every page
        of an in-scope record is in scope, i.e. the scope does not choose categories (the other
        conditions of a scope are the record's): the caller checks."""
        scope_q = self._record_compiler.scope(scope)
        user = self._record_compiler.compile(node, scope_q)
        return tantivy.Query.boolean_query([(Occur.Must, user), (Occur.Must, scope_q)])

    def _keys(self, scope_q: tantivy.Query) -> Keys:
        """Units having an in-scope page that matches a node: every match's record_id (and
        document_id) read from the fast fields, among the records of ``within`` when there are
        few enough for a term set to be cheaper than reading the matches. Memoised for one search
        (the universe of a negation may be asked for more than once)."""
        searcher = self._index.searcher()
        memo: dict[tuple, set[Key]] = {}

        def keys(node: q.Node, unit: q.Unit, within: set[Key] | None) -> set[Key]:
            records = within_records(within, WITHIN_RECORDS_MAX)
            if (node, unit) in memo:
                return memo[node, unit]
            query = self._scoped(node, scope_q)
            if records is not None:
                query = tantivy.Query.boolean_query(
                    [(Occur.Must, query), (Occur.Must, self._compiler.any_of("record_id", records))])
            found = _unit_keys(searcher, query, unit, self.schema)
            if records is None:
                memo[node, unit] = found
            return found

        return keys

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
        compiled, parsed, n_records, plan = self._plan(query, scope)
        if plan is not None and group_by_record:
            return self._search_records(compiled, parsed, plan, scope, limit=limit, offset=offset,
                                        facets=facets, sort=sort)
        searcher = self._index.searcher()
        # Facets and the record estimate come from one aggregation pass (no scoring) that runs
        # on a second core while this thread scores the top pages: tantivy releases the GIL in
        # both calls, so the two full passes cost about one in wall time on an idle machine.
        # Paging (same query and scope, next offset) finds them in the cache.
        # Without facets the pass still runs (for the record estimate), in parallel as well:
        # run after the top-k pass it would add its whole cost whenever the matches exceed the
        # first top-k round; when they do not, it is a small pass wasted.
        key = (parsed.root, parsed.unit, scope_key(scope), self._generation())
        stats = self._stats.get(key)
        pending = None if stats else _POOL.submit(self._aggregate, searcher, compiled, facets=facets)
        groups, total, distinct = self._collect(
            searcher, compiled, sort, need=offset + limit, group=group_by_record
        )
        if pending is not None:
            stats = pending.result()
            if facets:
                self._stats.put(key, stats)
        complete = distinct is not None or n_records is not None
        total_records = n_records if n_records is not None else distinct if complete else stats.records
        terms = parsed.highlight_terms()
        records = [
            self._record(searcher, hits, terms)
            for hits in list(groups.values())[offset : offset + limit]
        ]
        return SearchResult(
            total=total,
            total_records=total_records,
            records=records,
            facets=stats.facets if facets and stats else {},
            total_records_exact=complete,
            warnings=parsed.warnings,
            suggestion=parsed.suggestion,
        )

    def _search_records(self, compiled, parsed: q.ParsedQuery, plan: _RecordPlan, scope: Scope, *,
                        limit: int, offset: int, facets: bool, sort: Sort) -> SearchResult:
        """The records to show come from their aggregated documents (best first by the record
        document's score, or by discharge), their hit pages from a query restricted to them; the
        page count and the category facet (a page's) from one pass over all hit pages, in
        parallel; the facets of record attributes came with the matching records (``_RecordPlan``)."""
        searcher = self._index.searcher()
        key = (parsed.root, parsed.unit, scope_key(scope), self._generation(), "pages")
        stats = self._stats.get(key)
        pending = None if stats else _POOL.submit(self._page_pass, searcher, compiled, facets=facets)
        res = searcher.search(plan.query, limit=offset + limit, count=False, **_order(sort))
        shown = searcher.fast_field_values("record_id", [a for _, a in res.hits])[offset:]
        # the shown records' hit pages: without the restriction to all matching records (a term
        # set rebuilt on every use), which they are among anyway
        groups = self._hits_of(searcher, plan.hit_pages, shown)
        if pending is not None:
            stats = pending.result()
            if facets:
                self._stats.put(key, stats)
        terms = parsed.highlight_terms()
        counted = {**plan.facets, **stats.facets}
        return SearchResult(
            total=stats.pages,
            total_records=len(plan.records),
            records=[self._record(searcher, groups[r], terms) for r in shown if r in groups],
            facets={n: counted[n] for n in FACET_NAMES} if facets else {},
            total_records_exact=True,
            warnings=parsed.warnings,
            suggestion=parsed.suggestion,
        )

    def _hits_of(self, searcher, pages: tantivy.Query, records: list[int]) -> dict[int, list]:
        """Every hit page of these records, best first within each."""
        if not records:
            return {}
        query = tantivy.Query.boolean_query(
            [(Occur.Must, pages), (Occur.Must, self._compiler.any_of("record_id", sorted(records)))])
        res = searcher.search(query, limit=SHOWN_PAGES_FIRST_ROUND, count=True)
        hits = res.hits if len(res.hits) >= res.count else searcher.search(query, limit=res.count).hits
        groups: dict[int, list] = {}
        for hit, record in zip(hits, searcher.fast_field_values("record_id", [a for _, a in hits]), strict=True):
            groups.setdefault(record, []).append(hit)
        return groups

    def _collect(self, searcher, compiled, sort: Sort, *, need: int, group: bool):
        """Top page hits grouped by record in best-first order, growing until ``need`` groups.

        Returns (groups {key: [(score, address)]}, total pages, distinct records or None
        when not every matching page was collected). Each round is a full pass over the
        matches, so the first round asks for enough pages to fill ``need`` records in the
        usual case (a larger top-k heap costs far less than a second round).
        """
        k = max(FIRST_ROUND_PAGES, need * PAGES_PER_GROUP_GUESS)
        order_kwargs = _order(sort)
        while True:
            res = searcher.search(compiled, limit=k, count=True, **order_kwargs)
            count = res.count
            hits = res.hits
            rids = searcher.fast_field_values("record_id", [a for _, a in hits])
            groups: dict[int, list] = {}
            for i, ((score, addr), rid) in enumerate(zip(hits, rids, strict=True)):
                groups.setdefault(rid if group else i, []).append((score, addr))
            complete = len(hits) >= count
            if complete or len(groups) >= need or k >= EXACT_GROUP_LIMIT:
                return groups, count, len(set(rids)) if complete else None
            k = min(k * 4, EXACT_GROUP_LIMIT)

    def _record(self, searcher, hits, terms) -> RecordHit:
        page_hits = []
        first = None
        for score, addr in hits[:HITS_PER_RECORD]:
            stored = searcher.doc(addr).to_dict()
            first = first or stored
            page_hits.append(
                PageHit(
                    document_id=_one(stored, "document_id"),
                    version_id=_one(stored, "version_id"),
                    document_type_name=_one(stored, "document_type_name", ""),
                    category_name=_one(stored, "category_name", ""),
                    page=_one(stored, "page"),
                    snippet=make_snippet(_one(stored, "text", ""), terms),
                    score=float(score) if isinstance(score, float) else 0.0,
                )
            )
        discharged = _one(first, "discharged_at")
        return RecordHit(
            record_id=_one(first, "record_id"),
            record_number=_one(first, "record_number", ""),
            stay=_one(first, "stay", 0),
            patient_name=_one(first, "patient_name", ""),
            department_name=_one(first, "department_name", ""),
            discharged_at=clock.local_date(discharged) if discharged else None,
            score=page_hits[0].score,
            hits=page_hits,
            matched_pages=len(hits),
        )

    def _aggregate(self, searcher, compiled, *, facets: bool) -> Stats:
        """One pass over every match: distinct-record estimate, facet counts."""
        spec: dict = {"records": RECORDS}
        if facets:  # counted in records, as the headline: a sub-aggregation per bucket
            spec.update({n: _per_record(n) for n in FACET_NAMES})
        agg = searcher.aggregate(compiled, spec)
        counts = {name: _buckets(agg[name], _records_of) for name in FACET_NAMES if facets}
        return Stats(records=round(agg["records"]["value"] or 0), facets=counts)

    @staticmethod
    def _page_pass(searcher, pages: tantivy.Query, *, facets: bool) -> Stats:
        """The hit pages of the matching records (``_RecordPlan.pages``): their count and the
        category facet, the one facet of the page (a record counts under each category it has a
        hit page in). The record count and the other facets came from the record documents."""
        spec: dict = {"pages": {"value_count": {"field": "record_id"}}}
        if facets:
            spec["category"] = _per_record("category")
        agg = searcher.aggregate(pages, spec)
        counts = {"category": _buckets(agg["category"], _records_of)} if facets else {}
        return Stats(records=0, facets=counts, pages=round(agg["pages"]["value"] or 0))


RECORDS = {"cardinality": {"field": "record_id"}}
# facets of the record's attributes: at the record unit, counted on the matching record documents
RECORD_FACETS = tuple(n for n in FACET_NAMES if n != "category")


def _per_record(field: str) -> dict:
    """A terms aggregation counting records (a distinct-record estimate per bucket), not pages."""
    return {"terms": {"field": field, "size": FACET_SIZE}, "aggs": {"records": RECORDS}}


def _records_of(bucket: dict) -> float:
    return bucket["records"]["value"]


def _buckets(agg: dict, count: Callable[[dict], float]) -> list[tuple[str, int]]:
    """A terms aggregation's buckets as (value, count), largest first."""
    return sorted(((str(b["key"]), round(count(b))) for b in agg["buckets"]), key=lambda kv: -kv[1])


@dataclass(slots=True)
class _RecordPlan:
    """The record unit answered by the aggregated record documents (``TantivySearchIndex._record_plan``).

    ``hit_pages`` carries no permission filter: the record documents admitted only records in the
    user's scope, and the scope on this path judges the record alone (no categories chosen), so every
    page of a matching record is in scope. The page queries restricted to those records skip the
    filter's walk (100k pages, clinician's scope: the page pass 5.3 → 2.4 ms CPU at p50)."""

    query: tantivy.Query  # the matching records' documents
    records: list[int]  # their ids, ascending
    facets: dict[str, list[tuple[str, int]]]  # RECORD_FACETS counted on them, exactly
    hit_pages: tantivy.Query
    pages: tantivy.Query  # the hit pages of all matching records


KEYS_FIRST_ROUND = 10_000
SHOWN_PAGES_FIRST_ROUND = 1_000  # hit pages of the records on one result page, usually all of them
# ``within`` above this many records: reading the matches is cheaper than a term set of the records
# (1 M pages, clinician's scope, 咳嗽's 13k records: 13.8 ms unrestricted; among 500 / 2,000 / 4,000 /
# 8,000 / 15,000 records 5.8 / 9.3 / 12.5 / 17.1 / 28 ms)
WITHIN_RECORDS_MAX = 2_000
RECORDS_PER_AGGREGATION = 60_000  # record ids per aggregation, under tantivy's limit of 65,000 buckets


def _unit_keys(searcher, query: tantivy.Query, unit: q.Unit, schema: tantivy.Schema) -> set[Key]:
    """(record_id, document_id or 0) of every page the query matches."""
    if unit == "record":
        return _record_keys(searcher, query, schema)
    res = searcher.search(query, limit=KEYS_FIRST_ROUND, count=True)
    if len(res.hits) < res.count:
        res = searcher.search(query, limit=res.count, count=False)
    addresses = [a for _, a in res.hits]
    records = searcher.fast_field_values("record_id", addresses)
    if unit == "record":
        return {(r, 0) for r in records}
    return set(zip(records, searcher.fast_field_values("document_id", addresses), strict=True))


def _record_keys(searcher, query: tantivy.Query, schema: tantivy.Schema) -> set[Key]:
    """The records of every match from a histogram (interval 1) over the record_id fast field: a
    column read per match, no scoring and no list of page addresses (at 100k pages, the 17k pages
    of a clinician's scope: 2 ms against 43 ms for the top-k collection; at 1 M pages, 咳嗽's 13k
    records: 10.6 ms, a terms aggregation 17.2 ms). More records than one aggregation may return
    (tantivy's limit is 65,000 buckets): one aggregation per range of record ids."""
    found = _record_histogram(searcher, query)
    if found is not None:
        return found[0]
    top = searcher.aggregate(query, {"m": {"max": {"field": "record_id"}}})["m"]["value"] or 0
    found = set()
    for lo in range(0, int(top) + 1, RECORDS_PER_AGGREGATION):
        ids = tantivy.Query.range_query(schema, "record_id", tantivy.FieldType.Integer, lower_bound=lo,
                                        upper_bound=lo + RECORDS_PER_AGGREGATION, include_upper=False)
        part = _record_histogram(searcher, tantivy.Query.boolean_query([(Occur.Must, query), (Occur.Must, ids)]))
        assert part is not None  # a range of RECORDS_PER_AGGREGATION ids holds no more records
        found |= part[0]
    return found


def _record_histogram(searcher, query: tantivy.Query, also: dict | None = None) -> tuple[set[Key], dict] | None:
    """The records, and the result of the aggregations ``also`` asked in the same pass (a few
    buckets each: the limit leaves room for them above ``RECORDS_PER_AGGREGATION``). None: more
    than ``RECORDS_PER_AGGREGATION`` records."""
    spec = {"r": {"histogram": {"field": "record_id", "interval": 1, "min_doc_count": 1}}, **(also or {})}
    try:
        agg = searcher.aggregate(query, spec)
    except ValueError:  # "bucket limit was exceeded"
        return None
    buckets = agg.pop("r")["buckets"]
    if len(buckets) > RECORDS_PER_AGGREGATION:
        return None
    return {(int(b["key"]), 0) for b in buckets}, agg


def _order(sort: Sort) -> dict:
    if sort == "relevance":
        return {}
    return {"order_by_field": "discharged_at",
            "order": tantivy.Order.Desc if sort == "discharged_desc" else tantivy.Order.Asc}


def _one(stored: dict, name: str, default=None):
    values = stored.get(name)
    return values[0] if values else default


@contextmanager
def _opening_lock(path: Path) -> Iterator[None]:
    """An flock beside the index directory (a wipe empties the directory itself); flock also
    excludes other threads of this process, each holding its own open file."""
    with open(path.parent / f"{path.name}.opening.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
