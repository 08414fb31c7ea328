"""Tier move throughput: old records' blobs moved hot → cold (and promoted back) through the real
path — copy, fsync, decrypt and hash the copy, commit on the cold volume, switch the rows in the
database (SQLite), remove the hot copy — against a plain move of the same files in the same run:
``shutil.copyfile`` + fsync of each body and key file, then unlink of the source.

    .venv/bin/python bench/tiers.py [--files 200] [--kib 1024] [--repeat 3]

Both volumes are directories on the same disk (a real cold tier is usually a slower disk or a
NAS: the ratio, not the absolute MB/s, is what carries over). Medians of REPEAT runs.
"""
from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

MiB = 1024 * 1024


def plain_move(files: list[Path], target: Path) -> None:
    for index, source in enumerate(files):
        destination = target / f"{index}{source.suffix}"
        shutil.copyfile(source, destination)
        with destination.open("rb+") as handle:
            os.fsync(handle.fileno())
    for source in files:
        source.unlink()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--kib", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        root = Path(tmp)
        os.environ.update(BINGAN_HOME=str(root / "home"), BINGAN_VOLUME_RESERVE_MB="0",
                          BINGAN_BLOB_VOLUMES=f"{root / 'hot'},{root / 'cold'}:cold",
                          BINGAN_TIER_PROMOTE_ON_READ="false")
        from bingan.config import get_settings
        from bingan.records.tiers.service import relocate
        from bingan.storage.blobs.port import Placement, open_blob_store
        from bingan.storage.db import make_engine, session_factory
        from bingan.storage.migrate import upgrade
        from bingan.storage.models import utcnow

        settings = get_settings()
        settings.resolved_home.mkdir(parents=True, exist_ok=True)
        engine = make_engine(settings.resolved_database_url)
        upgrade(engine)
        store = open_blob_store(settings)
        shas = [store.put(io.BytesIO(os.urandom(args.kib * 1024)),
                          Placement("本院", f"B{n % 50:04d}", 1, date(2015, 1 + n % 12, 1), f"{n}.pdf")).sha256
                for n in range(args.files)]
        total = args.files * args.kib * 1024
        to_cold, to_hot, plain = [], [], []
        with session_factory(engine)() as session:
            for _ in range(args.repeat):
                start = time.perf_counter()
                moved = relocate(session, store, shas, "cold", "age", utcnow())
                to_cold.append(time.perf_counter() - start)
                assert len(moved.moved) == len(shas)
                files = [p for p in (root / "cold").rglob("*") if p.suffix in {".blob", ".key"}]
                scratch_src, scratch_dst = root / "plain-src", root / "plain-dst"
                for folder in (scratch_src, scratch_dst):
                    shutil.rmtree(folder, ignore_errors=True)
                    folder.mkdir()
                copies = []
                for index, path in enumerate(files):  # the same bytes as plain files to move
                    copy = scratch_src / f"{index}{path.suffix}"
                    shutil.copyfile(path, copy)
                    copies.append(copy)
                os.sync()
                start = time.perf_counter()
                plain_move(copies, scratch_dst)
                plain.append(time.perf_counter() - start)
                start = time.perf_counter()
                relocate(session, store, shas, "hot", "read", utcnow())
                to_hot.append(time.perf_counter() - start)

    def rate(seconds: list[float]) -> float:
        return total / statistics.median(seconds) / 1e6

    print(f"{args.files} files × {args.kib} KiB = {total / MiB:.0f} MiB, median of {args.repeat}, "
          f"load {os.getloadavg()[0]:.1f}")
    print(f"plain move (copy + fsync + unlink): {rate(plain):8.1f} MB/s")
    print(f"tier move hot → cold:                {rate(to_cold):8.1f} MB/s  ({rate(to_cold) / rate(plain):.2f}× plain)")
    print(f"promotion cold → hot:                {rate(to_hot):8.1f} MB/s  ({rate(to_hot) / rate(plain):.2f}× plain)")


if __name__ == "__main__":
    main()
