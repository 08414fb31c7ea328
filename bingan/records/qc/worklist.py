"""Archive QC queries: the worklist with its quick filters (H1, H3, H10), the records returned to
me (退回给我的病案), the QC history (H8) and what one row shows — working days since discharge
against the record's deadline, the self-check verdict, how often it was returned before."""
from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from bingan import clock
from bingan.access.policy import Subject
from bingan.records import calendar, lifecycle
from bingan.records.completeness import rules
from bingan.records.qc.service import step_name
from bingan.storage.models import Campus, Department, Document, Record, Tag, User
from bingan.storage.models.completeness import CheckRun, Mark
from bingan.storage.models.qc import QcComment, QcReturn, QcReturnOwner, QcReview
from bingan.storage.models.records import record_tags

FILTERS = {"death": "死亡病案", "special": "特殊病案", "reworked": "返修过", "transfusion": "输血病案",
           "overdue": "已超期", "mine": "我的"}
STATES = {"pending": ("submitted", "qc"), "returned": ("returned",), "all": ("submitted", "qc", "returned")}
STATE_NAMES = {"pending": "待质控/质控中", "returned": "已退回", "all": "全部"}
OUTCOMES = {"open": "质控中", "returned": "已退回", "passed": "已通过"}
PER_PAGE = 50
MAX_EXPORT = 50_000


@dataclass
class WorklistQuery:
    filter: str = ""
    state: str = "pending"
    department: str = ""  # department code
    campus: str = ""  # campus code
    discharged_from: date | None = None
    discharged_to: date | None = None
    page: int = 1
    per_page: int = PER_PAGE


@dataclass
class Row:
    record: Record
    department: str
    discharged: date | None
    working_days: int | None  # working days since discharge
    deadline: date | None
    deadline_days: int | None  # working days the record's kind allows
    overdue: bool
    check: CheckRun | None
    returned_times: int
    review: QcReview | None
    reviewer: str = ""

    @property
    def state_name(self) -> str:
        return lifecycle.state_name(self.record.status)

    @property
    def step(self) -> str:
        return step_name(self.review)


@dataclass
class Worklist:
    total: int
    rows: list[Row] = field(default_factory=list)


def department_of() -> sa.ColumnElement:
    return sa.func.coalesce(Record.discharge_department_id, Record.admission_department_id)


def in_scope(query: sa.Select, subject: Subject) -> sa.Select:
    """The gate's view rules as a query: departments, campuses, confidentiality, restricted tags,
    never a sealed record (nothing but the seal workflow reaches one)."""
    query = query.where(Record.sealed.is_(False), Record.confidentiality <= subject.user.max_confidentiality)
    if not subject.all_departments:
        codes = sa.select(Department.id).where(Department.code.in_(subject.departments or {""}))
        query = query.where(department_of().in_(codes))
    if subject.campuses is not None:
        query = query.where(Record.campus_id.in_(sa.select(Campus.id).where(Campus.code.in_(subject.campuses))))
    if subject.denied_tags:
        hidden = sa.select(record_tags.c.record_id).join(Tag, Tag.id == record_tags.c.tag_id).where(
            Tag.name.in_(subject.denied_tags))
        query = query.where(Record.id.not_in(hidden))
    return query


def _quick_filter(query: sa.Select, name: str, user: User) -> sa.Select:
    if name == "special":
        marked = sa.select(Mark.record_id).where(Mark.kind == "special", Mark.state == "open")
        return query.where(sa.or_(Record.kind == "special", Record.id.in_(marked)))
    if name == "reworked":
        return query.where(Record.id.in_(sa.select(QcReturn.record_id)))
    if name == "mine":
        mine = sa.select(QcReview.record_id).where(QcReview.assigned_to_id == user.id, QcReview.status != "passed")
        return query.where(Record.id.in_(mine))
    return query


def worklist(session: Session, subject: Subject, ask: WorklistQuery, today: date | None = None) -> Worklist:
    """One page of the records waiting for QC, oldest discharge first (the most urgent)."""
    today = today or clock.local_date(clock.now())
    query = in_scope(sa.select(Record).where(Record.status.in_(STATES[ask.state])), subject)
    query = _quick_filter(query, ask.filter, subject.user)
    if ask.department:
        query = query.where(department_of().in_(sa.select(Department.id).where(Department.code == ask.department)))
    if ask.campus:
        query = query.where(Record.campus_id.in_(sa.select(Campus.id).where(Campus.code == ask.campus)))
    if ask.discharged_from:
        query = query.where(Record.discharged_at >= clock.day_start(ask.discharged_from))
    if ask.discharged_to:
        query = query.where(Record.discharged_at < clock.day_start(ask.discharged_to + timedelta(days=1)))
    query = query.options(selectinload(Record.patient), selectinload(Record.discharge_department),
                          selectinload(Record.admission_department), selectinload(Record.operations))
    ordered = query.order_by(Record.discharged_at.asc().nulls_last(), Record.id)
    if ask.filter in PER_RECORD:  # decided by the calendar or the record's cases, record by record
        kept = PER_RECORD[ask.filter](session, query, list(session.scalars(ordered)), today)
        start = (ask.page - 1) * ask.per_page
        return Worklist(len(kept), rows_for(session, kept[start:start + ask.per_page], today))
    total = session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    page = session.scalars(ordered.limit(ask.per_page).offset((ask.page - 1) * ask.per_page)).all()
    return Worklist(total, rows_for(session, list(page), today))


def _overdue_records(session: Session, _query: sa.Select, records: list[Record], today: date) -> list[Record]:
    return [record for record in records if _overdue(session, record, today)]


def _in_case(case: str) -> Callable[[Session, sa.Select, list[Record], date], list[Record]]:
    """Records of a completeness case (死亡, 输血), told the way the self-checks tell it."""
    def kept(session: Session, query: sa.Select, records: list[Record], _today: date) -> list[Record]:
        documents: dict[int, list[Document]] = defaultdict(list)
        ids = query.with_only_columns(Record.id).order_by(None)
        for document in session.scalars(sa.select(Document).where(
                Document.record_id.in_(ids), ~Document.removed, Document.current_version_id.is_not(None))
                .options(selectinload(Document.document_type))):
            documents[document.record_id].append(document)
        return [record for record in records if case in rules.record_cases(record, documents[record.id])]
    return kept


PER_RECORD = {"overdue": _overdue_records, "death": _in_case("death"), "transfusion": _in_case("transfusion")}


def _overdue(session: Session, record: Record, today: date) -> bool:
    deadline = calendar.archive_deadline(session, record)
    return deadline is not None and today > deadline


def rows_for(session: Session, records: list[Record], today: date) -> list[Row]:
    """Rows for ``records``, their checks, returns and reviews read in one query each."""
    ids = [record.id for record in records]
    checks = latest_checks(session, ids)
    returns = Counter(session.scalars(sa.select(QcReturn.record_id).where(QcReturn.record_id.in_(ids))))
    reviews = {review.record_id: review for review in session.scalars(
        sa.select(QcReview).where(QcReview.record_id.in_(ids), QcReview.status != "passed")
        .options(selectinload(QcReview.assigned_to)).order_by(QcReview.id))}
    return [_row(session, record, today, checks.get(record.id), returns[record.id], reviews.get(record.id))
            for record in records]


def _row(session: Session, record: Record, today: date, check: CheckRun | None, returned: int,
         review: QcReview | None) -> Row:
    department = record.discharge_department or record.admission_department
    discharged = clock.local_date(record.discharged_at) if record.discharged_at else None
    deadline = calendar.archive_deadline(session, record)
    reviewer = review.assigned_to if review is not None else None
    return Row(record=record, department=department.name if department else "", discharged=discharged,
               working_days=calendar.working_days_between(session, discharged, today) if discharged else None,
               deadline=deadline,
               deadline_days=calendar.working_days_between(session, discharged, deadline) if deadline else None,
               overdue=deadline is not None and today > deadline and record.status != "archived",
               check=check, returned_times=returned, review=review,
               reviewer=(reviewer.full_name or reviewer.username) if reviewer else "")


def latest_checks(session: Session, record_ids: list[int]) -> dict[int, CheckRun]:
    newest = (sa.select(CheckRun.record_id, sa.func.max(CheckRun.id).label("id"))
              .where(CheckRun.record_id.in_(record_ids)).group_by(CheckRun.record_id).subquery())
    runs = session.scalars(sa.select(CheckRun).join(newest, newest.c.id == CheckRun.id))
    return {run.record_id: run for run in runs}


def as_json(row: Row) -> dict:
    record, check = row.record, row.check
    return {
        "record_id": record.id, "record_number": record.record_number, "stay_number": record.stay_number,
        "name": record.patient.name, "department": row.department,
        "discharged_on": row.discharged.isoformat() if row.discharged else None,
        "working_days_since_discharge": row.working_days,
        "deadline": row.deadline.isoformat() if row.deadline else None,
        "deadline_days": row.deadline_days, "overdue": row.overdue, "kind": record.kind,
        "status": record.status, "status_name": row.state_name, "step": row.step, "reviewer": row.reviewer,
        "self_check": None if check is None else {"passed": check.passed, "errors": check.errors,
                                                  "warnings": check.warnings, "run_at": clock.iso(check.run_at)},
        "returned_times": row.returned_times,
    }


# --- the owners' list ---------------------------------------------------------------------------

def returned_to(user: User) -> sa.Select:
    """已退回 records whose open return went to ``user`` (newest return first)."""
    return (sa.select(Record).join(QcReturn, QcReturn.record_id == Record.id)
            .join(QcReturnOwner, QcReturnOwner.return_id == QcReturn.id)
            .where(Record.status == "returned", QcReturn.resubmitted_at.is_(None), QcReturnOwner.user_id == user.id)
            .order_by(QcReturn.returned_at.desc(), Record.id.desc()))


def returned_count(session: Session, user: User) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(returned_to(user).subquery())) or 0


def return_comments(session: Session, returned: QcReturn) -> list[QcComment]:
    return list(session.scalars(sa.select(QcComment).where(QcComment.return_id == returned.id)
                                .options(selectinload(QcComment.document)).order_by(QcComment.id)))


def history_of(session: Session, record_id: int) -> list[dict]:
    """The record's QC so far, oldest first: comments (with replies), returns, resubmissions, passes."""
    events: list[tuple[datetime, int, dict]] = []
    for found in session.scalars(sa.select(QcComment).where(QcComment.record_id == record_id)
                                 .options(selectinload(QcComment.author), selectinload(QcComment.document))):
        events.append((clock.instant(found.created_at), 0, {"what": "comment", "comment": found}))
    for returned in session.scalars(sa.select(QcReturn).where(QcReturn.record_id == record_id)
                                    .options(selectinload(QcReturn.owners).selectinload(QcReturnOwner.user))):
        events.append((clock.instant(returned.returned_at), 1, {"what": "return", "return": returned}))
        if returned.resubmitted_at:
            events.append((clock.instant(returned.resubmitted_at), 2, {"what": "resubmit", "return": returned}))
    for review in session.scalars(sa.select(QcReview).where(QcReview.record_id == record_id,
                                                            QcReview.status == "passed")):
        events.append((clock.instant(review.finished_at), 3, {"what": "pass", "review": review}))
    return [event | {"at": at} for at, _order, event in sorted(events, key=lambda item: (item[0], item[1]))]


# --- QC history (H8) ----------------------------------------------------------------------------

@dataclass
class HistoryQuery:
    outcome: str = ""  # open | returned | passed
    record_number: str = ""
    department: str = ""
    reviewer: str = ""  # username or name of who passed or returned
    started_from: date | None = None
    started_to: date | None = None


def history(session: Session, subject: Subject, ask: HistoryQuery, limit: int = 200) -> list[dict]:
    """Reviews, newest first, with who passed or returned them and how many comments they had."""
    query = in_scope(sa.select(QcReview, Record).join(Record, Record.id == QcReview.record_id), subject)
    if ask.outcome in OUTCOMES:
        query = query.where(QcReview.status == ask.outcome)
    if ask.record_number.strip():
        query = query.where(Record.record_number == ask.record_number.strip())
    if ask.department:
        query = query.where(department_of().in_(sa.select(Department.id).where(Department.code == ask.department)))
    if ask.started_from:
        query = query.where(QcReview.started_at >= clock.day_start(ask.started_from))
    if ask.started_to:
        query = query.where(QcReview.started_at < clock.day_start(ask.started_to + timedelta(days=1)))
    if ask.reviewer.strip():
        who = sa.select(User.id).where(sa.or_(User.username == ask.reviewer.strip(),
                                              User.full_name == ask.reviewer.strip()))
        returned_by = sa.select(QcReturn.review_id).where(QcReturn.returned_by_id.in_(who))
        query = query.where(sa.or_(QcReview.passed_by_id.in_(who), QcReview.id.in_(returned_by)))
    query = query.options(selectinload(Record.patient), selectinload(Record.discharge_department),
                          selectinload(QcReview.passed_by))
    pairs = session.execute(query.order_by(QcReview.started_at.desc(), QcReview.id.desc()).limit(limit)).all()
    return _history_rows(session, pairs)


def _history_rows(session: Session, pairs: list) -> list[dict]:
    ids = [review.id for review, _record in pairs]
    returns: dict[int, list[QcReturn]] = {}
    for returned in session.scalars(sa.select(QcReturn).where(QcReturn.review_id.in_(ids))
                                    .options(selectinload(QcReturn.returned_by)).order_by(QcReturn.id)):
        returns.setdefault(returned.review_id, []).append(returned)
    comments = Counter(session.scalars(sa.select(QcComment.review_id).where(QcComment.review_id.in_(ids))))
    rows = []
    for review, record in pairs:
        department = record.discharge_department
        rows.append({
            "review_id": review.id, "record_id": record.id, "record_number": record.record_number,
            "name": record.patient.name, "department": department.name if department else "",
            "discharged_at": record.discharged_at, "started_at": review.started_at, "finished_at": review.finished_at,
            "outcome": review.status, "outcome_name": OUTCOMES.get(review.status, review.status),
            "step": step_name(review), "flow": review.flow_name,
            "passed_by": (review.passed_by.full_name or review.passed_by.username) if review.passed_by else "",
            "returned_by": "、".join(dict.fromkeys(r.returned_by.full_name or r.returned_by.username
                                                   for r in returns.get(review.id, []))),
            "returns": len(returns.get(review.id, [])), "comments": comments[review.id],
            "override_reason": review.override_reason,
        })
    return rows


HISTORY_HEADERS = ("病案号", "姓名", "出院科室", "出院时间", "质控开始", "质控结束", "结果", "当前步骤", "退回次数",
                   "意见条数", "退回人", "通过人", "强制通过理由")


def history_cells(row: dict) -> list[object]:
    def local(moment: datetime | None) -> str:
        return clock.local(moment).strftime("%Y-%m-%d %H:%M") if moment else ""
    return [row["record_number"], row["name"], row["department"], local(row["discharged_at"]),
            local(row["started_at"]), local(row["finished_at"]), row["outcome_name"], row["step"], row["returns"],
            row["comments"], row["returned_by"], row["passed_by"], row["override_reason"]]
