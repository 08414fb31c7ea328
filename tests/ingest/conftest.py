"""Fixtures of the collection tests: a pipeline on the test database, records, real PDFs, peers."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/peers as the "peers" package
sys.path.insert(0, str(Path(__file__).resolve().parent))  # ingest_support, whatever else is collected

from ingest_support import pdf

from bingan.config import get_settings
from bingan.formats import guard
from bingan.ingest.options import reset_options
from bingan.ingest.pipeline import Pipeline
from bingan.storage.models import Department, Patient, Record


@pytest.fixture(scope="module", autouse=True)
def _no_pool_children_left():
    """The pipeline extracts in this process's warm guarded pool: its children end with the
    module, so tests elsewhere that count child processes see none of ours."""
    yield
    guard.close_shared_pool()


@pytest.fixture(autouse=True)
def _fast_ingest(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("BINGAN_INGEST_RETRY_BASE_SECONDS", "0.05")
    monkeypatch.setenv("BINGAN_INGEST_LEASE_SECONDS", "5")
    reset_options()
    yield
    reset_options()


@pytest.fixture
def pipe(engine, monkeypatch: pytest.MonkeyPatch):
    # Worker subprocesses and the push API find the same database through the environment.
    monkeypatch.setenv("BINGAN_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    from bingan.config import reset_settings

    reset_settings()
    pipeline = Pipeline(settings=get_settings(), engine=engine)
    yield pipeline
    pipeline.close()


@pytest.fixture
def record(pipe):
    """Patient 张三, record 0012345 stay 1, discharged from 呼吸内科."""
    with pipe.tx() as session:
        department = Department(code="HX", name="呼吸内科")
        patient = Patient(record_number="0012345", name="张三", sex="M", id_number="11010519491231002X")
        session.add_all([department, patient])
        session.flush()
        session.add(Record(patient=patient, record_number="0012345", stay_number=1, discharge_department=department))
    return "0012345"


@pytest.fixture
def make_pdf():
    return pdf
