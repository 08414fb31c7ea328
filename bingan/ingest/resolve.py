"""Which record and which standard document type a collected item belongs to."""
from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.ingest.errors import PermanentFailure
from bingan.storage.models import (
    CollectedItem,
    Department,
    DocumentType,
    DocumentTypeAlias,
    Patient,
    Record,
    RecordNumberAlias,
    Source,
    SourceMapping,
)
from bingan.storage.models.identity import InvalidIdNumber, birth_date, normalise_id_number, sex_of

BEIJING = ZoneInfo("Asia/Shanghai")
RECORD_MISSING = "record_missing"
TYPE_UNKNOWN = "type_unknown"


def document_type_for(session: Session, source: Source, code: str, fallback_code: str = "") -> DocumentType:
    """Source mapping first, then the source's aliases, then global aliases, then our own codes and names."""
    code = code.strip()
    found = _by_mapping(session, source, code) or _by_alias(session, source.name, code) or _by_alias(session, "", code)
    found = found or _by_own_code_or_name(session, code)
    if found is not None:
        return found
    if source.fallback_document_type is not None:
        return source.fallback_document_type
    if fallback_code and (fallback := _by_own_code_or_name(session, fallback_code)) is not None:
        return fallback
    raise PermanentFailure(
        TYPE_UNKNOWN,
        f"无法识别文书类型“{code or '（空）'}”：请在来源“{source.name}”的文书类型对照中添加该代码，"
        "或设置默认类型“其他”",
    )


def _by_mapping(session: Session, source: Source, code: str) -> DocumentType | None:
    return session.scalars(
        sa.select(DocumentType).join(SourceMapping, SourceMapping.document_type_id == DocumentType.id)
        .where(SourceMapping.source_id == source.id, SourceMapping.source_code == code)
    ).first()


def _by_alias(session: Session, source_system: str, code: str) -> DocumentType | None:
    return session.scalars(
        sa.select(DocumentType).join(DocumentTypeAlias, DocumentTypeAlias.document_type_id == DocumentType.id)
        .where(DocumentTypeAlias.source_system == source_system, DocumentTypeAlias.alias == code)
    ).first()


def _by_own_code_or_name(session: Session, code: str) -> DocumentType | None:
    if not code:
        return None
    return session.scalars(
        sa.select(DocumentType).where(sa.or_(DocumentType.code == code, DocumentType.name == code))
        .order_by(DocumentType.id)
    ).first()


def canonical_record_number(session: Session, number: str) -> str:
    number = number.strip()
    alias = session.scalar(sa.select(RecordNumberAlias.record_number).where(RecordNumberAlias.alias == number))
    return alias or number


def record_for(session: Session, source: Source, item: CollectedItem) -> Record:
    """The record of the item; created from the item's patient data when the source may do so."""
    if not item.record_number.strip():
        raise PermanentFailure(RECORD_MISSING, "缺少病案号，无法归入病案")
    number = canonical_record_number(session, item.record_number)
    record = session.scalars(
        sa.select(Record).where(
            Record.record_number == number, Record.visit_type == item.visit_type, Record.stay_number == item.stay
        )
    ).one_or_none()
    if record is not None:
        return record
    patient_data = item.item_metadata.get("patient") or {}
    if source.create_missing_records and patient_data.get("name"):
        return create_record(session, number, item.stay, item.visit_type, patient_data, campus_id=source.campus_id)
    raise PermanentFailure(
        RECORD_MISSING,
        f"找不到病案：病案号 {item.record_number} 第 {item.stay} 次{_visit(item.visit_type)}；"
        "请先同步基础数据（患者与住院信息），再重试",
    )


def _visit(visit_type: str) -> str:
    return "住院" if visit_type == "inpatient" else "就诊"


def create_record(session: Session, number: str, stay: int, visit_type: str, data: dict,
                  campus_id: int | None = None) -> Record:
    """A patient (found or new) and a record from basic data or an item's metadata."""
    patient = session.scalars(sa.select(Patient).where(Patient.record_number == number)).one_or_none()
    if patient is None:
        patient = _new_patient(session, number, data)
    record = Record(
        patient=patient, record_number=number, stay_number=stay, visit_type=visit_type, campus_id=campus_id,
        admitted_at=parse_time(data.get("admitted_at")), discharged_at=parse_time(data.get("discharged_at")),
        discharge_department_id=department_id(session, data.get("department")),
        admission_department_id=department_id(session, data.get("admission_department") or data.get("department")),
    )
    session.add(record)
    session.flush()
    return record


def _new_patient(session: Session, number: str, data: dict) -> Patient:
    id_number = (data.get("id_number") or "").strip()
    try:
        id_number = normalise_id_number(id_number) if id_number else ""
    except InvalidIdNumber as exc:
        raise PermanentFailure("patient_invalid", f"患者身份证号无效：{exc}") from exc
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
    """ISO 8601 or "YYYY-MM-DD HH:MM[:SS]"; naive times are Beijing time, stored in UTC."""
    if not value or value == "-":
        return None
    text = str(value).strip().replace("/", "-")
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=BEIJING)
    return moment.astimezone(UTC)


def _date(value: object) -> date | None:
    if not value or value == "-":
        return None
    return date.fromisoformat(str(value)[:10])
