"""Blob store throughput: write and read MB/s for 64 MiB blobs, AES and SM4, vs a plain copy.

The baseline is measured in the same run on the same disk: ``shutil.copyfile`` + fsync for
writes, a 1 MiB-block read of the copied file for reads. Medians of REPEAT runs.

    .venv/bin/python bench/blobs.py [--repeat 5] [--mib 64]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TypeVar

from bingan.storage.blobs.keys import Keyring
from bingan.storage.blobs.local import LocalBlobStore
from bingan.storage.blobs.port import Placement
from bingan.storage.blobs.volumes import Volume

MiB = 1024 * 1024
T = TypeVar("T")
KEY = os.urandom(32)


def timed(action: Callable[..., T], *args: object) -> tuple[float, T]:
    start = time.perf_counter()
    result = action(*args)
    return time.perf_counter() - start, result


def plain_copy(source: Path, target: Path) -> None:
    shutil.copyfile(source, target)
    with target.open("rb+") as handle:
        os.fsync(handle.fileno())


def plain_read(path: Path) -> None:
    with path.open("rb") as handle:
        while handle.read(MiB):
            pass


def store_write(store: LocalBlobStore, source: Path) -> str:
    with source.open("rb") as stream:
        return store.put(stream, Placement("本院", "BENCH", 1, date.today(), source.name)).sha256


def store_read(store: LocalBlobStore, sha: str) -> None:
    with store.open(sha) as reader:
        while reader.read(MiB):
            pass


PATHS = {"plain copy": None, "AES-256-GCM": "aes-256-gcm", "SM4-GCM": "sm4-gcm"}


def run_once(work: Path, source: Path, cipher: str | None) -> tuple[float, float]:
    """Seconds (write, read) for one blob; ``cipher=None`` is the plain-copy baseline."""
    if cipher is None:
        target = work / "copy.bin"
        write, _ = timed(plain_copy, source, target)
        read, _ = timed(plain_read, target)
        target.unlink()
        return write, read
    store = LocalBlobStore([Volume(work / cipher)], Keyring([KEY]), cipher)
    write, sha = timed(store_write, store, source)
    read, _ = timed(store_read, store, sha)
    store.delete(sha)  # the next run must write again, not deduplicate
    return write, read


def measure(work: Path, source: Path, repeat: int) -> dict[str, tuple[float, float]]:
    """Median (write, read) seconds per path; paths alternate so they share the machine's load."""
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in PATHS}
    for _ in range(repeat):
        for name, cipher in PATHS.items():
            runs[name].append(run_once(work, source, cipher))
    return {name: (statistics.median(w for w, _ in times), statistics.median(r for _, r in times))
            for name, times in runs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--mib", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=Path(__file__).parent) as tmp:
        work = Path(tmp)
        source = work / "source.bin"
        source.write_bytes(os.urandom(args.mib * MiB))
        results = measure(work, source, args.repeat)
    report(results, args.mib, args.repeat)


def report(results: dict[str, tuple[float, float]], mib: int, repeat: int) -> None:
    base_write, base_read = results["plain copy"]
    print(f"{mib} MiB blobs, median of {repeat}")
    print(f"{'path':<12} {'write MB/s':>11} {'× copy':>7} {'read MB/s':>10} {'× read':>7}")
    for name, (write, read) in results.items():
        print(f"{name:<12} {mib / write:>11.0f} {base_write / write:>7.2f} "
              f"{mib / read:>10.0f} {base_read / read:>7.2f}")


if __name__ == "__main__":
    main()
