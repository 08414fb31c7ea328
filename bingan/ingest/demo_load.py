"""Load generated demo records: basic data straight into the database, documents through the pipeline."""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.ingest.demo import CAMPUSES, DEPARTMENTS, DemoDocument, DemoRecord, document_bytes, generate, states
from bingan.ingest.items import Report, enqueue
from bingan.ingest.pipeline import Pipeline, run_until_settled
from bingan.storage.models import Campus, Department, Diagnosis, Operation, Patient, Record, Source

log = logging.getLogger(__name__)
DEMO_SOURCE = "demo-emr"


BATCH_RECORDS = 5  # settled (indexed) batch by batch, so search fills up while the demo loads


def load_demo(pipe: Pipeline, n: int, *, seed: int = 2026, scanned: int = 0,
              progress: Callable[[int, int], object] | None = None) -> dict[str, int]:
    """Returns counts by final item state. Running it twice adds nothing (same ids, same content)."""
    records = list(generate(n, seed, scanned=scanned))
    with pipe.tx() as session:
        source = _demo_source(session)
        _organisation(session)
    counts: dict[str, int] = {}
    for start in range(0, len(records), BATCH_RECORDS):
        batch = records[start:start + BATCH_RECORDS]
        firsts = [i for demo in batch for i in _load_record(pipe, source.id, demo, demo.documents)]
        # a later version only once its first is stored, so versions keep their order
        for documents in (firsts, [i for demo in batch for i in _load_record(pipe, source.id, demo, demo.revisions)]):
            for state in run_until_settled(pipe, documents, timeout=3600).values():
                counts[state] = counts.get(state, 0) + 1
        if progress:
            progress(start + len(batch), len(records))
    states.settle(pipe, source.id, records)
    return counts


def has_records(pipe: Pipeline) -> bool:
    with pipe.tx() as session:
        return session.scalar(sa.select(Record.id).limit(1)) is not None


def _demo_source(session: Session) -> Source:
    source = session.scalars(sa.select(Source).where(Source.name == DEMO_SOURCE)).one_or_none()
    if source is None:
        source = Source(name=DEMO_SOURCE, title="演示电子病历", kind="emr", transport="manual")
        session.add(source)
        session.flush()
    return source


def _organisation(session: Session) -> None:
    """The demo hospital's campuses and departments (idempotent)."""
    campuses = {c.code: c for c in session.scalars(sa.select(Campus))}
    for code, name in CAMPUSES:
        if code not in campuses:
            campuses[code] = Campus(code=code, name=name)
            session.add(campuses[code])
    session.flush()
    known = set(session.scalars(sa.select(Department.code)))
    for dept in DEPARTMENTS:
        if dept.code not in known:
            session.add(Department(code=dept.code, name=dept.name, kind="inpatient", campus_id=campuses["main"].id))
    session.flush()


def _load_record(pipe: Pipeline, source_id: int, demo: DemoRecord, documents: list[DemoDocument]) -> list[int]:
    with pipe.tx() as session:
        record = upsert_record(session, demo)
        source = session.get(Source, source_id)
        ids = []
        for document in documents:
            revision = document.source_id if document.revision == 1 else f"{document.source_id}-r{document.revision}"
            staged = pipe.staging / f"demo-{revision}{document.extension}"
            staged.write_bytes(document_bytes(document, demo))
            item, created = enqueue(session, source, Report(
                source_document_id=document.source_id, record_number=record.record_number, stay=record.stay_number,
                document_type_code=document.type_code, revision=revision, title=document.title, author=document.author,
                filename=f"{document.title}{document.extension}", origin="scanned" if document.scanned else "collected",
            ), staged_path=str(staged))
            if created:
                ids.append(item.id)
            else:
                staged.unlink(missing_ok=True)
        return ids


def upsert_record(session: Session, demo: DemoRecord) -> Record:
    record = session.scalars(sa.select(Record).where(
        Record.record_number == demo.record_number, Record.visit_type == "inpatient", Record.stay_number == demo.stay
    )).one_or_none()
    if record is not None:
        return record
    patient = session.scalars(sa.select(Patient).where(Patient.record_number == demo.record_number)).one_or_none()
    if patient is None:
        patient = Patient(record_number=demo.record_number, name=demo.name, sex=demo.sex, birth_date=demo.birth,
                          id_number=demo.id_number)
        session.add(patient)
    department = session.scalars(sa.select(Department).where(Department.code == demo.dept.code)).one()
    campus = session.scalars(sa.select(Campus).where(Campus.code == demo.campus)).one()
    record = Record(
        patient=patient, record_number=demo.record_number, stay_number=demo.stay, campus=campus,
        admitted_at=demo.admitted_at, discharged_at=demo.discharged_at, admission_department=department,
        discharge_department=department, kind=demo.kind, confidentiality=demo.confidentiality,
        discharge_method=demo.discharge_method,
        attending_doctor=demo.team.attending, resident_doctor=demo.team.resident,
        front_page=_front_page(demo),
        diagnoses=[Diagnosis(seq=i, code=code, name=name) for i, (code, name) in enumerate(demo.diagnoses)],
        operations=[Operation(seq=i, code=code, name=name, performed_at=demo.admitted_at + timedelta(days=1),
                              surgeon=demo.team.chief) for i, (code, name) in enumerate(demo.operations)],
    )
    session.add(record)
    session.flush()
    return record


def _front_page(demo: DemoRecord) -> dict:
    """首页 fields by upload code (DOMAIN §5)."""
    page = {
        "A48": demo.record_number, "A49": str(demo.stay), "A20": demo.id_number,
        "B12": demo.admitted_at.isoformat(), "B15": demo.discharged_at.isoformat(),
        "B13C": demo.dept.code, "B16C": demo.dept.code, "B20": str(demo.days),
        "C03C": demo.diagnoses[0][0], "C04N": demo.diagnoses[0][1], "B34C": demo.discharge_method,
    }
    if demo.operations:
        page["C14x01C"] = demo.operations[0][0]
    return page
