"""A generated October 2026 (国庆 10-01…10-07, 10-10 a make-up Saturday) of four inpatient records in
two departments, one record discharged in September and one outpatient visit outside the count, on
SQLite and PostgreSQL. The expected figures are worked out by hand in test_indicators_spec.py."""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "access"))

from world import World, build_world

from bingan.storage.models import Document, DocumentType, Operation, Patient, Record, Version
from bingan.storage.models.completeness import CheckFinding, CheckRun, Mark

BEIJING = timezone(timedelta(hours=8))


def bj(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """Beijing wall time, stored as UTC (SQLite keeps the wall time it is given)."""
    return datetime(2026, month, day, hour, minute, tzinfo=BEIJING).astimezone(UTC)


@dataclass
class Month:
    world: World
    records: dict[str, Record] = field(default_factory=dict)


def add_document(session, record: Record, type_name: str, written: datetime | None = None, *,
                 origin: str = "collected", removed: bool = False) -> Document:
    doc_type = session.scalars(sa.select(DocumentType).where(DocumentType.name == type_name)).one()
    document = Document(record=record, document_type=doc_type, title=type_name, source_system="EMR",
                        source_document_id=f"{record.record_number}-{type_name}", origin=origin, written_at=written,
                        removed=removed)
    version = Version(document=document, number=1, sha256=f"{record.id:032d}{doc_type.id:032d}", size=1,
                      media_type="application/pdf", filename="doc.pdf", page_count=1)
    session.add(version)
    session.flush()
    document.current_version_id = version.id
    return document


def add_record(session, world: World, number: str, department, admitted: datetime, discharged: datetime,
               **fields) -> Record:
    patient = Patient(record_number=number, name=f"患者{number[-2:]}", sex="M")
    record = Record(patient=patient, record_number=number, stay_number=1, campus_id=department.campus_id,
                    admitted_at=admitted, discharged_at=discharged, admission_department_id=department.id,
                    discharge_department_id=department.id, **fields)
    session.add(record)
    session.flush()
    return record


SURGERY = ("术前小结", "手术知情同意书", "麻醉知情同意书", "手术安全核查记录", "麻醉记录", "术后首次病程记录",
           "临时医嘱单")


@pytest.fixture
def month(session) -> Month:
    world = build_world(session, with_documents=False)
    found = Month(world)
    cardiology, respiratory = world.cardiology, world.respiratory
    # R1 心内科: everything in time except the front page; operated, all surgical documents; paperless.
    r1 = add_record(session, world, "2610001", cardiology, bj(10, 8, 9), bj(10, 9, 10),
                    submitted_at=bj(10, 12, 20), archived_at=bj(10, 13, 9), status="archived")
    add_document(session, r1, "入院记录", bj(10, 8, 20))
    add_document(session, r1, "出院记录", bj(10, 10, 9))
    add_document(session, r1, "住院病案首页", bj(10, 11, 11))
    session.add(Operation(record_id=r1.id, seq=0, code="36.0601", name="冠脉支架植入", performed_at=bj(10, 8, 14)))
    add_document(session, r1, "手术记录", bj(10, 9, 10))
    for name in SURGERY:
        add_document(session, r1, name, bj(10, 8, 12))
    # R2 心内科: discharged on a holiday, submitted 7 days later but within 2 working days; late
    # admission and operation notes; blood used with every document; a scanned page; a failed check.
    r2 = add_record(session, world, "2610002", cardiology, bj(10, 1, 8), bj(10, 2, 10),
                    submitted_at=bj(10, 9, 17), archived_at=bj(10, 10, 9), status="archived")
    add_document(session, r2, "入院记录", bj(10, 2, 9))
    add_document(session, r2, "出院记录", bj(10, 2, 20))
    session.add(Operation(record_id=r2.id, seq=0, code="47.0901", name="阑尾切除", performed_at=bj(10, 1, 12)))
    add_document(session, r2, "手术记录", bj(10, 2, 13))
    for name in ("输血记录", "输血治疗知情同意书", "临时医嘱单"):
        add_document(session, r2, name, bj(10, 1, 16))
    add_document(session, r2, "体温单", bj(10, 2, 9), origin="scanned")
    run = CheckRun(record_id=r2.id, run_at=bj(10, 9, 17), trigger="submit", passed=False, errors=1)
    session.add(run)
    session.flush()
    session.add(CheckFinding(run_id=run.id, seq=0, check="completeness", severity="error", message="缺少首页"))
    # R3 呼吸内科: discharged on a Friday, submitted after the weekend on the 3rd working day; its
    # admission note was withdrawn; the front page says blood was used; not archived.
    r3 = add_record(session, world, "2610003", respiratory, bj(10, 12, 8), bj(10, 16, 15),
                    submitted_at=bj(10, 21, 9), status="submitted", front_page={"输血": "是"})
    add_document(session, r3, "入院记录", bj(10, 12, 10), removed=True)
    # R4 呼吸内科: died within 24 hours, documents in time, never submitted, a missing mark open.
    r4 = add_record(session, world, "2610004", respiratory, bj(10, 20, 10), bj(10, 20, 22), kind="death",
                    discharge_method="5", status="awaiting")
    add_document(session, r4, "24小时内入院死亡记录", bj(10, 21, 8))
    add_document(session, r4, "住院病案首页", bj(10, 21, 10))
    session.add(Mark(record_id=r4.id, kind="missing", reason="尸检报告未回", state="open"))
    # Outside the count: discharged in September; an outpatient visit in October.
    september = add_record(session, world, "2609001", cardiology, bj(9, 20, 8), bj(9, 30, 10), status="archived",
                           submitted_at=bj(10, 1, 9), archived_at=bj(10, 1, 10))
    add_document(session, september, "入院记录", bj(9, 20, 9))
    add_record(session, world, "2610009", cardiology, bj(10, 15, 8), bj(10, 15, 9), visit_type="outpatient")
    session.commit()
    found.records = {"R1": r1, "R2": r2, "R3": r3, "R4": r4}
    return found
