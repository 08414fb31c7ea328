"""A small hospital for the access and web tests: departments, one user per role, records in
every state the gate distinguishes, and real PDF documents stored in the encrypted blob store.
"""
from __future__ import annotations

import io
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))

import formats_gen

from bingan.access.accounts import create_user
from bingan.access.sessions import needs_second_factor
from bingan.records import lifecycle
from bingan.storage.models import (
    Campus,
    Department,
    Diagnosis,
    Document,
    DocumentType,
    Grant,
    IndexAccessOutbox,
    Page,
    Patient,
    Record,
    Tag,
    User,
    Version,
    utcnow,
)

PASSWORD = "Xk7#mPq2$wLz9"
ROLES = ("sysadmin", "secadmin", "auditor", "archivist", "qc", "clinician", "nurse", "medical_affairs",
         "copy_clerk", "dept_head")
STATES = ("normal", "confidential", "sealed", "other_department", "granted", "restricted_tag")
def _id_number(index: int) -> str:
    from bingan.storage.models.identity import check_char

    first17 = f"11010519800{index + 1}01{index + 1:02d}1"
    return first17 + check_char(first17)


ID_NUMBERS = [_id_number(i) for i in range(6)]

PAGE_TEXT = [
    ["入院记录", "姓名：王建国  病案号：{number}", "主诉：反复胸闷气促5年，加重3天。",
     "初步诊断：肺炎，冠状动脉粥样硬化性心脏病。"],
    ["出院记录", "出院诊断：社区获得性肺炎，2型糖尿病。", "出院医嘱：低盐低脂饮食，按时复诊。"],
    ["体温单", "体温36.8℃ 脉搏80次/分", "血压130/80mmHg"],
]


@dataclass
class World:
    users: dict[str, User] = field(default_factory=dict)
    records: dict[str, Record] = field(default_factory=dict)
    documents: dict[str, list[Document]] = field(default_factory=dict)
    cardiology: Department | None = None
    respiratory: Department | None = None


def pdf_bytes(number: str) -> bytes:
    pages = [[line.format(number=number) for line in lines] for lines in PAGE_TEXT]
    return formats_gen.text_pdf(pages)


def store_pdf(data: bytes, number: str) -> str:
    from bingan.config import get_settings
    from bingan.storage.blobs.port import Placement, open_blob_store

    store = open_blob_store(get_settings())
    placement = Placement(campus="main", record_number=number, stay=1, when=utcnow().date(), filename="doc.pdf")
    return store.put(io.BytesIO(data), placement).sha256


def build_world(session: Session, *, with_documents: bool = True) -> World:
    world = World()
    campus = session.scalars(sa.select(Campus).where(Campus.code == "main")).one()
    world.cardiology = Department(code="0301", name="心内科", campus_id=campus.id)
    world.respiratory = Department(code="0302", name="呼吸内科", campus_id=campus.id)
    session.add_all([world.cardiology, world.respiratory])
    session.flush()
    for role in ROLES:
        user = create_user(session, f"u_{role}", PASSWORD, [role], full_name=f"测试{role}",
                           department_code="0301", must_change_password=False)
        user.staff_number = f"S{ROLES.index(role) + 1:04d}"
        if needs_second_factor(user):  # administrators, grantors and hospital-wide readers
            user.totp_secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
        world.users[role] = user
    restricted = Tag(name="VIP", restricted=True)
    session.add(restricted)
    for index, state in enumerate(STATES):
        world.records[state] = _record(session, world, index, state, restricted)
    session.flush()
    clinician = world.users["clinician"]
    session.add(Grant(user_id=clinician.id, record_id=world.records["granted"].id, actions=["view", "print"],
                      valid_from=utcnow() - timedelta(days=1), valid_until=utcnow() + timedelta(days=7),
                      reason="借阅"))
    if with_documents:
        for state, record in world.records.items():
            world.documents[state] = [add_pdf_document(session, record, "入院记录")]
    session.flush()
    session.execute(sa.delete(IndexAccessOutbox))  # the seal above: nothing is indexed yet, tests index this world
    return world


def _record(session: Session, world: World, index: int, state: str, restricted: Tag) -> Record:
    number = f"00{index + 1:05d}"
    patient = Patient(record_number=number, name=["王建国", "李秀英", "张伟", "刘洋", "陈静", "赵磊"][index],
                      sex="M", id_number=ID_NUMBERS[index])
    session.add(patient)
    department = world.respiratory if state in {"other_department", "granted"} else world.cardiology
    record = Record(
        patient=patient, record_number=number, stay_number=1, campus_id=department.campus_id,
        admitted_at=datetime(2026, 3, 1 + index, 9, 30, tzinfo=UTC),
        discharged_at=datetime(2026, 3, 10 + index, 15, 0, tzinfo=UTC),
        admission_department_id=department.id, discharge_department_id=department.id,
        confidentiality=2 if state == "confidential" else 0,
        attending_doctor="李主任", front_page={"A48": number, "B34C": "1"},
    )
    record.diagnoses = [Diagnosis(seq=0, code="J18.9", name="肺炎")]
    if state == "restricted_tag":
        record.tags = [restricted]
    session.add(record)
    session.flush()
    for status in ("awaiting", "submitted", "qc", "archived"):
        lifecycle.move(session, lifecycle.SYSTEM, record, status, "测试病案")
    if state == "sealed":
        lifecycle.seal(session, lifecycle.SYSTEM, record, "医疗纠纷")
    return record


def add_pdf_document(session: Session, record: Record, type_name: str, *, origin: str = "collected") -> Document:
    doc_type = session.scalars(sa.select(DocumentType).where(DocumentType.name == type_name)).one()
    data = pdf_bytes(record.record_number)
    sha = store_pdf(data, record.record_number)
    document = Document(record=record, document_type=doc_type, title=type_name, source_system="EMR",
                        source_document_id=f"{record.record_number}-{type_name}", origin=origin)
    version = Version(document=document, number=1, sha256=sha, size=len(data), media_type="application/pdf",
                      filename="doc.pdf", page_count=len(PAGE_TEXT))
    version.pages = [
        Page(number=n, text="\n".join(line.format(number=record.record_number) for line in lines))
        for n, lines in enumerate(PAGE_TEXT, start=1)
    ]
    session.add(version)
    session.flush()
    document.current_version = version
    session.flush()
    return document
