"""Web benchmark: watermarked page images, the search page, and 50 concurrent users on loopback.

    .venv/bin/python bench/web.py [--seconds 60] [--users 50] [--index-pages 1000000 [--queries 200]]

Builds a throw-away HOME with the test hospital of tests/access/world.py (real PDFs in the
encrypted blob store, a real tantivy index), starts uvicorn in a subprocess and drives it with
httpx. The baseline in the same run is the bare /healthz round trip, so ratios survive a busy
machine. Not part of the test suite.

``--index-pages N`` adds N generated pages (bingan.search.checking, the pages of bench/search.py)
to the same index through TantivySearchIndex, with matching rows in the database: the
generator's campuses and departments, one patient and record row per generated record (ids
shifted past the test hospital's), and a clinician ``u_bench`` with bench/search.py's scope
(3 departments, campus BB, confidentiality ≤ 1, two restricted tags, 135 granted records). The
search page is then timed over ``--queries`` queries of every shape (checking.sample_queries)
as that user. ``--home D`` keeps the HOME and reuses it when it already holds N pages.
``--seconds 0`` skips the concurrent run.

``--think-ms T``: each simulated user pauses 0.5–1.5 × T between clicks, as a person reading the
page does. Without it (the default) every user clicks again the moment a page arrives, so the run
measures saturation: latency is then users ÷ throughput whatever the code does (50 users at 45
req/s wait ~1.1 s on average), which is why the targets are quoted with a think time as well.
"""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "access"), str(ROOT / "tests" / "fixtures"), str(ROOT)]


def prepare(home: Path) -> dict[str, int]:
    os.environ["BINGAN_HOME"] = str(home)
    from bingan.config import reset_settings

    reset_settings()
    from world import build_world

    from bingan.config import get_settings
    from bingan.storage.db import get_engine, transaction
    from bingan.storage.migrate import upgrade

    engine = get_engine(get_settings())
    upgrade(engine)
    with transaction(engine) as session:
        world = build_world(session)
        ids = {"record": world.records["normal"].id, "document": world.documents["normal"][0].id}
    sys.path.insert(0, str(ROOT / "tests" / "web"))
    from web_helpers import index_world

    index_world(engine)
    return ids


RECORD_OFFSET = 1000  # generated record ids start after the test hospital's
BENCH_DEPARTMENTS = ("XNK", "HXK", "NFM")  # bench/search.py's scope
DENIED_TAGS = ("传染病", "精神")
COMMIT_EVERY = 50_000


def prepare_large(home: Path, pages: int) -> float:
    """Generated pages in the index and matching rows in the database; returns the build seconds."""
    from bingan.config import get_settings
    from bingan.search.checking import generate_pages
    from bingan.search.tantivy_index import TantivySearchIndex
    from bingan.storage.db import get_engine

    start = time.perf_counter()
    engine = get_engine(get_settings())
    organisation = _add_organisation(engine)
    index = TantivySearchIndex(get_settings().resolved_index_dir, heap_size=200_000_000, num_threads=2,
                               stats_cache_size=0)
    batch, records, done = [], {}, 0
    for doc in generate_pages(pages):
        doc = dataclasses.replace(doc, record_id=doc.record_id + RECORD_OFFSET)
        records.setdefault(doc.record_id, doc)
        batch.append(doc)
        if len(batch) == 5000:
            done += index.add(batch, upsert=False)
            batch.clear()
            _add_records(engine, organisation, records)
            records.clear()
            if done % COMMIT_EVERY == 0:
                index.commit()
    index.add(batch, upsert=False)
    _add_records(engine, organisation, records)
    index.commit()
    index.optimize()
    index.close()
    _add_bench_user(engine)
    return time.perf_counter() - start


def prepared_home(args: argparse.Namespace) -> tuple[Path, dict[str, int], dict]:
    """(HOME, test-hospital ids, build facts), reusing ``--home`` when it holds the same pages."""
    home = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="bingan-bench-"))
    marker = home / "bench-web.json"
    if args.home and marker.exists():
        kept = json.loads(marker.read_text())
        if kept["pages"] == args.index_pages:
            os.environ["BINGAN_HOME"] = str(home)
            return home, kept["ids"], {**kept, "reused": True}
        raise SystemExit(f"{home} holds {kept['pages']} pages, not {args.index_pages}: use another --home")
    home.mkdir(parents=True, exist_ok=True)
    ids = prepare(home)
    build_s = prepare_large(home, args.index_pages) if args.index_pages else 0.0
    facts = {"pages": args.index_pages, "ids": ids, "build_s": build_s}
    marker.write_text(json.dumps(facts))
    return home, ids, facts


def _add_organisation(engine) -> dict[str, dict[str, int]]:
    """The generator's campuses and departments (codes the index stores, names the facets show)."""
    from bingan.search.checking import CAMPUSES, DEPARTMENTS
    from bingan.storage.db import transaction
    from bingan.storage.models import Campus, Department

    with transaction(engine) as session:
        campuses = {code: Campus(code=code, name=f"{code}院区") for code in CAMPUSES}
        session.add_all(campuses.values())
        session.flush()
        departments = {code: Department(code=code, name=name, campus_id=campuses["BB"].id)
                       for code, name in DEPARTMENTS}
        session.add_all(departments.values())
        session.flush()
        return {"campus": {c: v.id for c, v in campuses.items()},
                "department": {c: v.id for c, v in departments.items()}}


def _add_records(engine, organisation: dict[str, dict[str, int]], docs: dict) -> None:
    """One patient and one record row per generated record; a record number the generator drew twice
    keeps its first patient, a repeated (number, stay) is skipped (its hits still render, the link 404s)."""
    import sqlalchemy as sa

    from bingan.storage.models import Patient, Record

    if not docs:
        return
    patients, records = [], []
    for record_id, doc in docs.items():
        patients.append({"id": record_id, "record_number": doc.record_number, "name": doc.patient_name,
                         "sex": "U", "id_number": doc.id_number})
        records.append({
            "id": record_id, "patient_number": doc.record_number, "record_number": doc.record_number,
            "stay_number": doc.stay, "campus_id": organisation["campus"][doc.campus],
            "admitted_at": _moment(doc.admitted_at), "discharged_at": _moment(doc.discharged_at),
            "admission_department_id": organisation["department"][doc.department],
            "discharge_department_id": organisation["department"][doc.department], "kind": doc.record_kind,
            "confidentiality": doc.confidentiality, "status": "archived", "sealed": doc.sealed, "front_page": {},
        })
    with engine.begin() as connection:
        connection.execute(sa.insert(Patient).prefix_with("OR IGNORE"), patients)
        numbers = {r["patient_number"] for r in records}
        owner = dict(connection.execute(sa.select(Patient.record_number, Patient.id)
                                        .where(Patient.record_number.in_(numbers))).all())
        for row in records:
            row["patient_id"] = owner[row.pop("patient_number")]
        connection.execute(sa.insert(Record).prefix_with("OR IGNORE"), records)


def _moment(day) -> object:
    from datetime import UTC, datetime

    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC) if day else None


def _add_bench_user(engine) -> None:
    """A clinician with bench/search.py's scope, so the search page filters like a real one."""
    from datetime import timedelta

    import sqlalchemy as sa
    from world import PASSWORD

    from bingan.access.accounts import create_user
    from bingan.storage.db import transaction
    from bingan.storage.models import Grant, Record, Tag, UserScope, utcnow

    with transaction(engine) as session:
        user = create_user(session, "u_bench", PASSWORD, ["clinician"], full_name="检索测试",
                           department_code=BENCH_DEPARTMENTS[0], must_change_password=False)
        user.max_confidentiality = 1
        session.flush()
        session.add_all([UserScope(user_id=user.id, kind="department", code=code) for code in BENCH_DEPARTMENTS[1:]])
        session.add(UserScope(user_id=user.id, kind="campus", code="BB"))
        existing = set(session.scalars(sa.select(Tag.name)))
        session.add_all([Tag(name=name, restricted=True) for name in DENIED_TAGS if name not in existing])
        session.execute(sa.update(Tag).where(Tag.name.in_(DENIED_TAGS)).values(restricted=True))
        granted = session.scalars(sa.select(Record.id).where(
            Record.id.in_([RECORD_OFFSET + n for n in range(1, 5000, 37)]))).all()
        since, until = utcnow() - timedelta(days=1), utcnow() + timedelta(days=30)
        session.add_all([Grant(user_id=user.id, record_id=rid, actions=["view"], valid_from=since, valid_until=until,
                               reason="基准") for rid in granted])


def start_server(home: Path, workers: int = 1) -> tuple[subprocess.Popen, str]:
    """uvicorn as `bingan serve` runs it: one process, or ``workers`` processes each with its own app."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code = ("import uvicorn; from bingan.web.app import create_app; "
            f"uvicorn.run(create_app(), host='127.0.0.1', port={port}, log_level='warning')")
    if workers > 1:
        code = ("import uvicorn; uvicorn.run('bingan.web.app:create_app', factory=True, "
                f"workers={workers}, host='127.0.0.1', port={port}, log_level='warning')")
    env = {**os.environ, "BINGAN_HOME": str(home)}
    process = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return process, base
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("server did not start")


def login(client: httpx.Client | httpx.AsyncClient, base: str, username: str = "u_clinician") -> None:
    from world import PASSWORD

    page = client.get(f"{base}/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    client.post(f"{base}/login", data={"username": username, "password": PASSWORD, "csrf_token": token})


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1]


def timed(client: httpx.Client, url: str, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return samples


def search_queries(client: httpx.Client, base: str, queries: list[str]) -> tuple[list[float], int]:
    """The search page as u_bench, one request per query: (times in ms, pages that rendered hits)."""
    samples, with_hits = [], 0
    for text in queries:
        start = time.perf_counter()
        response = client.get(f"{base}/search", params={"q": text})
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (text, response.status_code)
        with_hits += 'class="card record-hit"' in response.text
    return samples, with_hits


def render_only() -> list[float]:
    """serve_page alone: invisible mark + visible overlay + JPEG, base render in memory."""
    from datetime import UTC, datetime

    import formats_gen

    from bingan.formats import watermark
    from bingan.formats.document import open_document
    from bingan.records.pages import serve_page

    with open_document(formats_gen.text_pdf()) as document:
        base = document.render(1, width=1000).convert("RGB")
    lines = watermark.visible_lines("张三", "S0001", "127.0.0.1", "示例医院", datetime.now(UTC))
    samples = []
    for _ in range(60):
        start = time.perf_counter()
        serve_page(base, user_id=1, lines=lines, when=datetime.now(UTC))
        samples.append((time.perf_counter() - start) * 1000)
    return samples[5:]


async def simulated_user(base: str, ids: dict[str, int], until: float, tally: dict, think_ms: float,
                         rng: random.Random) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        from world import PASSWORD

        async def request(method: str, url: str, want: int, **kwargs) -> httpx.Response | None:
            start = time.perf_counter()
            try:
                response = await client.request(method, url, **kwargs)
            except httpx.HTTPError as error:
                tally["errors"].append(f"{url.removeprefix(base)}: {type(error).__name__}")
                return None
            tally["ms"].append((time.perf_counter() - start) * 1000)
            tally["after_login"].append(signed_in)
            if response.status_code != want:
                tally["errors"].append(f"{url.removeprefix(base)}: HTTP {response.status_code}")
            return response

        # the login counts as requests too: fifty users sign in at the same moment
        signed_in = False
        page = await request("GET", f"{base}/login", 200)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text) if page is not None else None
        if token is None:
            tally["errors"].append("/login: no CSRF token")
        else:
            await request("POST", f"{base}/login", 303, data={"username": "u_clinician", "password": PASSWORD,
                                                              "csrf_token": token.group(1)})
        signed_in = True
        urls = [f"{base}/search?q=肺炎", f"{base}/records/{ids['record']}",
                f"{base}/documents/{ids['document']}/pages/1/image", f"{base}/history"]
        step = 0
        while time.perf_counter() < until:
            await request("GET", urls[step % len(urls)], 200)
            step += 1
            if think_ms:  # a person reads the page before the next click: uniform 0.5–1.5 × the mean
                await asyncio.sleep(think_ms * rng.uniform(0.5, 1.5) / 1000)


async def load(base: str, ids: dict[str, int], users: int, seconds: float, think_ms: float) -> dict:
    """Every request's time (ms) and every error with its URL and cause."""
    tally: dict = {"ms": [], "after_login": [], "errors": []}
    until = time.perf_counter() + seconds
    await asyncio.gather(*(simulated_user(base, ids, until, tally, think_ms, random.Random(n)) for n in range(users)))
    return tally


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--database-url", default="", help="an empty PostgreSQL database (default: SQLite)")
    parser.add_argument("--index-pages", type=int, default=0, help="generated pages added to the index")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--home", default="", help="keep the HOME here and reuse it")
    parser.add_argument("--workers", type=int, default=1, help="web server processes (BINGAN_WEB_WORKERS)")
    parser.add_argument("--think-ms", type=float, default=0,
                        help="mean pause between a user's clicks (0: every user clicks again at once)")
    args = parser.parse_args()
    if args.database_url:
        os.environ["BINGAN_DATABASE_URL"] = args.database_url
    home, ids, facts = prepared_home(args)
    if args.index_pages:
        print(f"{args.index_pages} generated pages: built in {facts['build_s']:.0f} s"
              f"{' (reused)' if facts.get('reused') else ''}", flush=True)
    process, base = start_server(home, args.workers)
    rows = []
    try:
        with httpx.Client(timeout=60) as client:
            login(client, base)
            baseline = timed(client, f"{base}/healthz", 100)
            image_url = f"{base}/documents/{ids['document']}/pages/1/image"
            timed(client, image_url, 5)  # render once; later requests use the cached base
            rows += [("healthz round trip (baseline)", baseline),
                     ("page image, base cached", timed(client, image_url, 200))]
            timed(client, f"{base}/search?q=肺炎", 5)
            rows.append(("search page 肺炎 (u_clinician)", timed(client, f"{base}/search?q=肺炎", 200)))
        if args.index_pages:
            rows.append(large_search(base, args.queries))
        rows.insert(1, ("watermark+JPEG alone (in process)", render_only()))
        tally = asyncio.run(load(base, ids, args.users, args.seconds, args.think_ms)) if args.seconds > 0 else None
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # a server that does not stop must not outlive the bench
            process.kill()
            process.wait()
    report(rows, baseline, tally, args)


def large_search(base: str, count: int) -> tuple[str, list[float]]:
    from bingan.search.checking import sample_queries

    queries = sample_queries(count)
    with httpx.Client(timeout=60) as client:
        login(client, base, "u_bench")
        search_queries(client, base, sample_queries(20, seed=3))  # warm the searcher and the caches
        samples, with_hits = search_queries(client, base, queries)
    return f"search page, {len(queries)} queries ({with_hits} with hits)", samples


def report(rows: list[tuple[str, list[float]]], baseline: list[float], tally: dict | None,
           args: argparse.Namespace) -> None:
    print(f"{'measure':48s} {'p50 ms':>8s} {'p95 ms':>8s} {'p95/baseline':>13s}")
    for name, samples in rows:
        print(f"{name:48s} {statistics.median(samples):8.1f} {p95(samples):8.1f} {p95(samples) / p95(baseline):13.1f}")
    if tally is None:
        return
    total = len(tally["ms"]) + sum("HTTP" not in error for error in tally["errors"])
    print(f"{args.users} users × {args.seconds:.0f} s, think {args.think_ms:.0f} ms, "
          f"{args.workers} server process(es), load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}:")
    print(f"{args.users} users × {args.seconds:.0f} s: {total} requests, {len(tally['errors'])} errors, "
          f"{total / args.seconds:.1f} req/s, latency p50 {statistics.median(tally['ms']):.0f} ms, "
          f"p95 {p95(tally['ms']):.0f} ms, max {max(tally['ms']):.0f} ms")
    pages = [ms for ms, signed_in in zip(tally["ms"], tally["after_login"], strict=True) if signed_in]
    print(f"  pages after sign-in (without the {len(tally['ms']) - len(pages)} login requests, whose password "
          f"hashing is slow by design): p50 {statistics.median(pages):.0f} ms, p95 {p95(pages):.0f} ms, "
          f"max {max(pages):.0f} ms")
    for error in sorted(set(tally["errors"])):
        print(f"  {tally['errors'].count(error)} × {error}")


if __name__ == "__main__":
    main()
