"""A 2,000-page historical import (历史病案批量导入, V9) run by a real worker process that is killed
with SIGKILL half-way, then started again once its lease has passed: the import ends with exactly
2,000 pages, each once — in the database and in the search index."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from archive_support import write_archive

from bingan.access.audit import Actor
from bingan.config import get_settings
from bingan.ingest.historical import HISTORICAL_IMPORT
from bingan.records.digitisation import imports
from bingan.records.jobs import register, unregister
from bingan.search.port import Scope
from bingan.storage.models import Document, Page, Patient, Record, Version, utcnow
from bingan.storage.models.imports import ScanImport, ScanImportEntry
from bingan.storage.models.jobs import Job

HERE = Path(__file__).parent
RECORDS = [f"H{n:05d}" for n in range(1, 11)]
FILES_PER_RECORD, PAGES_PER_FILE = 10, 20  # 100 files of 20 pages: 2,000 pages
KILL_AFTER = 30  # files done when the worker is killed
SYSTEM = Actor(None, "system", "127.0.0.1")


@pytest.fixture(autouse=True)
def _import_kind():
    register(HISTORICAL_IMPORT)
    yield
    unregister(HISTORICAL_IMPORT.code)


@pytest.fixture
def archive(pipe) -> Path:
    root = get_settings().resolved_import_root
    with pipe.tx() as session:
        for number in RECORDS:
            patient = Patient(record_number=number, name="历史患者", sex="F")
            session.add(Record(patient=patient, record_number=number, stay_number=1))
    write_archive(root / "1998", RECORDS, FILES_PER_RECORD, PAGES_PER_FILE)
    return root


def start_import(pipe) -> tuple[int, int]:
    with pipe.tx() as session:
        kind, origin, rows = imports.rows_from(get_settings().resolved_import_root, folder="1998")
        scan_import = imports.start(session, SYSTEM, None, kind, origin, rows)
        session.flush()
        return scan_import.id, scan_import.job_id


def worker(pipe, job_id: int) -> subprocess.Popen:
    env = dict(os.environ, BINGAN_HOME=str(pipe.settings.resolved_home),
               BINGAN_DATABASE_URL=pipe.engine.url.render_as_string(hide_password=False),
               BINGAN_INGEST_LEASE_SECONDS="2", BINGAN_INGEST_HEARTBEAT_SECONDS="0.5",
               PYTHONPATH=os.pathsep.join([str(HERE.parents[1]), str(HERE)]))
    return subprocess.Popen([sys.executable, str(HERE / "import_worker.py"), str(job_id)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def done_files(pipe, import_id: int) -> int:
    with pipe.tx() as session:
        return imports.finished_count(session, import_id)


def kill_midway(pipe, process: subprocess.Popen, import_id: int) -> int:
    deadline = time.monotonic() + 60
    while done_files(pipe, import_id) < KILL_AFTER and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    return done_files(pipe, import_id)


def test_a_2000_page_import_killed_midway_resumes_with_every_page_once(pipe, archive):
    import_id, job_id = start_import(pipe)
    pipe.close()
    done_at_kill = kill_midway(pipe, worker(pipe, job_id), import_id)
    assert KILL_AFTER <= done_at_kill < FILES_PER_RECORD * len(RECORDS)
    with pipe.tx() as session:  # the lease of the dead worker's job runs out (the sweeper's view)
        session.get(Job, job_id).locked_until = utcnow() - timedelta(seconds=1)
    time.sleep(2.2)  # and the leases of its collected items
    again = worker(pipe, job_id)
    assert again.communicate(timeout=120)[0].strip() == "done"

    with pipe.tx() as session:
        assert session.get(ScanImport, import_id).state == "done"
        entries = session.execute(sa.select(ScanImportEntry.state, ScanImportEntry.pages)
                                  .where(ScanImportEntry.import_id == import_id)).all()
        current = list(session.scalars(sa.select(Document.current_version_id).where(Document.origin == "scanned")))
        pages = session.execute(sa.select(Page.version_id, Page.number).where(Page.version_id.in_(current))).all()
        versions = session.scalar(sa.select(sa.func.count()).select_from(Version))
    assert Counter(state for state, _ in entries) == {"done": 100}
    assert sum(count for _, count in entries) == 2000
    assert len(current) == 100 and versions == 100  # one document and one version per file
    assert len(pages) == len(set(pages)) == 2000
    assert pipe.index.count == 2000
    assert pipe.index.search("历史病案", Scope.everything()).total == 2000  # every page found, once
