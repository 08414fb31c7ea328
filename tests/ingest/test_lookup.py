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


def _records(session, *numbers: str, inpatient: str = "") -> None:
    patient = Patient(record_number=numbers[0], name="王建国", sex="M")
    session.add_all([Record(patient=patient, record_number=n, stay_number=1, inpatient_number=inpatient)
                     for n in numbers])
    session.commit()


def test_a_number_excel_stripped_of_its_zeros_is_found_by_the_hospitals_width(engine):
    with session_factory(engine)() as session:
        _records(session, "0100051")
        result = lookup_record_numbers(session, ["100051"], width=7)
    assert result.found["100051"][0].record_number == "0100051" and result.missing == []


def test_without_a_width_numbers_are_matched_as_typed(engine):
    with session_factory(engine)() as session:
        _records(session, "0100051")
        result = lookup_record_numbers(session, ["100051"])
    assert result.missing == ["100051"]


def test_a_number_typed_exactly_wins_over_its_padded_form(engine):
    with session_factory(engine)() as session:
        _records(session, "0000051", "51")
        result = lookup_record_numbers(session, ["51"], width=7)
    assert [ref.record_number for ref in result.found["51"]] == ["51"]


def test_full_width_digits_are_read_as_the_number(engine):
    with session_factory(engine)() as session:
        _records(session, "0100051")
        result = lookup_record_numbers(session, ["０１０００５１", "１０００５１"], width=7)
    assert set(result.found) == {"0100051", "100051"} and result.missing == []


def test_an_inpatient_number_finds_its_stay(engine):
    with session_factory(engine)() as session:
        _records(session, "0100051", inpatient="ZY2026000123")
        result = lookup_record_numbers(session, ["ZY2026000123"])
    assert result.found["ZY2026000123"][0].record_number == "0100051"
    assert result.via_inpatient == {"ZY2026000123"}


def test_found_numbers_keep_the_order_they_were_asked_in(engine):
    with session_factory(engine)() as session:
        _records(session, "0100051", inpatient="ZY1")
        _records(session, "0100052")
        result = lookup_record_numbers(session, ["ZY1", "0100052", "X"])
    assert list(result.found) == ["ZY1", "0100052"] and result.missing == ["X"]
