"""Patients and records (患者与病案): finding a record by its number and creating one from basic data.

Ingest (collection, basic-data sync) and any later intake (paper capture) call these; the
collection-specific failures (a record that may not be created) stay in ingest.
"""
from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan import clock
from bingan.errors import Refusal
from bingan.storage.models import Department, Patient, Record, RecordNumberAlias
from bingan.storage.models.identity import InvalidIdNumber, birth_date, normalise_id_number, sex_of


class InvalidPatientData(Refusal):
    """The patient data sent with a record cannot make a patient (an invalid ID number)."""


def canonical_record_number(session: Session, number: str) -> str:
    """The record number an alias (旧病案号) stands for; the number itself when it is no alias."""
    number = number.strip()
    alias = session.scalar(sa.select(RecordNumberAlias.record_number).where(RecordNumberAlias.alias == number))
    return alias or number


def find_record(session: Session, number: str, stay: int, visit_type: str) -> Record | None:
    return session.scalars(
        sa.select(Record).where(
            Record.record_number == number, Record.visit_type == visit_type, Record.stay_number == stay
        )
    ).one_or_none()


def create_record(session: Session, number: str, stay: int, visit_type: str, data: dict,
                  campus_id: int | None = None) -> Record:
    """A patient (found or new) and a record from basic data or an item's metadata."""
    patient = session.scalars(sa.select(Patient).where(Patient.record_number == number)).one_or_none()
    if patient is None:
        patient = new_patient(session, number, data)
    record = Record(
        patient=patient, record_number=number, stay_number=stay, visit_type=visit_type, campus_id=campus_id,
        admitted_at=parse_time(data.get("admitted_at")), discharged_at=parse_time(data.get("discharged_at")),
        discharge_department_id=department_id(session, data.get("department")),
        admission_department_id=department_id(session, data.get("admission_department") or data.get("department")),
    )
    session.add(record)
    session.flush()
    return record


def new_patient(session: Session, number: str, data: dict) -> Patient:
    """A patient from ``data`` (name, id_number, sex, birth_date); sex and birth date come from
    the ID number when not given. Raises InvalidPatientData for an invalid ID number."""
    id_number = (data.get("id_number") or "").strip()
    try:
        id_number = normalise_id_number(id_number) if id_number else ""
    except InvalidIdNumber as exc:
        raise InvalidPatientData(f"患者身份证号无效：{exc}") from exc
    patient = Patient(
        record_number=number, name=str(data["name"])[:100], id_number=id_number or None,
        sex=data.get("sex") or (sex_of(id_number) if id_number else "U"),
        birth_date=_date(data.get("birth_date")) or (birth_date(id_number) if id_number else None),
    )
    session.add(patient)
    session.flush()
    return patient


def department_id(session: Session, code: str | None) -> int | None:
    if not code:
        return None
    return session.scalar(sa.select(Department.id).where(sa.or_(Department.code == code, Department.name == code)))


def parse_time(value: object) -> datetime | None:
    """ISO 8601 or "YYYY-MM-DD HH:MM[:SS]"; naive times are the hospital's time, stored in UTC."""
    if not value or value == "-":
        return None
    text = str(value).strip().replace("/", "-")
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=clock.zone())
    return moment.astimezone(UTC)


def _date(value: object) -> date | None:
    if not value or value == "-":
        return None
    return date.fromisoformat(str(value)[:10])
