"""Web benchmark: watermarked page images, the search page, and 50 concurrent users on loopback.

    .venv/bin/python bench/web.py [--seconds 60] [--users 50]

Builds a throw-away HOME with the test hospital of tests/access/world.py (real PDFs in the
encrypted blob store, a real tantivy index), starts uvicorn in a subprocess and drives it with
httpx. The baseline in the same run is the bare /healthz round trip, so ratios survive a busy
machine. Not part of the test suite.
"""
from __future__ import annotations

import argparse
import asyncio
import os
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


def start_server(home: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code = ("import uvicorn; from bingan.web.app import create_app; "
            f"uvicorn.run(create_app(), host='127.0.0.1', port={port}, log_level='warning')")
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


def login(client: httpx.Client | httpx.AsyncClient, base: str) -> None:
    from world import PASSWORD

    page = client.get(f"{base}/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    client.post(f"{base}/login", data={"username": "u_clinician", "password": PASSWORD, "csrf_token": token})


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


def render_only() -> list[float]:
    """serve_page alone: invisible mark + visible overlay + JPEG, base render in memory."""
    from datetime import UTC, datetime

    import formats_gen

    from bingan.formats import watermark
    from bingan.formats.document import open_document
    from bingan.web.records.rendering import serve_page

    with open_document(formats_gen.text_pdf()) as document:
        base = document.render(1, width=1000).convert("RGB")
    lines = watermark.visible_lines("张三", "S0001", "127.0.0.1", "示例医院", datetime.now(UTC))
    samples = []
    for _ in range(60):
        start = time.perf_counter()
        serve_page(base, user_id=1, lines=lines, when=datetime.now(UTC))
        samples.append((time.perf_counter() - start) * 1000)
    return samples[5:]


async def simulated_user(base: str, ids: dict[str, int], until: float, counts: dict[str, int]) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        from world import PASSWORD

        try:  # the login counts as a request too: fifty users sign in at the same moment
            page = await client.get(f"{base}/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
            response = await client.post(f"{base}/login", data={"username": "u_clinician", "password": PASSWORD,
                                                                 "csrf_token": token})
            counts["ok" if response.status_code == 303 else "errors"] += 1
        except (httpx.HTTPError, AttributeError):
            counts["errors"] += 1
        urls = [f"{base}/search?q=肺炎", f"{base}/records/{ids['record']}",
                f"{base}/documents/{ids['document']}/pages/1/image", f"{base}/history"]
        step = 0
        while time.perf_counter() < until:
            try:
                response = await client.get(urls[step % len(urls)])
                counts["ok" if response.status_code == 200 else "errors"] += 1
            except httpx.HTTPError:
                counts["errors"] += 1
            step += 1


async def load(base: str, ids: dict[str, int], users: int, seconds: float) -> dict[str, int]:
    counts = {"ok": 0, "errors": 0}
    until = time.perf_counter() + seconds
    await asyncio.gather(*(simulated_user(base, ids, until, counts) for _ in range(users)))
    return counts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--database-url", default="", help="an empty PostgreSQL database (default: SQLite)")
    args = parser.parse_args()
    if args.database_url:
        os.environ["BINGAN_DATABASE_URL"] = args.database_url
    home = Path(tempfile.mkdtemp(prefix="bingan-bench-"))
    ids = prepare(home)
    process, base = start_server(home)
    try:
        with httpx.Client(timeout=30) as client:
            login(client, base)
            baseline = timed(client, f"{base}/healthz", 100)
            image_url = f"{base}/documents/{ids['document']}/pages/1/image"
            timed(client, image_url, 5)  # render once; later requests use the cached base
            images = timed(client, image_url, 200)
            timed(client, f"{base}/search?q=肺炎", 5)
            searches = timed(client, f"{base}/search?q=肺炎", 200)
        alone = render_only()
        counts = asyncio.run(load(base, ids, args.users, args.seconds))
    finally:
        process.terminate()
        process.wait(timeout=10)
    rows = [("healthz round trip (baseline)", baseline), ("watermark+JPEG alone (in process)", alone),
            ("page image, base cached", images), ("search page 肺炎", searches)]
    print(f"{'measure':40s} {'p50 ms':>8s} {'p95 ms':>8s} {'p95/baseline':>13s}")
    for name, samples in rows:
        print(f"{name:40s} {statistics.median(samples):8.1f} {p95(samples):8.1f} {p95(samples) / p95(baseline):13.1f}")
    total = counts["ok"] + counts["errors"]
    print(f"{args.users} users × {args.seconds:.0f} s: {total} requests, {counts['errors']} errors, "
          f"{total / args.seconds:.0f} req/s")


if __name__ == "__main__":
    main()
