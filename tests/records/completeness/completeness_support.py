"""A small ward for the completeness specification: one discharged stay, documents added by type
name with their own times, on SQLite and PostgreSQL."""
from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.access.audit import Actor
from bingan.records import lifecycle
from bingan.storage.models import Department, Diagnosis, Document, DocumentType, Patient, Record, Version

CLERK = Actor(None, "u_clinician", "10.0.0.8")
ADMITTED = datetime(2026, 3, 1, 1, 30, tzinfo=UTC)  # 09:30 in the hospital
DISCHARGED = datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
# What an ordinary (no surgery, alive, over 24 hours) stay needs under the default rules.
ORDINARY = ("住院病案首页", "入院记录", "首次病程记录", "上级医师查房记录", "出院记录", "长期医嘱单", "体温单",
            "检验报告")


def department(session: Session, code: str = "0301", name: str = "心内科") -> Department:
    found = session.scalars(sa.select(Department).where(Department.code == code)).first()
    if found:
        return found
    found = Department(code=code, name=name)
    session.add(found)
    session.flush()
    return found


def make_record(session: Session, number: str = "0100001", *, status: str = "awaiting",
                admitted: datetime = ADMITTED, discharged: datetime = DISCHARGED, method: str = "1",
                documents: tuple[str, ...] = ORDINARY) -> Record:
    ward = department(session)
    patient = Patient(record_number=number, name="王建国", sex="M")
    record = Record(patient=patient, record_number=number, stay_number=1, admitted_at=admitted,
                    discharged_at=discharged, admission_department_id=ward.id, discharge_department_id=ward.id,
                    discharge_method=method, attending_doctor="李主任", resident_doctor="张医生",
                    front_page={"A48": number, "B12": admitted.isoformat(), "B15": discharged.isoformat(),
                                "B13C": "0301", "B16C": "0301", "C03C": "J18.900", "C04N": "肺炎", "B34C": method})
    record.diagnoses = [Diagnosis(seq=0, code="J18.900", name="肺炎")]
    session.add(record)
    session.flush()
    for name in documents:
        add_document(session, record, name)
    for step in {"collecting": (), "awaiting": ("awaiting",)}.get(status, ("awaiting",)):
        lifecycle.move(session, lifecycle.SYSTEM, record, step, "测试")
    session.flush()
    return record


def add_document(session: Session, record: Record, type_name: str, *, written: datetime | None = None,
                 signatures: list[dict] | None = None) -> Document:
    dtype = session.scalars(sa.select(DocumentType).where(DocumentType.name == type_name)).one()
    count = session.scalar(sa.select(sa.func.count()).select_from(Document).where(Document.record_id == record.id))
    document = Document(record=record, document_type=dtype, title=type_name, source_system="EMR",
                        source_document_id=f"{record.record_number}-{count + 1}", written_at=written)
    version = Version(document=document, number=1, sha256=hashlib.sha256(f"{record.id}{count}".encode()).hexdigest(),
                      size=10, media_type="application/pdf", page_count=1, signatures=signatures or [])
    session.add(version)
    session.flush()
    document.current_version = version
    session.flush()
    return document


def hours_after(start: datetime, hours: float) -> datetime:
    return start + timedelta(hours=hours)
