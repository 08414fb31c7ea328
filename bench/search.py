"""Search benchmark: tantivy (our adapter) against SQLite FTS5-trigram and Whoosh, same run;
the record unit (病案, the default) against the page unit (单位:页) on the same queries.

    .venv/bin/python bench/search.py --pages 100000 [--queries 200] [--check-pages 20000]
        [--whoosh-pages 20000] [--no-baselines] [--repeats 3] [--dir /tmp/x [--reuse]]
        [--fts-queries N] [--fts-timeout-ms MS] [--prefix-queries 70]

``--dir D --reuse`` keeps the tantivy index and the FTS5 database in D and reuses them when
they hold ``--pages`` pages (build figures are read back from D/builds.json), so repeated
1 M-page runs skip the 4–5 minute builds. ``--repeats`` runs the tantivy and FTS5 query sets
alternately R times (same machine state for both) and quotes the median of the per-repeat
p50/p95 and ratios.

1. Generates N pages of Chinese medical text (bingan.search.checking.generate_pages,
   deterministic) and builds the tantivy index through TantivySearchIndex.add (streamed,
   commits every 50k pages): time, index size, peak RSS of the process (measured first,
   before anything else is held in memory).
2. Runs the queries with a realistic permission scope through ``search()`` (grouping,
   facets, snippets included; the facet cache is off, so repeats do the full work): p50/p95.
3. Exactness: the same queries restricted to the first ``--check-pages`` pages, compared
   with a brute-force scan (checking.Reference): precision and recall.
4. Baselines in the same run: SQLite FTS5 trigram (``instr()`` for terms under 3
   characters, since trigram MATCH never finds them) and Whoosh with a bigram analyser
   (Whoosh on ``--whoosh-pages`` pages only: it indexes ~100 pages/s here). Their query
   shapes are the subset they can express; ratios are printed per baseline.
5. Code prefixes (``诊断:J18*``, ``病案号:677*``…, ``checking.prefix_queries``), timed and checked
   the same way but apart, so the 200-query figures stay comparable with earlier runs.
6. Units: every query is run at the record unit (the default: AND/OR/NOT over a record's pages,
   units.py) and at the page unit (the query with ``单位:页``, the semantics before units),
   interleaved query by query (the order swapped on every other query, so both see the same
   machine state); ratios and p50/p95 per repeat and their medians, for all queries and for those
   that take the unit path (not ``units.direct``). Exactness at both units on the records that
   lie wholly within the first ``--check-pages`` pages.
"""
from __future__ import annotations

import argparse
import gc
import json
import resource
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from itertools import product
from pathlib import Path

import tantivy

from bingan.search import query as q
from bingan.search.checking import Reference, generate_pages, prefix_queries, sample_queries
from bingan.search.port import PageDoc, Scope
from bingan.search.tantivy_index import TantivySearchIndex
from bingan.search.units import direct

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


# ---------------------------------------------------------------- build records (--reuse)


def load_builds(work: Path) -> dict:
    path = work / "builds.json"
    return json.loads(path.read_text()) if path.exists() else {}


def save_build(work: Path, name: str, info: dict) -> None:
    builds = load_builds(work)
    builds[name] = info
    (work / "builds.json").write_text(json.dumps(builds, indent=1))


# ---------------------------------------------------------------- tantivy


def cpu_s() -> float:
    """CPU seconds of this process so far, all threads (tantivy's indexing threads included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def build_tantivy(path: Path, pages: int, heap: int) -> tuple[TantivySearchIndex, float]:
    index = TantivySearchIndex(path, heap_size=heap, num_threads=2, stats_cache_size=0)
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


def open_or_build_tantivy(work: Path, pages: int, heap: int, reuse: bool):
    """(index, build info); a kept index of the right size is reused when ``reuse``."""
    path = work / "tantivy"
    info = load_builds(work).get("tantivy")
    if reuse and info and info.get("pages") == pages and path.exists():
        index = TantivySearchIndex(path, heap_size=heap, num_threads=2, stats_cache_size=0)
        if not index.needs_rebuild() and index.count == pages:
            return index, {**info, "reused": True}
        index.close()
    shutil.rmtree(path, ignore_errors=True)
    cpu = cpu_s()
    index, build_s = build_tantivy(path, pages, heap)
    info = {"pages": pages, "build_s": build_s, "cpu_s": cpu_s() - cpu, "size_mb": dir_mb(path),
            "peak_rss_mb": peak_rss_mb(), "segments": index.num_segments}
    save_build(work, "tantivy", info)
    return index, info


def tantivy_subset_ids(index: TantivySearchIndex, text: str, last_record: int) -> set[int]:
    """Version ids (one page each in the generator) of hits on the records up to ``last_record``
    (whole records: a unit is never cut in two)."""
    compiled = index.compile(text, SCOPE)[0]
    subset = tantivy.Query.range_query(
        index.schema, "record_id", tantivy.FieldType.Integer, upper_bound=last_record
    )
    both = tantivy.Query.boolean_query([(tantivy.Occur.Must, compiled), (tantivy.Occur.Must, subset)])
    searcher = index._index.searcher()  # the bench reads raw hits, bypassing grouping
    count = searcher.search(both, limit=1, count=True).count
    hits = searcher.search(both, limit=max(count, 1), count=False).hits
    return set(searcher.fast_field_values("version_id", [a for _, a in hits]))


def check_exactness(index: TantivySearchIndex, queries: list[str], pages: int) -> tuple[int, int, float, float]:
    docs = list(generate_pages(pages))
    last_record = docs[-1].record_id - 1  # the last record may go on beyond ``pages``
    docs = [d for d in docs if d.record_id <= last_record]
    ref = Reference(docs)
    by_doc_id = {d.doc_id: d.version_id for d in docs}
    exact = tp = fp = fn = 0
    for text in queries:
        want = {by_doc_id[i] for i in ref.search(text, SCOPE)}
        got = tantivy_subset_ids(index, text, last_record)
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


def open_or_build_fts(work: Path, pages: int, reuse: bool):
    path = work / "fts.db"
    info = load_builds(work).get("fts")
    if reuse and info and info.get("pages") == pages and path.exists():
        return sqlite3.connect(path), {**info, "reused": True}
    path.unlink(missing_ok=True)
    db, build_s = build_fts(path, pages)
    info = {"pages": pages, "build_s": build_s, "size_mb": path.stat().st_size / 1e6}
    save_build(work, "fts", info)
    return db, info


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


class FtsRunner:
    """Runs FTS5 queries, each cut off after ``timeout_ms`` (0 = never) through SQLite's
    progress handler. A cut-off query is timed at its cut-off, so FTS5 times and the ratios
    computed from them are lower bounds; ``timeouts`` counts them."""

    def __init__(self, db: sqlite3.Connection, timeout_ms: float) -> None:
        self.db, self.timeout_ms, self.timeouts = db, timeout_ms, 0

    def __call__(self, text: str) -> object:
        if not self.timeout_ms:
            return fts_search(self.db, text)
        deadline = time.perf_counter() + self.timeout_ms / 1000
        self.db.set_progress_handler(lambda: time.perf_counter() > deadline, 10_000)
        try:
            return fts_search(self.db, text)
        except sqlite3.OperationalError as exc:
            if "interrupted" not in str(exc):
                raise
            self.timeouts += 1
            return None
        finally:
            self.db.set_progress_handler(None, 0)


def fts_runner(db: sqlite3.Connection, timeout_ms: float = 0) -> FtsRunner:
    return FtsRunner(db, timeout_ms)


def subset_ms(queries: list[str], ms: list[float], keep: list[str]) -> list[float]:
    wanted = set(keep)
    return [m for text, m in zip(queries, ms, strict=True) if text in wanted]


def one_repeat(index, db, queries: list[str], fts_queries: list[str], fts_timeout_ms: float = 0) -> dict:
    """tantivy (facets on, then off) and FTS5 back to back: one machine state for all three."""
    t_ms = timed_queries(lambda text: index.search(text, SCOPE, limit=20), queries)
    n_ms = timed_queries(lambda text: index.search(text, SCOPE, limit=20, facets=False), queries)
    row = {"t": percentiles(t_ms), "nofacets": percentiles(n_ms), "t_ms": t_ms}
    if db is not None:
        runner = fts_runner(db, fts_timeout_ms)
        f_ms = timed_queries(runner, fts_queries)
        same = percentiles(subset_ms(queries, t_ms, fts_queries))
        row.update(fts=percentiles(f_ms), same=same, timeouts=runner.timeouts)
        row["ratio"] = (row["fts"][0] / same[0], row["fts"][1] / same[1])
    return row


PAGE_UNIT = " 单位:页"


def unit_repeat(index: TantivySearchIndex, queries: list[str]) -> dict:
    """Record unit and page unit, interleaved query by query (order swapped every other query).
    Wall time, and CPU time of the process (all its threads: the aggregation pass runs on a
    second one), which the other processes of a loaded machine inflate far less."""
    out: dict[str, list[float]] = {"record": [], "page": [], "record_cpu": [], "page_cpu": []}
    for i, text in enumerate(queries):
        runs = [("record", text), ("page", text + PAGE_UNIT)]
        for unit, query in runs if i % 2 else runs[::-1]:
            start, cpu = time.perf_counter(), time.process_time()
            index.search(query, SCOPE, limit=20)
            out[unit].append((time.perf_counter() - start) * 1000)
            out[unit + "_cpu"].append((time.process_time() - cpu) * 1000)
    return out


def report_units(rows: list[dict], queries: list[str]) -> None:
    evaluated = [i for i, text in enumerate(queries) if not direct(q.parse(text).root, "record")]
    for (label, keep), clock in product((("all", range(len(queries))), ("unit path", evaluated)), ("", "_cpu")):
        per = []
        for row in rows:
            rec = percentiles([row["record" + clock][i] for i in keep])
            page = percentiles([row["page" + clock][i] for i in keep])
            per.append({"rec": rec, "page": page, "ratio": (rec[0] / page[0], rec[1] / page[1])})
        print(f"units, {label} ({len(keep)} queries), {'CPU' if clock else 'wall'}: record unit p50 / p95 "
              f"{fmt(median_of(per, 'rec'))} ms, page unit {fmt(median_of(per, 'page'))} ms → record/page "
              f"{fmt(median_of(per, 'ratio'))}x (medians of {len(rows)} repeats; per repeat "
              + ", ".join(f"{r['ratio'][0]:.2f}/{r['ratio'][1]:.2f}" for r in per) + ")", flush=True)


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def fmt(pair: tuple[float, float]) -> str:
    return f"{pair[0]:.1f} / {pair[1]:.1f}"


def median_of(rows: list[dict], key: str) -> tuple[float, float]:
    return (statistics.median(r[key][0] for r in rows), statistics.median(r[key][1] for r in rows))


def report_repeats(rows: list[dict], n_fts: int, fts_timeout_ms: float = 0) -> None:
    for i, row in enumerate(rows, 1):
        line = f"  repeat {i}: tantivy p50/p95 {fmt(row['t'])} ms, no facets {fmt(row['nofacets'])} ms"
        if "fts" in row:
            line += (f"; FTS5 {fmt(row['fts'])} ms vs tantivy same queries {fmt(row['same'])} → "
                     f"{row['ratio'][0]:.1f}x / {row['ratio'][1]:.1f}x, {row['timeouts']} FTS5 queries cut off")
        print(line, flush=True)
    print(f"tantivy search() with scope, grouping, facets, snippets: median p50 / p95 "
          f"{fmt(median_of(rows, 't'))} ms; no facets {fmt(median_of(rows, 'nofacets'))} ms "
          f"({len(rows)} repeats)", flush=True)
    if "fts" in rows[0]:
        cut = f" (each cut off at {fts_timeout_ms:.0f} ms: times and ratios are lower bounds)" if fts_timeout_ms else ""
        print(f"FTS5 trigram, {n_fts} queries{cut}: median p50 / p95 {fmt(median_of(rows, 'fts'))} ms; "
              f"tantivy on the same queries {fmt(median_of(rows, 'same'))} ms → median ratio "
              f"{statistics.median(r['ratio'][0] for r in rows):.1f}x (p50), "
              f"{statistics.median(r['ratio'][1] for r in rows):.1f}x (p95)", flush=True)


def run_whoosh(work: Path, pages: int, queries: list[str], t_ms: list[float], total: int) -> None:
    wix, w_build = build_whoosh(work / "whoosh", pages)
    with wix.searcher() as searcher:
        w_queries = supported(lambda t: whoosh_query(q.parse(t).root), queries)
        w_ms = timed_queries(lambda t: len(whoosh_search(searcher, t)), w_queries)
    w50, w95 = percentiles(w_ms)
    u50, u95 = percentiles(subset_ms(queries, t_ms, w_queries))
    print(f"Whoosh bigram on {pages:,} pages: build {w_build:.1f} s ({pages / w_build:,.0f} "
          f"pages/s), {len(w_queries)} queries p50 {w50:.1f} ms p95 {w95:.1f} ms; tantivy at "
          f"{total:,} pages p50 {u50:.1f} p95 {u95:.1f} → {w50 / u50:.1f}x (p50), "
          f"{w95 / u95:.1f}x (p95)", flush=True)
    shutil.rmtree(work / "whoosh", ignore_errors=True)


def run_prefixes(index: TantivySearchIndex, queries: list[str], check: int, repeats: int) -> None:
    rows = [timed_queries(lambda text: index.search(text, SCOPE, limit=20), queries)
            for _ in range(max(1, repeats))]
    p50 = statistics.median(percentiles(ms)[0] for ms in rows)
    p95 = statistics.median(percentiles(ms)[1] for ms in rows)
    exact, n, precision, recall = check_exactness(index, queries, check)
    print(f"code prefixes, {n} queries: median p50 / p95 {p50:.1f} / {p95:.1f} ms; exact on the "
          f"first {check:,} pages: {exact}/{n}, precision {precision:.4f}, recall {recall:.4f}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--check-pages", type=int, default=20_000)
    ap.add_argument("--whoosh-pages", type=int, default=20_000, help="0 = skip Whoosh")
    ap.add_argument("--heap", type=int, default=200_000_000, help="tantivy writer heap (bytes)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-baselines", action="store_true")
    ap.add_argument("--fts-queries", type=int, default=0,
                    help="FTS5 on the first N queries it supports only (0 = all)")
    ap.add_argument("--fts-timeout-ms", type=float, default=0,
                    help="cut each FTS5 query off after this long (0 = never); counted at the cut-off")
    ap.add_argument("--prefix-queries", type=int, default=70, help="code-prefix queries (0 = none)")
    ap.add_argument("--units-repeats", type=int, default=3, help="repeats of record unit vs page unit")
    ap.add_argument("--units-only", action="store_true", help="build or reuse, compare the units, stop")
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--reuse", action="store_true", help="reuse indexes kept in --dir")
    args = ap.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="bingan-bench-search-"))
    work.mkdir(parents=True, exist_ok=True)
    queries = sample_queries(args.queries)
    print(f"pages={args.pages:,} queries={len(queries)} repeats={args.repeats} dir={work}", flush=True)

    index, ti = open_or_build_tantivy(work, args.pages, args.heap, args.reuse)
    print(f"tantivy build{' (reused, figures of the original build)' if ti.get('reused') else ''}: "
          f"{ti['build_s']:.1f} s ({args.pages / ti['build_s']:,.0f} pages/s), size "
          f"{ti['size_mb']:.0f} MB, peak RSS {ti['peak_rss_mb']:.0f} MB, segments {ti['segments']}, "
          f"CPU {ti.get('cpu_s', float('nan')):.0f} s, load average {load_average()}",
          flush=True)
    db, fts_queries = None, []
    if not args.no_baselines and not args.units_only:
        gc.collect()
        db, fi = open_or_build_fts(work, args.pages, args.reuse)
        fts_queries = supported(lambda t: fts_sql(q.parse(t).root, []), queries)
        if args.fts_queries:
            fts_queries = fts_queries[: args.fts_queries]
        print(f"FTS5 trigram build{' (reused)' if fi.get('reused') else ''}: {fi['build_s']:.1f} s, "
              f"size {fi['size_mb']:.0f} MB", flush=True)
        timed_queries(fts_runner(db, args.fts_timeout_ms), fts_queries[:20])  # warm the page cache
    timed_queries(lambda text: index.search(text, SCOPE, limit=20), queries[:20])
    timed_queries(lambda text: index.search(text + PAGE_UNIT, SCOPE, limit=20), queries[:20])
    print(f"load average {load_average()}", flush=True)
    unit_rows = [unit_repeat(index, queries) for _ in range(max(1, args.units_repeats))]
    report_units(unit_rows, queries)
    print(f"load average {load_average()}", flush=True)
    if args.units_only:
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)
        return
    rows = [one_repeat(index, db, queries, fts_queries, args.fts_timeout_ms) for _ in range(max(1, args.repeats))]
    report_repeats(rows, len(fts_queries), args.fts_timeout_ms)

    check = min(args.check_pages, args.pages)
    for unit, suffix in (("record", ""), ("page", PAGE_UNIT)):
        exact, n, precision, recall = check_exactness(index, [t + suffix for t in queries], check)
        print(f"{unit} unit exact vs brute force on the first {check:,} pages: {exact}/{n} queries, "
              f"precision {precision:.4f}, recall {recall:.4f}", flush=True)
    if args.prefix_queries:
        run_prefixes(index, prefix_queries(args.prefix_queries), check, args.repeats)
    if db is not None:
        db.close()
        if not args.reuse:
            (work / "fts.db").unlink()
    if not args.no_baselines and args.whoosh_pages > 0:
        run_whoosh(work, args.whoosh_pages, queries, rows[-1]["t_ms"], args.pages)
    if args.dir is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
