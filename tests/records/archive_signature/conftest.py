"""Fixtures for the archive signature's specification: the test hospital (tests/access/world.py) on
SQLite and PostgreSQL, a record in 质控中 with two documents of different content, the installed
workflows, a broker whose kicks are files of this test's home, and a real RFC 3161 TSA
(tests/peers/tsa.py) whose root the hospital trusts."""
from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "access"))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fixtures"))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from peers.tsa import TsaPeer
from signature_support import add_document
from world import World, build_world

from bingan import broker
from bingan.config import reset_settings
from bingan.formats import signatures
from bingan.records import lifecycle
from bingan.records.workflows import install
from bingan.storage.models import Patient, Record

DISCHARGE_LINES = [["出院记录", "出院诊断：社区获得性肺炎。", "出院医嘱：按时复诊。"]]
ADMISSION_LINES = [["入院记录", "主诉：反复胸闷气促5年。"], ["入院记录（续）", "初步诊断：肺炎。"]]


@pytest.fixture(autouse=True)
def kinds(monkeypatch) -> None:
    install()
    monkeypatch.setattr(broker, "celery_app", broker.make_celery())


@pytest.fixture(scope="module")
def tsa():
    with TsaPeer() as peer:
        yield peer


@pytest.fixture(autouse=True)
def timestamped(tsa, monkeypatch, tmp_path) -> TsaPeer:
    """The hospital's TSA is configured and its root is among the trusted roots."""
    roots = tmp_path / "trusted-roots.pem"
    roots.write_bytes(tsa.root_pem)
    monkeypatch.setenv(signatures.TRUST_ROOTS_ENV, str(roots))
    monkeypatch.setenv("BINGAN_TSA_URL", tsa.url)
    reset_settings()
    return tsa


@pytest.fixture
def world(session) -> World:
    built = build_world(session, with_documents=False)
    session.commit()
    return built


@pytest.fixture
def record(session, world) -> Record:
    """A record in 质控中 with 入院记录 (two pages) and 出院记录 (one page)."""
    patient = Patient(record_number="0200001", name="周志强", sex="M")
    record = Record(patient=patient, record_number="0200001", stay_number=1, campus_id=world.cardiology.campus_id,
                    admitted_at=datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
                    discharged_at=datetime(2026, 11, 30, 2, 0, tzinfo=UTC),
                    admission_department_id=world.cardiology.id, discharge_department_id=world.cardiology.id)
    session.add(record)
    session.flush()
    for status in ("awaiting", "submitted", "qc"):
        lifecycle.move(session, lifecycle.SYSTEM, record, status, "测试")
    add_document(session, record, "入院记录", ADMISSION_LINES)
    add_document(session, record, "出院记录", DISCHARGE_LINES)
    session.commit()
    return record
