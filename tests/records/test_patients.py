"""Patients and records from basic data (records/patients.py)."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bingan.records import patients
from bingan.storage.models import RecordNumberAlias


def test_a_record_is_created_with_its_patient_from_basic_data(session):
    record = patients.create_record(session, "ZY7001", 2, "inpatient", {
        "name": "王五", "id_number": "11010519491231002X", "admitted_at": "2026-03-01 07:30",
    })
    assert record.patient.name == "王五" and record.patient.sex == "F"
    assert record.admitted_at.replace(tzinfo=UTC) == datetime(2026, 2, 28, 23, 30, tzinfo=UTC)  # 07:30 Beijing
    assert patients.find_record(session, "ZY7001", 2, "inpatient") is record


def test_a_second_stay_reuses_the_patient(session):
    first = patients.create_record(session, "ZY7002", 1, "inpatient", {"name": "赵六"})
    second = patients.create_record(session, "ZY7002", 2, "inpatient", {"name": "赵六"})
    assert second.patient_id == first.patient_id


def test_an_invalid_id_number_is_refused_and_creates_nothing(session):
    with pytest.raises(patients.InvalidPatientData, match="身份证号无效"):
        patients.new_patient(session, "ZY7003", {"name": "钱七", "id_number": "110105194912310021"})
    assert patients.find_record(session, "ZY7003", 1, "inpatient") is None


def test_an_old_record_number_finds_the_current_one(session):
    session.add(RecordNumberAlias(alias="OLD-7004", record_number="ZY7004"))
    session.flush()
    assert patients.canonical_record_number(session, " OLD-7004 ") == "ZY7004"
    assert patients.canonical_record_number(session, "ZY7005") == "ZY7005"
