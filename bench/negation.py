"""What the switch 排除否定描述 costs: the tantivy build with the affirmed_text field as shipped
against the same adapter with the field left out (every page then reads as free of negations),
in alternation on the same pages; then query latency with the switch off and on, same index.

    .venv/bin/python bench/negation.py [--pages 50000] [--repeats 3] [--queries 100]

Pages: ``checking.negated_pages`` (about every page holds a negation, as admission notes do) or
``--plain`` for ``checking.generate_pages`` (about half). Prints medians of the repeats and ratios.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bingan.search import query as q
from bingan.search import tantivy_index
from bingan.search.checking import generate_pages, negated_pages, sample_queries
from bingan.search.negation import affirmed_text
from bingan.search.port import Scope
from bingan.search.synonyms import switched

SCOPE = Scope(departments={"XNK", "HXK", "NFM"}, max_confidentiality=1)


def build(docs: list, path: Path, *, with_field: bool) -> tuple[float, int, tantivy_index.TantivySearchIndex]:
    tantivy_index.affirmed_text = affirmed_text if with_field else (lambda text: text)
    index = tantivy_index.TantivySearchIndex(path, stats_cache_size=0)
    start = time.perf_counter()
    for i in range(0, len(docs), 10_000):
        index.add(docs[i:i + 10_000], upsert=False)
    index.commit()
    took = time.perf_counter() - start
    return took, sum(f.stat().st_size for f in path.rglob("*") if f.is_file()), index


def latencies(index, queries: list[str], affirmed: bool) -> list[float]:
    out = []
    for text in queries:
        parsed = switched(q.parse(text), dictionary=None, affirmed=affirmed)
        start = time.perf_counter()
        index.search(parsed, SCOPE, limit=20)
        out.append((time.perf_counter() - start) * 1000)
    return sorted(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--plain", action="store_true")
    args = parser.parse_args()
    docs = list((generate_pages if args.plain else negated_pages)(args.pages))
    share = sum(affirmed_text(d.text) != d.text for d in docs) / len(docs)
    root = Path(tempfile.mkdtemp(prefix="bingan-negation-"))
    builds: dict[bool, list[tuple[float, int]]] = {False: [], True: []}
    index = None
    for r in range(args.repeats):
        for with_field in (False, True):
            took, size, index = build(docs, root / f"{r}-{with_field}", with_field=with_field)
            builds[with_field].append((took, size))
            index.close()
    base = statistics.median(t for t, _ in builds[False])
    field = statistics.median(t for t, _ in builds[True])
    print(f"{args.pages} pages, {share:.0%} with a negation; build median of {args.repeats}: "
          f"without the field {base:.1f} s {builds[False][0][1] / 1e6:.0f} MB, "
          f"with it {field:.1f} s {builds[True][0][1] / 1e6:.0f} MB (×{field / base:.2f} time, "
          f"×{builds[True][0][1] / builds[False][0][1]:.2f} size)")
    queries = sample_queries(args.queries)
    runs = {False: [], True: []}
    for _ in range(args.repeats):
        for affirmed in (False, True):
            lat = latencies(index, queries, affirmed)
            runs[affirmed].append((lat[len(lat) // 2], lat[int(len(lat) * 0.95)]))
    off = [statistics.median(x[i] for x in runs[False]) for i in (0, 1)]
    on = [statistics.median(x[i] for x in runs[True]) for i in (0, 1)]
    print(f"{args.queries} queries, clinician scope, p50 / p95: switch off {off[0]:.1f} / {off[1]:.1f} ms, "
          f"on {on[0]:.1f} / {on[1]:.1f} ms (×{on[0] / off[0]:.2f} / ×{on[1] / off[1]:.2f})")


if __name__ == "__main__":
    main()
