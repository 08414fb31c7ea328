"""A real process moving old records' files to the cold volume is SIGKILLed at random moments.
After every kill each file reads back bit-identical; a rerun finishes the move, removes what the
dead runs left, and `bingan verify` is clean (SQLite and PostgreSQL)."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import sqlalchemy as sa
from conftest import read_back

from bingan.config import get_settings
from bingan.storage.blobs.port import open_blob_store
from bingan.storage.blobs.tiering import MARK, committed_on
from bingan.storage.models.tiers import BlobTier

HERE = Path(__file__).parent
TRIALS = 5
FILES = 48
BINGAN = [sys.executable, "-c", "from bingan.cli import main; main()"]


def child_env(engine) -> dict[str, str]:
    return dict(os.environ, BINGAN_DATABASE_URL=engine.url.render_as_string(hide_password=False),
                PYTHONPATH=os.pathsep.join([str(HERE.parents[2]), str(HERE)]))


def move_and_kill(engine, rng: random.Random) -> bool:
    """True when the kill landed before the move finished. The kill follows 0–2 finished batches
    (progress, not wall time: a quiet machine moves everything in well under a second) plus a random
    moment of the next batch; five such runs move at most ~30 of the 48 files."""
    child = subprocess.Popen([sys.executable, str(HERE / "tier_mover.py"), "5", "3"], env=child_env(engine),
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    for _ in range(rng.randrange(3)):
        if not child.stdout.readline().startswith("batch"):
            break
    time.sleep(rng.uniform(0.0, 0.05))
    child.send_signal(signal.SIGKILL)
    out = child.communicate(timeout=30)[0]
    return "done" not in out


def test_a_tier_move_killed_at_random_points_loses_nothing_and_a_rerun_finishes(
        engine, session, archive, store):
    rng = random.Random(19_0033)
    for n in range(FILES // 2):
        record = archive.record(session, f"r{n}", f"K{n:04d}", 1, date(2014 + n % 5, 1 + n % 12, 1))
        archive.add_file(session, record, os.urandom(rng.randrange(50_000, 400_000)))
        archive.add_file(session, record, os.urandom(rng.randrange(1, 100_000)))
    young = archive.record(session, "young", "Y0001", 1, date(2025, 1, 1))
    archive.add_file(session, young)
    session.commit()
    session.close()

    interrupted = 0
    for _ in range(TRIALS):
        interrupted += move_and_kill(engine, rng)
        fresh = open_blob_store(get_settings())
        for sha, data in archive.files.items():
            assert read_back(fresh, sha) == data  # readable, bit-identical, after every kill
    assert interrupted >= 3  # the kills really cut moves short

    again = subprocess.run([*BINGAN, "tier-move", "--older-than-years", "5"],
                           env=child_env(engine), capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    fresh = open_blob_store(get_settings())
    for sha, data in archive.files.items():
        assert read_back(fresh, sha) == data
        holding = {v.tier for v in fresh.volumes if committed_on(v, sha)}
        assert holding == ({"hot"} if sha in young_shas(session, young.id) else {"cold"})
    left = fresh.scan_orphan_temp()
    assert [path for path in left if MARK in path] == []  # the move's own debris: removed by the rerun
    # Anything else is an atomic write cut short (the record manifest's entry, as any killed writer
    # leaves): the store's collector removes it, and nothing is left after that.
    assert all(path.endswith(".part") for path in left)
    fresh.collect_orphan_temp(min_age_seconds=0)
    assert fresh.scan_orphan_temp() == []
    rows = session.scalars(sa.select(BlobTier)).all()
    assert len(rows) == FILES and all(row.tier == "cold" and row.settled for row in rows)
    verified = subprocess.run([*BINGAN, "verify"], env=child_env(engine),
                              capture_output=True, text=True, timeout=120)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def young_shas(session, record_id: int) -> set[str]:
    from bingan.storage.models import Document, Version

    query = sa.select(Version.sha256).join(Document, Document.id == Version.document_id)
    return set(session.scalars(query.where(Document.record_id == record_id)))
