"""Search benchmark: tantivy (our adapter) against SQLite FTS5-trigram and Whoosh, same run.

    .venv/bin/python bench/search.py --pages 100000 [--queries 200] [--check-pages 20000]
        [--whoosh-pages 20000] [--no-baselines] [--dir /tmp/x]

1. Generates N pages of Chinese medical text (bingan.search.checking.generate_pages,
   deterministic) and builds the tantivy index through TantivySearchIndex.add (streamed,
   commits every 50k pages): time, index size, peak RSS of the process (measured first,
   before anything else is held in memory).
2. Runs the queries with a realistic permission scope through ``search()`` (grouping,
   facets, snippets included): p50/p95.
3. Exactness: the same queries restricted to the first ``--check-pages`` pages, compared
   with a brute-force scan (checking.Reference): precision and recall.
4. Baselines in the same run: SQLite FTS5 trigram (``instr()`` for terms under 3
   characters, since trigram MATCH never finds them) and Whoosh with a bigram analyser
   (Whoosh on ``--whoosh-pages`` pages only: it indexes ~100 pages/s here). Their query
   shapes are the subset they can express; ratios are printed per baseline.
"""
from __future__ import annotations

import argparse
import gc
import resource
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import tantivy

from bingan.search import query as q
from bingan.search.checking import Reference, generate_pages, sample_queries
from bingan.search.port import PageDoc, Scope
from bingan.search.tantivy_index import TantivySearchIndex

SCOPE = Scope(
    departments={"XNK", "HXK", "NFM"}, campuses={"BB"}, max_confidentiality=1,
    denied_tags={"传染病", "精神"}, granted_record_ids=set(range(1, 5000, 37)),
)
COMMIT_EVERY = 50_000


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def percentiles(ms: list[float]) -> tuple[float, float]:
    ordered = sorted(ms)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def timed_queries(run: Callable[[str], object], queries: Iterable[str]) -> list[float]:
    out = []
    for text in queries:
        start = time.perf_counter()
        run(text)
        out.append((time.perf_counter() - start) * 1000)
    return out


# ---------------------------------------------------------------- tantivy


def build_tantivy(path: Path, pages: int, heap: int) -> tuple[TantivySearchIndex, float]:
    index = TantivySearchIndex(path, heap_size=heap, num_threads=2)
    start = time.perf_counter()
    batch: list[PageDoc] = []
    done = 0
    for doc in generate_pages(pages):
        batch.append(doc)
        if len(batch) == 5000:
            done += index.add(batch, upsert=False)
            batch.clear()
            if done % COMMIT_EVERY == 0:
                index.commit()
    index.add(batch, upsert=False)
    index.commit()
    index.optimize()
    return index, time.perf_counter() - start


def tantivy_subset_ids(index: TantivySearchIndex, text: str, limit_version: int) -> set[int]:
    """Version ids (one page each in the generator) of hits among the first pages."""
    compiled, _ = index.compile(text, SCOPE)
    subset = tantivy.Query.range_query(
        index.schema, "version_id", tantivy.FieldType.Integer, upper_bound=limit_version
    )
    both = tantivy.Query.boolean_query([(tantivy.Occur.Must, compiled), (tantivy.Occur.Must, subset)])
    searcher = index._index.searcher()  # the bench reads raw hits, bypassing grouping
    count = searcher.search(both, limit=1, count=True).count
    hits = searcher.search(both, limit=max(count, 1), count=False).hits
    return set(searcher.fast_field_values("version_id", [a for _, a in hits]))


def check_exactness(index: TantivySearchIndex, queries: list[str], pages: int) -> tuple[int, int, float, float]:
    docs = list(generate_pages(pages))
    ref = Reference(docs)
    by_doc_id = {d.doc_id: d.version_id for d in docs}
    exact = tp = fp = fn = 0
    for text in queries:
        want = {by_doc_id[i] for i in ref.search(text, SCOPE)}
        got = tantivy_subset_ids(index, text, pages)
        tp, fp, fn = tp + len(got & want), fp + len(got - want), fn + len(want - got)
        exact += got == want
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return exact, len(queries), precision, recall


# ---------------------------------------------------------------- SQLite FTS5 trigram


class Unsupported(Exception):
    pass


def build_fts(path: Path, pages: int) -> tuple[sqlite3.Connection, float]:
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.execute(
        "CREATE TABLE meta(id INTEGER PRIMARY KEY, record_id, dept, campus, conf, tags, sealed,"
        " discharged, year, diag)"
    )
    db.execute("CREATE VIRTUAL TABLE fts USING fts5(text, tokenize='trigram')")
    start = time.perf_counter()
    for i, d in enumerate(generate_pages(pages), 1):
        db.execute("INSERT INTO fts(rowid, text) VALUES (?, ?)", (i, d.text))
        db.execute(
            "INSERT INTO meta VALUES (?,?,?,?,?,?,?,?,?,?)",
            (i, d.record_id, d.department, d.campus, d.confidentiality, "|".join(d.tags),
             int(d.sealed), d.discharged_at.isoformat(), d.discharge_year,
             "|".join(d.diagnosis_codes + d.diagnosis_names)),
        )
    db.execute("CREATE INDEX meta_dept ON meta(dept, campus)")
    db.commit()
    return db, time.perf_counter() - start


def fts_sql(node: q.Node, args: list) -> str:
    if isinstance(node, q.Term):
        if node.field not in (None, "diagnosis", "dept"):
            raise Unsupported
        if node.field == "dept":
            args.append(node.text)
            return "meta.dept = ?"
        if node.field == "diagnosis":
            args.append(node.text)
            return "instr(meta.diag, ?) > 0"
        args.append(node.text)
        if len(node.text) < 3:  # trigram MATCH cannot find 1-2 characters
            return "instr(fts.text, ?) > 0"
        args[-1] = '"' + node.text.replace('"', '""') + '"'
        return "fts.rowid IN (SELECT rowid FROM fts WHERE fts MATCH ?)"
    if isinstance(node, q.Range):
        if node.field != "discharged" and node.field != "year":
            raise Unsupported
        col = "meta.discharged" if node.field == "discharged" else "meta.year"
        parts = []
        for op, v in ((">=", node.lo), ("<", node.hi)):
            if v is not None:
                args.append(v.isoformat() if hasattr(v, "isoformat") else v)
                parts.append(f"{col} {op} ?")
        return "(" + " AND ".join(parts) + ")"
    if isinstance(node, q.Not):
        return f"NOT ({fts_sql(node.child, args)})"
    if isinstance(node, q.And | q.Or):
        joiner = " AND " if isinstance(node, q.And) else " OR "
        return "(" + joiner.join(fts_sql(c, args) for c in node.children) + ")"
    raise Unsupported


def fts_search(db: sqlite3.Connection, text: str) -> list:
    args: list = []
    where = fts_sql(q.parse(text).root, args)
    scope = (
        "(meta.dept IN ('XNK','HXK','NFM') AND meta.campus = 'BB' OR meta.record_id % 37 = 1)"
        " AND meta.conf <= 1 AND instr(meta.tags, '传染病') = 0 AND instr(meta.tags, '精神') = 0"
        " AND meta.sealed = 0"
    )
    sql = f"SELECT fts.rowid FROM fts JOIN meta ON meta.id = fts.rowid WHERE {where} AND {scope}"
    rows = db.execute(sql, args).fetchall()
    return rows[:20]


# ---------------------------------------------------------------- Whoosh


def build_whoosh(path: Path, pages: int):
    from whoosh import fields, index
    from whoosh.analysis import NgramAnalyzer

    schema = fields.Schema(
        id=fields.ID(stored=True), text=fields.TEXT(analyzer=NgramAnalyzer(2, 2)),
        dept=fields.ID, campus=fields.ID, conf=fields.NUMERIC, sealed=fields.BOOLEAN,
    )
    path.mkdir(parents=True, exist_ok=True)
    ix = index.create_in(path, schema)
    start = time.perf_counter()
    writer = ix.writer(limitmb=256)
    for i, d in enumerate(generate_pages(pages)):
        writer.add_document(id=str(i), text=d.text, dept=d.department, campus=d.campus,
                            conf=d.confidentiality, sealed=d.sealed)
    writer.commit()
    return ix, time.perf_counter() - start


def whoosh_query(node: q.Node):
    from whoosh import query as wq

    if isinstance(node, q.Term) and node.field is None:
        grams = [node.text[i : i + 2].lower() for i in range(max(1, len(node.text) - 1))]
        if any(len(g) < 2 for g in grams):
            raise Unsupported
        return wq.And([wq.Term("text", g) for g in grams])
    if isinstance(node, q.Not):
        return wq.Not(whoosh_query(node.child))
    if isinstance(node, q.And):
        return wq.And([whoosh_query(c) for c in node.children])
    if isinstance(node, q.Or):
        return wq.Or([whoosh_query(c) for c in node.children])
    raise Unsupported


def whoosh_search(searcher, text: str):
    from whoosh import query as wq

    scope = wq.And([
        wq.Or([wq.Term("dept", d) for d in ("XNK", "HXK", "NFM")]), wq.Term("campus", "BB"),
        wq.NumericRange("conf", None, 1), wq.Not(wq.Term("sealed", True)),
    ])
    return searcher.search(wq.And([whoosh_query(q.parse(text).root), scope]), limit=20)


# ---------------------------------------------------------------- main


def supported(check: Callable[[str], object], queries: list[str]) -> list[str]:
    ok = []
    for text in queries:
        try:
            check(text)
        except Unsupported:
            continue
        ok.append(text)
    return ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--check-pages", type=int, default=20_000)
    ap.add_argument("--whoosh-pages", type=int, default=20_000)
    ap.add_argument("--heap", type=int, default=200_000_000, help="tantivy writer heap (bytes)")
    ap.add_argument("--no-baselines", action="store_true")
    ap.add_argument("--dir", type=Path, default=None)
    args = ap.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="bingan-bench-search-"))
    queries = sample_queries(args.queries)
    print(f"pages={args.pages:,} queries={len(queries)} dir={work}", flush=True)

    index, build_s = build_tantivy(work / "tantivy", args.pages, args.heap)
    print(f"tantivy build: {build_s:.1f} s ({args.pages / build_s:,.0f} pages/s), "
          f"size {dir_mb(work / 'tantivy'):.0f} MB, peak RSS {peak_rss_mb():.0f} MB, "
          f"segments {index.num_segments}", flush=True)
    run = lambda text: index.search(text, SCOPE, limit=20)  # noqa: E731
    timed_queries(run, queries[:20])  # warm the page cache
    t_ms = timed_queries(run, queries)
    t50, t95 = percentiles(t_ms)
    print(f"tantivy search() with scope, grouping, facets, snippets: p50 {t50:.1f} ms, "
          f"p95 {t95:.1f} ms, max {max(t_ms):.1f} ms", flush=True)

    bare = timed_queries(lambda text: index.search(text, SCOPE, limit=20, facets=False), queries)
    b50, b95 = percentiles(bare)
    print(f"tantivy search() with scope, grouping, snippets, no facets: p50 {b50:.1f} ms, "
          f"p95 {b95:.1f} ms", flush=True)
    check = min(args.check_pages, args.pages)
    exact, n, precision, recall = check_exactness(index, queries, check)
    print(f"exact vs brute force on the first {check:,} pages: {exact}/{n} queries, "
          f"precision {precision:.4f}, recall {recall:.4f}", flush=True)
    if args.no_baselines:
        return
    gc.collect()

    db, fts_build = build_fts(work / "fts.db", args.pages)
    fts_queries = supported(lambda t: fts_sql(q.parse(t).root, []), queries)
    f_ms = timed_queries(lambda t: fts_search(db, t), fts_queries)
    f50, f95 = percentiles(f_ms)
    t_same = [ms for text, ms in zip(queries, t_ms, strict=True) if text in set(fts_queries)]
    s50, s95 = percentiles(t_same)
    print(f"FTS5 trigram: build {fts_build:.1f} s, size {dir_mb(work) - dir_mb(work / 'tantivy'):.0f} MB, "
          f"{len(fts_queries)} queries p50 {f50:.1f} ms p95 {f95:.1f} ms; "
          f"tantivy on the same queries p50 {s50:.1f} p95 {s95:.1f} → "
          f"{f50 / s50:.1f}x (p50), {f95 / s95:.1f}x (p95) faster", flush=True)
    db.close()
    (work / "fts.db").unlink()

    wix, w_build = build_whoosh(work / "whoosh", args.whoosh_pages)
    with wix.searcher() as searcher:
        w_queries = supported(lambda t: whoosh_query(q.parse(t).root), queries)
        w_ms = timed_queries(lambda t: len(whoosh_search(searcher, t)), w_queries)
    w50, w95 = percentiles(w_ms)
    t_w = [ms for text, ms in zip(queries, t_ms, strict=True) if text in set(w_queries)]
    u50, u95 = percentiles(t_w)
    print(f"Whoosh bigram on {args.whoosh_pages:,} pages: build {w_build:.1f} s "
          f"({args.whoosh_pages / w_build:,.0f} pages/s vs tantivy {args.pages / build_s:,.0f}), "
          f"{len(w_queries)} queries p50 {w50:.1f} ms p95 {w95:.1f} ms; tantivy at "
          f"{args.pages:,} pages p50 {u50:.1f} p95 {u95:.1f} → {w50 / u50:.1f}x (p50), "
          f"{w95 / u95:.1f}x (p95)", flush=True)
    if args.dir is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
