"""The index step's data side: PageDocs built from the database, shared by the pipeline and reindex."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from bingan import clock
from bingan.search.port import PageDoc
from bingan.storage.models import Document, Page, Record, RecordNumberAlias, Version


def page_docs_for_versions(session: Session, version_ids: Iterable[int]) -> list[PageDoc]:
    """Every page of the given versions, with the record fields search filters and shows."""
    ids = sorted(set(version_ids))
    if not ids:
        return []
    versions = session.scalars(
        sa.select(Version).where(Version.id.in_(ids)).options(
            selectinload(Version.pages),
            selectinload(Version.document).selectinload(Document.document_type),
        )
    ).all()
    records = _records(session, {v.document.record_id for v in versions})
    aliases = _aliases(session, {r.record_number for r in records.values()})
    docs: list[PageDoc] = []
    for version in versions:
        record = records[version.document.record_id]
        docs.extend(_page_docs(version, record, aliases.get(record.record_number, [])))
    return docs



def _records(session: Session, record_ids: set[int]) -> dict[int, Record]:
    rows = session.scalars(
        sa.select(Record).where(Record.id.in_(record_ids)).options(
            selectinload(Record.patient), selectinload(Record.campus), selectinload(Record.discharge_department),
            selectinload(Record.admission_department), selectinload(Record.diagnoses),
            selectinload(Record.operations), selectinload(Record.tags),
        )
    ).all()
    return {r.id: r for r in rows}


def _aliases(session: Session, numbers: set[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    rows = session.execute(
        sa.select(RecordNumberAlias.record_number, RecordNumberAlias.alias).where(
            RecordNumberAlias.record_number.in_(numbers)
        )
    )
    for number, alias in rows:
        found.setdefault(number, []).append(alias)
    return found


def _page_docs(version: Version, record: Record, aliases: list[str]) -> Iterator[PageDoc]:
    document = version.document
    dtype = document.document_type
    category = dtype.category
    department = record.discharge_department or record.admission_department
    when: datetime | None = record.discharged_at or record.admitted_at
    for page in version.pages:
        yield _one(page, version, record, aliases, dtype, category, department, when)


def _keys(record: Record, aliases: list[str]) -> list[str]:
    """Numbers the record is found by besides its 病案号: old/merged numbers and its 住院号 (per stay)."""
    inpatient = record.inpatient_number.strip()
    return [*aliases, inpatient] if inpatient and inpatient != record.record_number else list(aliases)


def _one(page: Page, version: Version, record: Record, aliases, dtype, category, department, when) -> PageDoc:
    return PageDoc(
        record_id=record.id, record_number=record.record_number, stay=record.stay_number,
        document_id=version.document_id, version_id=version.id, page=page.number, text=page.text,
        patient_name=record.patient.name, id_number=record.patient.id_number or "", aliases=_keys(record, aliases),
        category=category.code, category_name=category.name,
        document_type=dtype.code, document_type_name=dtype.name,
        department=department.code if department else "", department_name=department.name if department else "",
        campus=record.campus.code if record.campus else "",
        admitted_at=record.admitted_at, discharged_at=record.discharged_at,
        year=clock.local_date(when).year if when else None,
        record_kind=record.kind, confidentiality=record.confidentiality,  # type: ignore[arg-type]
        tags=[t.name for t in record.tags],
        diagnosis_codes=[d.code for d in record.diagnoses], diagnosis_names=[d.name for d in record.diagnoses],
        operation_codes=[o.code for o in record.operations], operation_names=[o.name for o in record.operations],
        sealed=record.sealed,
    )


def current_version_ids(session: Session, document_ids: Iterable[int]) -> dict[int, int | None]:
    rows = session.execute(
        sa.select(Document.id, Document.current_version_id, Document.removed).where(Document.id.in_(set(document_ids)))
    )
    return {doc_id: (None if removed else vid) for doc_id, vid, removed in rows}


def version_ids_of(session: Session, document_ids: Iterable[int]) -> list[int]:
    return list(session.scalars(sa.select(Version.id).where(Version.document_id.in_(set(document_ids)))))
