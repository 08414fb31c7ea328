"""Basic-data sync (A11, T3): departments, users, patients and stays (front pages) from a HIS.

The peer serves ``GET {endpoint}/basic/{entity}`` -> [rows] for entity in departments,
users, patients, stays. ``source.field_mapping`` maps our field names to theirs per entity
(stored as data, edited in the UI later), e.g. {"patients": {"record_number": "BAH",
"name": "XM"}}; unmapped fields are read under our own names. Front-page fields (A48,
B12…) of a stay are kept whole in Record.front_page.

A peer may also serve ``appointments`` (record_number, booked_for; 404 = it does not): a booked
appointment, like a stay admitted and not yet discharged, makes the patient "returning", and
after the sync commits a prefetch job brings that patient's files back from the cold tier (V8).
"""
from __future__ import annotations

import httpx
import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan import clock
from bingan.ingest.connectors.base import unreachable
from bingan.ingest.items import source_visit_type, visit_type_of
from bingan.ingest.resolve import RECORD_MISSING, create_record, new_patient
from bingan.ingest.secrets import open_credentials
from bingan.records.patients import department_id, parse_time
from bingan.storage.models import Department, Diagnosis, Operation, Patient, Record, User

ENTITIES = ("departments", "users", "patients", "stays")
OPTIONAL_ENTITIES = ("appointments",)  # a 404 means the HIS does not offer it
# Our fields per entity, as the field-mapping page offers them (front_page, diagnoses, operations: whole objects).
FIELDS = {
    "departments": ("code", "name", "kind"),
    "users": ("username", "full_name", "staff_number", "department"),
    "patients": ("record_number", "name", "id_number", "sex", "birth_date", "phone"),
    "stays": ("record_number", "stay", "visit_type", "admitted_at", "discharged_at", "discharge_reviewed_at",
              "department", "discharge_method"),
    "appointments": ("record_number", "booked_for"),
}


def mapped(row: dict, mapping: dict, field: str, default=None):
    return row.get(mapping.get(field, field), default)


def sync(pipe, source) -> int:
    """Returns rows applied; afterwards retries items that failed only for want of their record."""
    creds = open_credentials(pipe.settings, source.credentials)
    headers = {"Authorization": f"Bearer {creds['token']}"} if creds.get("token") else {}
    rows: dict[str, list[dict]] = {}
    try:
        with httpx.Client(base_url=source.endpoint.rstrip("/"), headers=headers, timeout=60) as client:
            for entity in ENTITIES:
                response = client.get(f"/basic/{entity}")
                response.raise_for_status()
                rows[entity] = response.json()
            for entity in OPTIONAL_ENTITIES:
                response = client.get(f"/basic/{entity}")
                if response.status_code != 404:
                    response.raise_for_status()
                    rows[entity] = response.json()
    except httpx.HTTPError as exc:
        raise unreachable(source, exc) from exc
    arrivals: set[int] = set()
    with pipe.tx() as session:
        count = apply(session, source.field_mapping or {}, rows, campus_id=source.campus_id,
                      default_visit=source_visit_type(source), arrivals=arrivals)
        from bingan.ingest.pipeline import retry_items

        retried = retry_items(session, failure_code=RECORD_MISSING)
    from bingan.ingest.scheduler import kick

    kick(retried)
    if arrivals:  # after the sync's commit, in a transaction of its own: a prefetch never holds the sync back
        from bingan.records.tiers.service import request_prefetch

        with pipe.tx() as session:
            request_prefetch(session, sorted(arrivals))
    return count


def apply(session: Session, mapping: dict, rows: dict[str, list[dict]], campus_id: int | None = None,
          default_visit: str = "inpatient", arrivals: set[int] | None = None) -> int:
    """``arrivals`` receives the ids of patients the rows report as returning: a stay newly admitted
    (admission time new or changed, not discharged) or an appointment booked for today or later."""
    arrivals = set() if arrivals is None else arrivals
    count = 0
    for row in rows.get("departments", []):
        count += _department(session, mapping.get("departments", {}), row, campus_id)
    session.flush()
    for row in rows.get("users", []):
        count += _user(session, mapping.get("users", {}), row)
    for row in rows.get("patients", []):
        count += _patient(session, mapping.get("patients", {}), row)
    session.flush()
    for row in rows.get("stays", []):
        count += _stay(session, mapping.get("stays", {}), row, campus_id, default_visit, arrivals)
    for row in rows.get("appointments", []):
        count += _appointment(session, mapping.get("appointments", {}), row, arrivals)
    return count


def _appointment(session: Session, m: dict, row: dict, arrivals: set[int]) -> int:
    number = str(mapped(row, m, "record_number"))
    booked_for = parse_time(mapped(row, m, "booked_for"))
    patient = session.scalars(sa.select(Patient).where(Patient.record_number == number)).one_or_none()
    if patient is None or booked_for is None or clock.local_date(booked_for) < clock.local_date(clock.now()):
        return 0
    arrivals.add(patient.id)
    return 1


def _department(session: Session, m: dict, row: dict, campus_id: int | None) -> int:
    code = str(mapped(row, m, "code"))
    department = session.scalars(sa.select(Department).where(Department.code == code)).one_or_none()
    if department is None:
        department = Department(code=code, name="", campus_id=campus_id)
        session.add(department)
    department.name = str(mapped(row, m, "name", department.name))
    department.kind = str(mapped(row, m, "kind", department.kind or "inpatient"))
    return 1


def _user(session: Session, m: dict, row: dict) -> int:
    """Staff accounts arrive disabled for password login until an administrator activates them."""
    username = str(mapped(row, m, "username"))
    user = session.scalars(sa.select(User).where(User.username == username)).one_or_none()
    if user is None:
        user = User(username=username, active=False, must_change_password=True)
        session.add(user)
    user.full_name = str(mapped(row, m, "full_name", user.full_name))
    user.staff_number = str(mapped(row, m, "staff_number", user.staff_number))
    user.department_id = department_id(session, mapped(row, m, "department")) or user.department_id
    return 1


def _patient(session: Session, m: dict, row: dict) -> int:
    number = str(mapped(row, m, "record_number"))
    patient = session.scalars(sa.select(Patient).where(Patient.record_number == number)).one_or_none()
    if patient is None:
        data = {"name": mapped(row, m, "name"), "id_number": mapped(row, m, "id_number"),
                "sex": mapped(row, m, "sex"), "birth_date": mapped(row, m, "birth_date")}
        new_patient(session, number, data)
        return 1
    patient.name = str(mapped(row, m, "name", patient.name))
    patient.phone = str(mapped(row, m, "phone", patient.phone) or "")
    return 1


def _stay(session: Session, m: dict, row: dict, campus_id: int | None, default_visit: str = "inpatient",
          arrivals: set[int] | None = None) -> int:
    number, stay = str(mapped(row, m, "record_number")), int(mapped(row, m, "stay", 1))
    visit = visit_type_of(mapped(row, m, "visit_type"), default_visit)  # 住院 or 门诊 (one visit = one record)
    record = session.scalars(sa.select(Record).where(
        Record.record_number == number, Record.visit_type == visit, Record.stay_number == stay)).one_or_none()
    if record is None:
        patient = session.scalars(sa.select(Patient).where(Patient.record_number == number)).one()
        record = create_record(session, number, stay, visit, {"name": patient.name}, campus_id=campus_id)
    admitted_before = record.admitted_at
    record.admitted_at = parse_time(mapped(row, m, "admitted_at")) or record.admitted_at
    record.discharged_at = parse_time(mapped(row, m, "discharged_at")) or record.discharged_at
    if (arrivals is not None and record.admitted_at is not None and record.discharged_at is None
            and record.admitted_at != admitted_before):
        arrivals.add(record.patient_id)
    # 出科审核时间: one basis of the archive-rate report (bingan/records/archive_rate.py)
    record.discharge_reviewed_at = parse_time(mapped(row, m, "discharge_reviewed_at")) or record.discharge_reviewed_at
    department = department_id(session, mapped(row, m, "department"))
    record.discharge_department_id = department or record.discharge_department_id
    record.admission_department_id = record.admission_department_id or record.discharge_department_id
    record.discharge_method = str(mapped(row, m, "discharge_method", record.discharge_method) or "")
    record.kind = "death" if record.discharge_method == "5" else record.kind
    record.front_page = dict(mapped(row, m, "front_page", record.front_page) or {})
    diagnoses = mapped(row, m, "diagnoses") or []
    if diagnoses:
        record.diagnoses = [Diagnosis(seq=i, code=d["code"], name=d["name"]) for i, d in enumerate(diagnoses)]
    operations = mapped(row, m, "operations") or []
    if operations:
        record.operations = [Operation(seq=i, code=o["code"], name=o["name"]) for i, o in enumerate(operations)]
    return 1
