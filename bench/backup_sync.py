"""Where per-file fsync stops beating syncfs (issue 19): the crossover behind
bingan.storage.backup.SYNC_EACH_MAX.

    .venv/bin/python bench/backup_sync.py [--blobs 10,30,100,300,1000,3000] [--repeats 3]
                                          [--foreign MiB] [--busy-writer] [--dir D]

For each size, writes that many blobs the way a backup copies them (three files each, as a
volume holds them: a 120 KiB .blob and a 55-byte .key in a record folder, a 90-byte pointer in
.by-sha/xx/yy/), then makes them durable one of three ways, interleaved, medians:
``syncfs`` of the file system, ``fsync`` of every file and every directory that gained an entry
(one after another), and the same fsyncs from a pool of threads (the journal commits them in
groups). ``--foreign MiB`` first leaves that much unsynced data of another writer on the same
disk (the other tenants of a shared disk, or the hospital's own nightly jobs): syncfs must flush
it too, fsyncs need not. ``--busy-writer`` keeps another writer busy throughout instead (4 MiB
every 20 ms into a 1 GiB file, never synced: a steady tenant). ``--dir`` must be on the disk
under test (default: the system temp dir).
Not part of the test suite.
"""
from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def write_blobs(folder: Path, blobs: int) -> tuple[list[str], list[str]]:
    """(files, directories that gained an entry) of ``blobs`` blobs written, not synced."""
    files: list[str] = []
    record = folder / "main" / "2026" / "12" / "B000001"
    record.mkdir(parents=True)
    directories = {str(record), str(record.parent), str(record.parent.parent), str(folder / "main"), str(folder)}
    for _ in range(blobs):
        sha = secrets.token_hex(32)
        pointer = folder / ".by-sha" / sha[:2] / sha[2:4]
        pointer.mkdir(parents=True, exist_ok=True)
        directories.update({str(pointer), str(pointer.parent), str(folder / ".by-sha")})
        for path, size in ((record / f"{sha}.blob", 120 * 1024), (record / f"{sha}.key", 55), (pointer / sha, 90)):
            path.write_bytes(os.urandom(size))
            files.append(str(path))
    return files, sorted(directories)


def foreign(base: Path, mib: int) -> None:
    """Unsynced data of another writer on the same disk."""
    if mib:
        with (base / "foreign").open("wb") as stream:
            for _ in range(mib):
                stream.write(os.urandom(1024 * 1024))


def busy_writer(base: Path, stop: threading.Event) -> None:
    chunk = os.urandom(4 << 20)
    while not stop.is_set():
        with (base / "busy").open("wb") as stream:
            for _ in range(256):
                if stop.is_set():
                    return
                stream.write(chunk)
                time.sleep(0.02)


def strategies(threads: int) -> dict:
    from bingan.storage.backup import FSYNC_THREADS, _fsync_paths, _sync_filesystem

    return {
        "syncfs": lambda folder, files, directories: _sync_filesystem(folder),
        "fsync each": lambda folder, files, directories: _fsync_paths(files + directories, threads=1),
        "fsync threads": lambda folder, files, directories: _fsync_paths(files + directories,
                                                                           threads=threads or FSYNC_THREADS),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--blobs", default="10,30,100,300,1000,3000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--foreign", type=int, default=0)
    parser.add_argument("--busy-writer", action="store_true")
    parser.add_argument("--threads", type=int, default=0, help="fsync threads (default FSYNC_THREADS)")
    parser.add_argument("--dir", default="")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bingan-sync-bench-", dir=args.dir or None))
    print(f"{base}; foreign unsynced data {args.foreign} MiB; load average {os.getloadavg()[0]:.1f}", flush=True)
    ways = strategies(args.threads)
    stop = threading.Event()
    if args.busy_writer:
        threading.Thread(target=busy_writer, args=(base, stop), daemon=True).start()
    for blobs in (int(n) for n in args.blobs.split(",")):
        times: dict[str, list[float]] = {name: [] for name in ways}
        paths = 0
        for _ in range(args.repeats):
            for name, way in ways.items():
                folder = base / f"{name.replace(' ', '-')}-{blobs}"
                os.sync()  # nothing dirty but this round's own writes and the foreign ones
                foreign(base, args.foreign)
                files, directories = write_blobs(folder, blobs)
                started = time.perf_counter()
                way(folder, files, directories)
                paths = len(files) + len(directories)
                times[name].append(time.perf_counter() - started)
                shutil.rmtree(folder)
        print(f"{blobs:>5} blobs ({3 * blobs} files, {paths} paths): "
              + "   ".join(f"{name} {statistics.median(t) * 1000:7.0f} ms" for name, t in times.items())
              + f"   load {os.getloadavg()[0]:.1f}", flush=True)
    stop.set()
    shutil.rmtree(base)


if __name__ == "__main__":
    main()
