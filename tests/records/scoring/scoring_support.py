"""Helpers of the final-QC scoring specification: the actor of a user, a record discharged in
November 2026 (hospital time). A module of its own name, not conftest, so it imports the same
whichever tests are collected together."""
from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "access"))

from world import World, add_pdf_document

from bingan.access.audit import Actor
from bingan.storage.models import Patient, Record

NAMES = ["周志强", "吴丽华", "郑国庆", "孙桂英", "马建军", "朱晓燕", "胡文斌", "林淑芬", "何永红", "高立新",
         "罗秀兰", "梁志明"]


def actor(user) -> Actor:
    return Actor.of(user, "10.0.0.9")


def discharged(session, world: World, index: int, *, department=None, stay_days: int = 5,
               discharged_at: datetime | None = None, kind: str = "normal", document: bool = False) -> Record:
    """A record discharged in November 2026 (hospital time), ``stay_days`` after admission."""
    number = f"02{index:05d}"
    out = discharged_at or datetime(2026, 11, 2 + index % 25, 2, 0, tzinfo=UTC)  # 10:00 Beijing time
    patient = Patient(record_number=number, name=NAMES[index % len(NAMES)], sex="F")
    record = Record(patient=patient, record_number=number, stay_number=1, inpatient_number=f"ZY{number}",
                    campus_id=world.cardiology.campus_id, admitted_at=out - timedelta(days=stay_days),
                    discharged_at=out, kind=kind,
                    admission_department_id=(department or world.cardiology).id,
                    discharge_department_id=(department or world.cardiology).id, status="archived")
    session.add(record)
    session.flush()
    if document:
        add_pdf_document(session, record, "入院记录")
    return record

