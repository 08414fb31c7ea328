"""From discharge to archived in the demo record room, through the real workflow services: the
EMR's completion event or the doctor submits (self-checks stored), the QC office takes the record,
comments by document and page, returns it to its owners or passes it (the life cycle archives it);
an owner answers every comment and resubmits, back to the same reviewer; doctors mark missing items
and special records, and the record room closes a missing item once collected (补收).

Who acts is the demo staff: ``qc`` (质控科) reviews, the record's attending doctor when they have an
account (the demo clinician), otherwise the department's head (科主任) speaks for its doctors.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan import clock
from bingan.access.audit import Actor
from bingan.access.policy import record_department
from bingan.records import lifecycle
from bingan.records.completeness import marks
from bingan.records.completeness.service import complete_from_emr, submit
from bingan.records.qc import service as qc
from bingan.storage.models import Document, DocumentType, Record, Role, User, utcnow
from bingan.storage.models.qc import QcComment

# (document type code, page, kind, comment, the owner's reply) — what a reviewer writes on real records.
MEDICAL = ("C0201", 1, "medical", "现病史未写明外院诊治经过及用药情况，请补充",
           "已补充外院诊治经过及用药，入院记录已重新提交")
NURSING = ("C2602", 1, "nursing", "护理记录缺出院当日生命体征及出院指导记录", "")
FIRST_COURSE = ("C0301", 1, "medical", "首次病程记录诊断依据与鉴别诊断过于简单，请完善", "")
MISSING = ("C2101", "病理报告未回，病理科预计一周内发出", 7)  # (type code, reason, days until expected)
COLLECTED = ("C1901", "外院专家会诊记录为纸质件，待患者家属送回后补扫")
COLLECTED_NOTE = "已补收外院会诊记录纸质件并扫描归档"
SPECIAL = ("教学病例", "典型病例，科室教学查房使用")


@dataclass(frozen=True)
class People:
    """The demo accounts who act; None without them (``bingan ingest demo`` loads records only)."""

    reviewer: User  # 质控科
    archivist: User

    @classmethod
    def load(cls, session: Session) -> People | None:
        found = {u.username: u for u in session.scalars(sa.select(User).where(User.username.in_(["qc", "archivist"])))}
        return cls(found["qc"], found["archivist"]) if len(found) == 2 else None


def reviewable(session: Session, people: People, record: Record) -> bool:
    """The QC office's demo account may review the record (a 绝密 record it may not read)."""
    return qc.may_review(session, people.reviewer, record, None)


def collected(session: Session, actor: Actor, record: Record) -> None:
    """采集中 → 待提交: what the worker's tick does once the collection window is over."""
    if record.status == "collecting":
        lifecycle.move(session, actor, record, "awaiting")


def submitted(session: Session, record: Record) -> None:
    """The doctor submits when they have an account; otherwise the EMR's record-level "complete"
    event does. Either way the self-checks run and are stored."""
    doctor = _attending(session, record)
    if doctor is None:
        complete_from_emr(session, record)
    else:
        submit(session, Actor.of(doctor), record)


def in_qc(session: Session, people: People, record: Record) -> None:
    """Taken by the QC office, two comments written and not yet sent."""
    qc.take(session, _actor(people), people.reviewer, record)
    for comment in (FIRST_COURSE, NURSING):
        _comment(session, people, record, comment)


def returned(session: Session, people: People, record: Record) -> None:
    """A medical comment, returned to the record's doctors and head of department."""
    _comment(session, people, record, MEDICAL)
    qc.return_record(session, _actor(people), people.reviewer, record)


def resubmitted(session: Session, people: People, record: Record) -> None:
    """Returned, answered by its owner and resubmitted: back on the same reviewer's list (返修过)."""
    returned(session, people, record)
    owner = qc.open_return(session, record.id).owners[0].user
    replies = [(found.id, MEDICAL[4]) for found in session.scalars(
        sa.select(QcComment).where(QcComment.record_id == record.id, QcComment.reply == ""))]
    qc.resubmit(session, Actor.of(owner), owner, record, replies)


def archived(session: Session, people: People, record: Record) -> None:
    qc.pass_record(session, _actor(people), people.reviewer, record)


def mark_missing(session: Session, record: Record) -> None:
    """病理报告未回: the doctor marks the missing item with the date it is expected."""
    code, reason, days = MISSING
    _mark(session, record, marks.MarkInput(
        "missing", reason, document_type_id=_type_id(session, code),
        expected_date=clock.local_date(utcnow()) + timedelta(days=days)))


def mark_special(session: Session, record: Record) -> None:
    kind, reason = SPECIAL
    _mark(session, record, marks.MarkInput("special", reason, special_kind=kind))


def mark_collected_later(session: Session, record: Record) -> marks.Mark | None:
    """A missing item marked before submission; the record room closes it once archived (补收)."""
    code, reason = COLLECTED
    return _mark(session, record, marks.MarkInput("missing", reason, document_type_id=_type_id(session, code)))


def close_collected(session: Session, people: People, mark: marks.Mark) -> None:
    marks.close_mark(session, Actor.of(people.archivist), mark, COLLECTED_NOTE)


def _doctor(session: Session, record: Record) -> User | None:
    """The record's attending doctor's account, or its department's head (科主任)."""
    attending = _attending(session, record)
    if attending is not None:
        return attending
    department = record_department(record)
    return session.scalars(sa.select(User).join(User.roles).where(
        User.active, Role.code == "dept_head", User.department_id == department.id).order_by(User.id)).first()


def _mark(session: Session, record: Record, data: marks.MarkInput) -> marks.Mark | None:
    doctor = _doctor(session, record)
    if doctor is None:
        return None
    return marks.add_mark(session, Actor.of(doctor), doctor, record, data)


def _comment(session: Session, people: People, record: Record, comment: tuple) -> None:
    code, page, kind, text, _reply = comment
    document = session.scalars(sa.select(Document).join(Document.document_type).where(
        Document.record_id == record.id, DocumentType.code == code, ~Document.removed)
        .order_by(Document.id)).first()
    if document is not None:
        qc.comment(session, _actor(people), people.reviewer, record, document.id, page, kind, text)


def _attending(session: Session, record: Record) -> User | None:
    if not record.attending_doctor:
        return None
    department = record_department(record)
    return session.scalars(sa.select(User).where(
        User.active, User.full_name == record.attending_doctor,
        User.department_id == (department.id if department else None)).order_by(User.id)).first()


def _type_id(session: Session, code: str) -> int:
    return session.scalars(sa.select(DocumentType.id).where(DocumentType.code == code)).one()


def _actor(people: People) -> Actor:
    return Actor.of(people.reviewer)
