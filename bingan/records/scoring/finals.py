"""终末质控病历 (I2): the final scores, filtered by patient name, 住院号, discharge department,
length of stay (实际住院天数, the hospital's calendar days, admission and discharge day counting as
one), grade, reviewer and task; a page at a time, or every row for the xlsx export."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from bingan import clock
from bingan.access.policy import Subject
from bingan.storage.models import Department, Patient, Record, User
from bingan.storage.models.scoring import FinalScore, ScoringTask

PER_PAGE = 50
MAX_EXPORT = 100_000
HEADERS = ("病案号", "住院次数", "住院号", "患者姓名", "出院科室", "入院日期", "出院日期", "住院天数", "总分", "等级",
           "评分人", "抽查任务", "评分时间")


@dataclass(frozen=True)
class Query:
    name: str = ""
    inpatient_number: str = ""
    department: str = ""  # discharge department code
    stay_from: int | None = None
    stay_to: int | None = None
    grade: str = ""
    reviewer_id: int | None = None
    task_id: int | None = None
    page: int = 1
    per_page: int = PER_PAGE


@dataclass(frozen=True)
class Found:
    total: int
    rows: list[FinalScore]


def stay_days(dialect: str) -> sa.ColumnElement:
    """Calendar days between admission and discharge in the hospital's time zone, in SQL."""
    discharged = clock.sql_local_date(Record.discharged_at, dialect)
    admitted = clock.sql_local_date(Record.admitted_at, dialect)
    if dialect == "postgresql":
        return discharged - admitted
    return sa.cast(sa.func.julianday(discharged) - sa.func.julianday(admitted), sa.Integer)


def _scoped(query: sa.Select, subject: Subject) -> sa.Select:
    query = query.where(Record.sealed.is_(False), Record.confidentiality <= subject.user.max_confidentiality)
    if not subject.all_departments:
        query = query.where(Record.discharge_department_id.in_(
            sa.select(Department.id).where(Department.code.in_(subject.departments or {""}))))
    return query


def _filtered(session: Session, subject: Subject, ask: Query) -> sa.Select:
    query = (sa.select(FinalScore).join(Record, Record.id == FinalScore.record_id)
             .where(FinalScore.status == "final"))
    if ask.name.strip():
        query = query.where(Record.patient_id.in_(sa.select(Patient.id).where(
            Patient.name.contains(ask.name.strip(), autoescape=True))))
    if ask.inpatient_number.strip():
        query = query.where(Record.inpatient_number == ask.inpatient_number.strip())
    if ask.department:
        query = query.where(Record.discharge_department_id.in_(
            sa.select(Department.id).where(Department.code == ask.department)))
    if ask.stay_from is not None or ask.stay_to is not None:
        days = stay_days(session.get_bind().dialect.name)
        query = query.where(Record.admitted_at.is_not(None), Record.discharged_at.is_not(None))
        # 住院天数 = max(1, days): at least one day, so a lower bound of 1 or less holds for every stay.
        if ask.stay_from is not None and ask.stay_from > 1:
            query = query.where(days >= ask.stay_from)
        if ask.stay_to is not None:
            query = query.where(days <= ask.stay_to if ask.stay_to >= 1 else sa.false())
    if ask.grade:
        query = query.where(FinalScore.grade == ask.grade)
    if ask.reviewer_id:
        query = query.where(FinalScore.reviewer_id == ask.reviewer_id)
    if ask.task_id:
        query = query.where(FinalScore.task_id == ask.task_id)
    return _scoped(query, subject)


def search(session: Session, subject: Subject, ask: Query) -> Found:
    query = _filtered(session, subject, ask)
    total = session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = list(session.scalars(_loaded(query).order_by(FinalScore.scored_at.desc(), FinalScore.id.desc())
                                .offset((ask.page - 1) * ask.per_page).limit(ask.per_page)))
    return Found(total, rows)


def every(session: Session, subject: Subject, ask: Query, batch: int = 1000):
    """Every matching row for the export, fetched in batches (constant memory)."""
    query = _loaded(_filtered(session, subject, ask)).order_by(FinalScore.id).limit(MAX_EXPORT)
    yield from session.scalars(query.execution_options(yield_per=batch))


def _loaded(query: sa.Select) -> sa.Select:
    return query.options(selectinload(FinalScore.record).selectinload(Record.patient),
                         selectinload(FinalScore.record).selectinload(Record.discharge_department),
                         selectinload(FinalScore.reviewer), selectinload(FinalScore.task))


def _day(moment: datetime | None) -> str:
    return clock.local_date(moment).isoformat() if moment else ""


def cells(score: FinalScore) -> list:
    record = score.record
    return [record.record_number, record.stay_number, record.inpatient_number, record.patient.name,
            record.discharge_department.name if record.discharge_department else "", _day(record.admitted_at),
            _day(record.discharged_at), record.length_of_stay or "", score.total, score.grade,
            _who(score.reviewer), score.task.name if score.task else "",
            clock.local(score.scored_at).strftime("%Y-%m-%d %H:%M") if score.scored_at else ""]


def as_json(score: FinalScore) -> dict:
    record = score.record
    return {"score_id": score.id, "record_id": record.id, "record_number": record.record_number,
            "stay_number": record.stay_number, "inpatient_number": record.inpatient_number,
            "patient_name": record.patient.name,
            "discharge_department": record.discharge_department.code if record.discharge_department else "",
            "admitted_at": clock.iso(record.admitted_at), "discharged_at": clock.iso(record.discharged_at),
            "length_of_stay": record.length_of_stay, "total": score.total, "grade": score.grade,
            "reviewer": _who(score.reviewer), "task_id": score.task_id, "standard_id": score.standard_id,
            "scored_at": clock.iso(score.scored_at)}


def latest_grade(session: Session, record_id: int) -> FinalScore | None:
    """The record's grade: its latest final score."""
    return session.scalars(sa.select(FinalScore).where(FinalScore.record_id == record_id,
                                                       FinalScore.status == "final")
                           .order_by(FinalScore.scored_at.desc(), FinalScore.id.desc()).limit(1)).first()


def reviewers(session: Session) -> list[User]:
    return list(session.scalars(sa.select(User).where(User.id.in_(sa.select(FinalScore.reviewer_id)))
                                .order_by(User.id)))


def tasks(session: Session) -> list[ScoringTask]:
    return list(session.scalars(sa.select(ScoringTask).order_by(ScoringTask.id.desc()).limit(500)))


def _who(user: User | None) -> str:
    return (user.full_name or user.username) if user else ""
