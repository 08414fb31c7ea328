"""Crash safety of the local store: a real writer process is SIGKILLed at random moments.

Afterwards every blob the store reports must pass a full check, every manifest must decrypt
and point at stored blobs, and every other file must be debris that scan_orphan_temp lists.
"""
from __future__ import annotations

import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from bingan.config import Settings
from bingan.storage.blobs.local import LocalBlobStore
from bingan.storage.blobs.manifest import MANIFEST, read_manifest
from bingan.storage.blobs.port import open_blob_store

TRIALS = 12

WRITER = textwrap.dedent("""
    import io, os, random, sys
    from datetime import date
    from bingan.config import Settings
    from bingan.storage.blobs.port import Placement, open_blob_store

    home, volumes = sys.argv[1], sys.argv[2]
    store = open_blob_store(Settings(home=home, blob_volumes=volumes, volume_reserve_mb=0))
    print("ready", flush=True)
    shared = os.urandom(70_000)
    while True:
        size = random.choice([0, 1, 65536, 65537, random.randrange(300_000)])
        data = shared if random.random() < 0.2 else os.urandom(size)
        record = f"ZY{random.randrange(20):04d}"
        where = Placement("本院", record, 1, date(2024, random.randint(1, 12), 1), f"{size}.pdf")
        store.put(io.BytesIO(data), where)
""")


def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", blob_volumes=volumes(tmp_path), volume_reserve_mb=0)


def volumes(tmp_path: Path) -> str:
    # A small capped first volume makes some writes spill to the second mid-stream.
    return f"{tmp_path / 'v1'}@3M,{tmp_path / 'v2'}"


def run_and_kill(tmp_path: Path, rng: random.Random) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path / "home"), volumes(tmp_path)],
        stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    time.sleep(rng.uniform(0.01, 0.35))
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL


def committed_files(store: LocalBlobStore) -> set[Path]:
    files: set[Path] = set()
    for volume in store.volumes:
        for sha_pointer in (volume.path / ".by-sha").rglob("*"):
            if sha_pointer.is_file():
                blob = volume.path / sha_pointer.read_text()
                files |= {sha_pointer, blob, blob.with_suffix(".key")}
    return files


def assert_consistent(store: LocalBlobStore) -> None:
    shas = list(store.iter_shas())
    for sha in shas:
        store.check(sha)
    expected = committed_files(store) | set(map(Path, store.scan_orphan_temp()))
    for volume in store.volumes:
        for path in volume.path.rglob("*"):
            if not path.is_file() or path.name == ".lock":
                continue
            if path.name == MANIFEST:
                for entry in read_manifest(path, store.keyring):
                    assert store.exists(entry.sha256), f"manifest names a missing blob: {entry}"
                continue
            assert path in expected, f"unexplained file after a crash: {path}"


def test_writer_killed_at_random_leaves_only_collectable_temp_files(tmp_path: Path) -> None:
    rng = random.Random(20240315)
    started = time.monotonic()
    for _ in range(TRIALS):
        run_and_kill(tmp_path, rng)
        assert_consistent(open_blob_store(settings(tmp_path)))  # type: ignore[arg-type]
    store = open_blob_store(settings(tmp_path))
    assert isinstance(store, LocalBlobStore)
    assert len(list(store.iter_shas())) > TRIALS  # the writer really got work done
    store.collect_orphan_temp(min_age_seconds=0)
    assert store.scan_orphan_temp() == []
    assert_consistent(store)
    assert time.monotonic() - started < 60


def test_interrupted_commit_stays_debris_after_the_same_content_commits_elsewhere(tmp_path: Path) -> None:
    """Killed after moving key and body into record A, before the pointer; later the same bytes
    are stored for record B. A's copy is still uncommitted debris, not a committed blob."""
    import io
    import json
    from datetime import date

    from bingan.storage.blobs.port import Placement

    store = open_blob_store(settings(tmp_path))
    assert isinstance(store, LocalBlobStore)
    data = b"same scan sent for two records"
    first = store.put(io.BytesIO(data), Placement("本院", "ZYA", 1, date(2024, 5, 1), "a.pdf"))
    volume = next(v for v in store.volumes if str(v.path) == first.volume)
    # The state a SIGKILL between the renames and the pointer leaves behind:
    volume.pointer(first.sha256).unlink()
    (volume.tmp / "crash.intent").write_text(json.dumps({"blob": first.location, "sha256": first.sha256}))
    second = store.put(io.BytesIO(data), Placement("本院", "ZYB", 1, date(2024, 6, 1), "b.pdf"))
    assert second.location != first.location and not second.deduplicated
    debris = set(store.scan_orphan_temp())
    blob_a = volume.path / first.location
    assert {str(blob_a), str(blob_a.with_suffix(".key"))} <= debris
    store.collect_orphan_temp(min_age_seconds=0)
    assert not blob_a.exists() and store.exists(first.sha256)
    store.check(first.sha256)
