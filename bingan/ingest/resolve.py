"""Which record and which standard document type a collected item belongs to."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.ingest.errors import PermanentFailure
from bingan.records import patients
from bingan.records.patients import canonical_record_number, find_record
from bingan.storage.models import (
    CollectedItem,
    DocumentType,
    DocumentTypeAlias,
    Patient,
    Record,
    Source,
    SourceMapping,
)

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


def record_for(session: Session, source: Source, item: CollectedItem) -> Record:
    """The record of the item; created from the item's patient data when the source may do so."""
    if not item.record_number.strip():
        raise PermanentFailure(RECORD_MISSING, "缺少病案号，无法归入病案")
    number = canonical_record_number(session, item.record_number)
    record = find_record(session, number, item.stay, item.visit_type)
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


def create_record(session: Session, number: str, stay: int, visit_type: str, data: dict,
                  campus_id: int | None = None) -> Record:
    """records.patients.create_record, its refusal a permanent collection failure."""
    with _patient_data_checked():
        return patients.create_record(session, number, stay, visit_type, data, campus_id)


def new_patient(session: Session, number: str, data: dict) -> Patient:
    with _patient_data_checked():
        return patients.new_patient(session, number, data)


@contextmanager
def _patient_data_checked() -> Iterator[None]:
    try:
        yield
    except patients.InvalidPatientData as exc:
        raise PermanentFailure("patient_invalid", exc.message) from exc


def _visit(visit_type: str) -> str:
    return "住院" if visit_type == "inpatient" else "就诊"
