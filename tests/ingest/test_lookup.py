"""Bulk record-number lookup on SQLite and PostgreSQL: one query path for 10,000+ numbers."""
from __future__ import annotations

from bingan.records.lookup import lookup_record_numbers
from bingan.storage.db import session_factory
from bingan.storage.models import Patient, Record, RecordNumberAlias


def test_twelve_thousand_numbers_with_aliases_found_and_missing(engine):
    with session_factory(engine)() as session:
        patient = Patient(record_number="P1", name="李四", sex="F")
        session.add(patient)
        session.add_all([Record(patient=patient, record_number=f"{i:07d}", stay_number=1 + i % 2) for i in range(3000)])
        session.add_all([Record(patient=patient, record_number="0000007", stay_number=s) for s in (3, 4)])
        session.add_all([RecordNumberAlias(alias=f"OLD-{i}", record_number=f"{i:07d}") for i in range(0, 3000, 30)])
        session.commit()
        asked = [f"{i:07d}" for i in range(0, 6000, 2)] + [f"OLD-{i}" for i in range(0, 6000, 30)]
        asked += [f"X{i}" for i in range(9000)] + ["  0000007 ", "", "0000007"]
        result = lookup_record_numbers(session, asked)
    assert len(result.found) == 1500 + 100 + 1 and len(result.missing) == 1500 + 100 + 9000  # "0000007" once
    assert [r.stay for r in result.found["0000007"]] == [2, 3, 4]
    assert result.via_alias["OLD-30"] == "0000030" and result.found["OLD-30"][0].patient_name == "李四"
    assert "OLD-3000" in result.missing and "X8999" in result.missing


def test_nothing_asked_finds_nothing(engine):
    with session_factory(engine)() as session:
        result = lookup_record_numbers(session, ["", "  "])
    assert result.found == {} and result.missing == []
