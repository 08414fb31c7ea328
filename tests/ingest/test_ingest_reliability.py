"""Reliability: SIGKILL a real worker at random points; the broker as a kick on embedded and Redis."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa
from ingest_support import pdf

from bingan.ingest.items import Report, enqueue, manual_source
from bingan.ingest.pipeline import run_until_settled
from bingan.ingest.scheduler import sweep
from bingan.search.port import Scope
from bingan.storage.models import CollectedItem, Document, Page, Version

HERE = Path(__file__).parent
TRIALS = 20


def add_items(pipe, record: str, start: int, n: int) -> list[int]:
    ids = []
    with pipe.tx() as session:
        source = manual_source(session)
        for i in range(start, start + n):
            staged = pipe.staging / f"k-{i}"
            staged.write_bytes(pdf([[f"病程记录 第{i}份", "患者病情平稳。"], [f"检查结果{i}：未见异常。"]]))
            item, _ = enqueue(session, source, Report(source_document_id=f"K-{i % 25}", record_number=record, stay=1,
                                                      document_type_code="C0302", revision=f"rev-{i}"),
                              staged_path=str(staged))
            ids.append(item.id)
    return ids


def worker_env(pipe) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()}
    env.update(BINGAN_HOME=str(pipe.settings.resolved_home), BINGAN_DATABASE_URL=str(
        pipe.engine.url.render_as_string(hide_password=False)), BINGAN_INGEST_LEASE_SECONDS="1",
        PYTHONPATH=str(HERE.parents[1]))
    return env


@pytest.mark.slow
def test_sigkill_at_random_points_loses_and_duplicates_nothing(pipe, record):
    rng = random.Random(20260)
    ids: list[int] = []
    pipe.close()
    for trial in range(TRIALS):
        ids += add_items(pipe, record, trial * 2, 2)
        worker = subprocess.Popen([sys.executable, str(HERE / "worker_loop.py")], env=worker_env(pipe),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.8, 1.6))  # imports take ~0.7 s; kill somewhere in the steps after
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    time.sleep(1.2)  # the dead worker's leases run out
    states = run_until_settled(pipe, ids, timeout=120)
    assert Counter(states.values()) == {"indexed": len(ids)}
    with pipe.tx() as session:
        versions = session.execute(sa.select(Version.document_id, Version.sha256)).all()
        assert len(versions) == len(set(versions))  # no content twice in one document
        assert session.scalar(sa.select(sa.func.count()).select_from(Document)) == 25
        current = list(session.scalars(sa.select(Document.current_version_id)))
        pages = session.scalar(sa.select(sa.func.count()).select_from(Page).where(Page.version_id.in_(current)))
        shas = set(session.scalars(sa.select(Version.sha256)))
        dangling = session.scalar(sa.select(sa.func.count()).select_from(CollectedItem).where(
            CollectedItem.version_id.is_(None)))
    assert dangling == 0
    assert pipe.index.search("患者病情平稳", Scope.everything()).total == 25  # exactly once per document
    assert pipe.index.count == pages
    for sha in shas:
        pipe.blobs.check(sha)


def test_sweeper_rekicks_items_whose_worker_died(pipe, record):
    ids = add_items(pipe, record, 0, 1)
    with pipe.tx() as session:  # a worker claimed it and died: lease expired, kick long ago
        item = session.get(CollectedItem, ids[0])
        item.locked_by, item.locked_until = "dead:1", sa.func.now()
        item.kicked_at = None
    time.sleep(0.05)
    assert sweep(pipe) == ids
    assert sweep(pipe) == []  # kicked within the lease: not again


@pytest.mark.parametrize("broker", ["embedded", "redis"])
def test_a_real_celery_worker_runs_kicked_items(pipe, record, broker, request, monkeypatch):
    env = worker_env(pipe)
    if broker == "redis":
        env["BINGAN_BROKER_URL"] = request.getfixturevalue("redis_url")
        monkeypatch.setenv("BINGAN_BROKER_URL", env["BINGAN_BROKER_URL"])
    from bingan import broker as module
    from bingan.config import reset_settings

    reset_settings()
    monkeypatch.setattr(module, "celery_app", module.make_celery())
    ids = add_items(pipe, record, 0, 2)
    worker = subprocess.Popen([sys.executable, "-c", "from bingan.cli import main; main()", "worker"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        from bingan.ingest.scheduler import kick

        kick(ids)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with pipe.tx() as session:
                states = set(session.scalars(sa.select(CollectedItem.state).where(CollectedItem.id.in_(ids))))
            if states == {"indexed"}:
                break
            time.sleep(0.3)
        assert states == {"indexed"}
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(20)
