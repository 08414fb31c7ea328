"""Fixtures for the archive QC specification: the test hospital (tests/access/world.py) on SQLite and
PostgreSQL, its doctors by name, and a submitted record with a three-page 入院记录."""
from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "access"))

from world import PASSWORD, World, add_pdf_document, build_world

from bingan.access.accounts import create_user
from bingan.records import lifecycle
from bingan.storage.models import Patient, Record


@pytest.fixture
def world(session) -> World:
    built = build_world(session, with_documents=False)
    # The cardiology record's doctors, by the names on the record (李主任 attending, 王医生 resident).
    built.users["attending"] = create_user(session, "dr_li", PASSWORD, ["clinician"], full_name="李主任",
                                           department_code="0301", must_change_password=False)
    built.users["resident"] = create_user(session, "dr_wang", PASSWORD, ["clinician"], full_name="王医生",
                                          department_code="0301", must_change_password=False)
    session.commit()
    return built


def submitted_record(session, world: World, number: str = "0100001", **fields) -> Record:
    patient = Patient(record_number=number, name="周志强", sex="M")
    record = Record(patient=patient, record_number=number, stay_number=1, campus_id=world.cardiology.campus_id,
                    admitted_at=datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
                    discharged_at=datetime(2026, 11, 30, 2, 0, tzinfo=UTC),
                    admission_department_id=world.cardiology.id, discharge_department_id=world.cardiology.id,
                    attending_doctor="李主任", resident_doctor="王医生", **fields)
    session.add(record)
    session.flush()
    for status in ("awaiting", "submitted"):
        lifecycle.move(session, lifecycle.SYSTEM, record, status, "测试")
    add_pdf_document(session, record, "入院记录")
    session.commit()
    return record


@pytest.fixture
def record(session, world) -> Record:
    return submitted_record(session, world)
