"""Zero-downtime operation (T5), the worker side: a job submitted while `bingan worker` is being
restarted completes exactly once. SIGTERM is Celery's warm shutdown (the running task finishes, no
new one is taken); task_acks_late leaves every message not yet finished in the broker for the
next worker. The jobs are real scheduled-backup jobs: each run leaves one backup set."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from bingan import broker
from bingan.access.audit import Actor
from bingan.config import get_settings
from bingan.records import backups
from bingan.records.workflows import install
from bingan.storage.backup import list_sets
from bingan.storage.db import make_engine, session_factory
from bingan.storage.migrate import upgrade
from bingan.storage.models.jobs import Job

ROOT = Path(__file__).resolve().parents[2]
PASSPHRASE = "病案室备份口令-2026"
pytestmark = pytest.mark.slow


def _start_worker(log: Path) -> subprocess.Popen:
    with log.open("ab") as output:
        return subprocess.Popen([sys.executable, "-c", "from bingan.cli import main; main()", "worker"],
                                cwd=ROOT, env=os.environ.copy(), stdout=output, stderr=subprocess.STDOUT)


def _wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("BINGAN_BACKUP_PASSPHRASE", PASSPHRASE)
    settings = get_settings()
    settings.resolved_home.mkdir(parents=True)
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    engine.dispose()
    volume = settings.resolved_home / "volumes" / "v1" / "big"
    volume.mkdir(parents=True)
    (volume / "blob").write_bytes(os.urandom(48 * 1024 * 1024))  # a backup that takes a moment to copy
    monkeypatch.setattr(broker, "celery_app", broker.make_celery())  # kicks into this home's broker
    install()
    return settings.resolved_home


def _submit(engine, target: Path) -> int:
    with session_factory(engine).begin() as session:
        job = backups.start_now(session, Actor(None, "test"), backups.Schedule(True, str(target), "02:00", 10),
                                owner=None)
        session.flush()
        return job.id


def _state(engine, job_id: int) -> tuple[str, int]:
    with engine.connect() as connection:
        return tuple(connection.execute(sa.select(Job.state, Job.attempts).where(Job.id == job_id)).one())


def test_a_job_submitted_during_a_worker_restart_completes_exactly_once(home, tmp_path):
    engine = make_engine(get_settings().resolved_database_url)
    target, log = tmp_path / "nas", tmp_path / "worker.log"
    target.mkdir()
    old = _start_worker(log)
    try:
        _wait_for(lambda: b"ready." in log.read_bytes(), 60, "the worker")
        running = _submit(engine, target)
        _wait_for(lambda: _state(engine, running)[0] != "queued", 30, "the first job to start")
        old.send_signal(signal.SIGTERM)  # warm shutdown while the first job runs
        during = _submit(engine, target)  # while the old worker stops and before the new one starts
        assert old.wait(timeout=120) == 0
        assert _state(engine, running) == ("done", 1)  # finished by the worker being stopped
        new = _start_worker(log)
        try:
            _wait_for(lambda: _state(engine, during)[0] == "done", 120, "the job sent during the restart")
        finally:
            new.send_signal(signal.SIGTERM)
            new.wait(timeout=120)
    finally:
        if old.poll() is None:
            old.kill()
    assert _state(engine, during) == ("done", 1)
    assert len(list_sets(target)) == 2  # one backup set per job: neither ran twice, neither was lost
    engine.dispose()
