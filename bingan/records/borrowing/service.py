"""Borrowing (借阅, L1–L4, S8): the borrowing search, applying for one or several records,
renewal (续借), early return (归还), revocation by the record room (收回), the lists and the views
made during a borrowing (浏览内容跟踪).

Each record of an application is one ``Borrowing`` with its own approval request (kind
``borrow``, the flow chosen for that record); the kind's hooks (kind.py) turn the last approval
into a grant of exactly that record, those parts and those days.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan import clock
from bingan.access import grants
from bingan.access.audit import Actor, record_event
from bingan.access.policy import aware, decide, load_subject, permissions_of, record_department
from bingan.errors import Conflict, NotFound, Refusal
from bingan.records.approvals import engine
from bingan.records.approvals.engine import STATUS_NAMES
from bingan.records.approvals.notifier import notify
from bingan.storage.models import (
    ApprovalRequest,
    ApprovalTask,
    AuditEvent,
    Category,
    Department,
    Document,
    DocumentType,
    Grant,
    Patient,
    Record,
    User,
    utcnow,
)
from bingan.storage.models.approvals import OPEN_STATUSES
from bingan.storage.models.borrowing import Borrowing, BorrowPurpose, BorrowRenewal
from bingan.storage.system_settings import read_setting, write_setting

SETTING = "borrowing"
# 借阅天数上限 per role until the record room saves its own (a user with several roles gets the largest).
DEFAULT_MAX_DAYS = {"clinician": 30, "nurse": 14, "qc": 30, "archivist": 90, "medical_affairs": 90}
FALLBACK_MAX_DAYS = 30
DEFAULT_DAYS = 7
MAX_RECORDS = 20  # records in one application
SEARCH_LIMIT = 50
STATES = {"pending": "审批中", "lent": "借阅中", "expired": "已到期", "returned": "已归还", "revoked": "已收回",
          "refused": "未通过"}
REFUSED_STATUSES = ("rejected", "withdrawn", "cancelled")
VIEW_ACTIONS = {"view": "查阅", "page_view": "浏览页面", "download": "下载", "print": "打印", "export": "导出"}


# --- settings and the purpose dictionary ----------------------------------------------------------

def max_days_by_role(session: Session) -> dict[str, int]:
    return {**DEFAULT_MAX_DAYS, **read_setting(session, SETTING).get("max_days", {})}


def max_days_for(session: Session, user: User) -> int:
    limits = max_days_by_role(session)
    return max((limits.get(role.code, FALLBACK_MAX_DAYS) for role in user.roles), default=FALLBACK_MAX_DAYS)


def save_max_days(session: Session, actor: Actor, limits: dict[str, int]) -> None:
    bad = [code for code, days in limits.items() if not 1 <= days <= grants.MAX_DAYS]
    if bad:
        raise Refusal(f"借阅天数上限应为 1–{grants.MAX_DAYS} 天")
    write_setting(session, SETTING, {**read_setting(session, SETTING), "max_days": dict(limits)})
    record_event(session, actor, "borrow.settings", object_type="setting", object_id=SETTING,
                 detail={"借阅天数上限": limits})


def check_days(session: Session, user: User, days: object) -> int:
    limit = max_days_for(session, user)
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= limit:
        raise Refusal(f"借阅天数应为 1–{limit} 天（您的角色最多可借 {limit} 天）")
    return days


def purposes(session: Session, *, active_only: bool = True) -> list[BorrowPurpose]:
    query = sa.select(BorrowPurpose).order_by(BorrowPurpose.position, BorrowPurpose.id)
    return list(session.scalars(query.where(BorrowPurpose.active) if active_only else query))


def add_purpose(session: Session, actor: Actor, name: str) -> BorrowPurpose:
    name = name.strip()
    if not name or len(name) > 50:
        raise Refusal("借阅用途应为 1–50 个字")
    found = session.scalars(sa.select(BorrowPurpose).where(BorrowPurpose.name == name)).first()
    if found is not None and found.active:
        raise Conflict(f"借阅用途“{name}”已存在")
    if found is None:
        last = session.scalar(sa.select(sa.func.max(BorrowPurpose.position))) or 0
        found = BorrowPurpose(name=name, position=last + 10, active=True)
        session.add(found)
    found.active = True
    session.flush()
    record_event(session, actor, "borrow.purpose_add", object_type="borrow_purpose", object_id=found.id,
                 detail={"用途": name})
    return found


def retire_purpose(session: Session, actor: Actor, purpose_id: int) -> None:
    """Past borrowings keep their purpose's name; new applications no longer offer it."""
    found = session.get(BorrowPurpose, purpose_id)
    if found is None or not found.active:
        raise NotFound("借阅用途不存在")
    found.active = False
    record_event(session, actor, "borrow.purpose_retire", object_type="borrow_purpose", object_id=found.id,
                 detail={"用途": found.name})


# --- the borrowing search (L1) ----------------------------------------------------------------------

@dataclass(frozen=True)
class Criteria:
    record_number: str = ""
    patient_name: str = ""
    id_number: str = ""
    inpatient_number: str = ""
    discharged_from: date | None = None
    discharged_to: date | None = None
    department: str = ""  # department code

    def given(self) -> dict[str, str]:
        return {name: str(value) for name, value in vars(self).items() if value}


@dataclass(frozen=True)
class Candidate:
    """What the borrowing search reveals of a record: enough to recognise it, nothing of its
    content (no page, snippet or diagnosis)."""

    record_id: int
    record_number: str
    stay: int
    masked_name: str
    department: str
    discharged_on: date | None
    can_view: bool  # already within the user's rights: nothing to borrow
    open_borrowing: int | None  # the user's borrowing of it still being decided or running


def mask_name(name: str) -> str:
    """张三 → 张*, 欧阳娜娜 → 欧***."""
    return name[:1] + "*" * max(len(name) - 1, 1) if name else ""


def search(session: Session, actor: Actor, user: User, criteria: Criteria, client_ip: str = "") -> list[Candidate]:
    """Records the user may apply for; sealed records are never shown. The search is audited."""
    given = criteria.given()
    if not given:
        raise Refusal("请至少填写一个查找条件：病案号、姓名、身份证号、住院号、出院日期或科室")
    if "borrow.apply" not in permissions_of(user):
        raise Refusal("您的角色没有申请借阅的权限")
    query = (sa.select(Record).join(Patient, Patient.id == Record.patient_id)
             .where(Record.sealed.is_(False)).order_by(Record.discharged_at.desc(), Record.id.desc())
             .limit(SEARCH_LIMIT))
    query = _filtered(query, criteria)
    subject = load_subject(session, user)
    found = [_candidate(session, user, subject, record, client_ip) for record in session.scalars(query)]
    record_event(session, actor, "borrow.search", object_type="borrow_search", detail={**given, "结果数": len(found)})
    return found


def _filtered(query: sa.Select, c: Criteria) -> sa.Select:
    if c.record_number:
        query = query.where(Record.record_number == c.record_number.strip())
    if c.patient_name:
        query = query.where(Patient.name == c.patient_name.strip())
    if c.id_number:
        query = query.where(Patient.id_number == c.id_number.strip().upper())
    if c.inpatient_number:
        query = query.where(Record.inpatient_number == c.inpatient_number.strip())
    if c.discharged_from:
        query = query.where(Record.discharged_at >= clock.day_start(c.discharged_from))
    if c.discharged_to:
        query = query.where(Record.discharged_at < clock.day_bounds(c.discharged_to)[1])
    if c.department:
        department = sa.select(Department.id).where(Department.code == c.department)
        query = query.where(sa.func.coalesce(Record.discharge_department_id, Record.admission_department_id)
                            .in_(department))
    return query


def _candidate(session: Session, user: User, subject, record: Record, client_ip: str) -> Candidate:
    department = record_department(record)
    open_one = session.scalar(
        sa.select(Borrowing.id).join(ApprovalRequest, ApprovalRequest.id == Borrowing.id)
        .outerjoin(Grant, Grant.id == Borrowing.grant_id)
        .where(Borrowing.record_id == record.id, Borrowing.applicant_id == user.id, _state_clause("pending")
               | _state_clause("lent")).limit(1))
    return Candidate(record.id, record.record_number, record.stay_number, mask_name(record.patient.name),
                     department.name if department else "", clock.local_date(record.discharged_at)
                     if record.discharged_at else None,
                     bool(decide(session, user, "view", record, client_ip=client_ip, subject=subject)), open_one)


# --- applying (L2) ----------------------------------------------------------------------------------

def apply(session: Session, actor: Actor, applicant: User, record_ids: list[int], days: object, purpose: str,
          reason: str, categories: list[str] | None = None, client_ip: str = "") -> list[Borrowing]:
    """One application for several records: each gets its own request through its own flow.
    Any refusal refuses the whole application (the caller's transaction changes nothing)."""
    ids = list(dict.fromkeys(record_ids))
    if not ids:
        raise Refusal("请选择要借阅的病案")
    if len(ids) > MAX_RECORDS:
        raise Refusal(f"一次最多申请借阅 {MAX_RECORDS} 份病案")
    days = check_days(session, applicant, days)
    purpose = _known_purpose(session, purpose)
    if not reason.strip():
        raise Refusal("请填写借阅理由")
    parts = _known_categories(session, categories or [])
    made: list[Borrowing] = []
    for record_id in ids:
        record = _applicable(session, applicant, record_id, client_ip)
        payload = {"days": days, "purpose": purpose, "categories": parts}
        request = engine.submit(session, actor, applicant, "borrow", record, f"【{purpose}】{reason.strip()}", payload)
        made.append(Borrowing(id=request.id, batch_id=made[0].id if made else request.id, applicant_id=applicant.id,
                              record_id=record.id, purpose=purpose, reason=reason.strip(), days=days,
                              categories=parts))
        session.add(made[-1])
    session.flush()
    return made


def _known_purpose(session: Session, purpose: str) -> str:
    names = [p.name for p in purposes(session)]
    if purpose.strip() not in names:
        raise Refusal(f"借阅用途应为：{'、'.join(names)}")
    return purpose.strip()


def _known_categories(session: Session, codes: list[str]) -> list[str]:
    wanted = sorted({code.strip() for code in codes if code.strip()})
    known = set(session.scalars(sa.select(Category.code).where(Category.code.in_(wanted)))) if wanted else set()
    unknown = [code for code in wanted if code not in known]
    if unknown:
        raise Refusal(f"未知的病案分类：{'、'.join(unknown)}")
    return wanted


def _applicable(session: Session, applicant: User, record_id: int, client_ip: str) -> Record:
    record = session.get(Record, record_id)
    if record is None:
        raise NotFound(f"病案不存在（{record_id}）")
    number = f"{record.record_number} 第{record.stay_number}次"
    if record.sealed:
        raise Conflict(f"病案已封存，不能借阅（{number}）")
    gate = decide(session, applicant, "apply_borrow", record, client_ip=client_ip)
    if not gate:
        raise Refusal(f"病案 {number}：{gate.reason_zh}")
    if decide(session, applicant, "view", record, client_ip=client_ip):
        raise Refusal(f"您已可以查阅病案 {number}，无需借阅")
    return record


# --- after approval: renewal, return, revocation (L3) ---------------------------------------------

def load(session: Session, borrowing_id: int) -> Borrowing:
    found = session.get(Borrowing, borrowing_id)
    if found is None:
        raise NotFound("借阅不存在")
    return found


def state_of(borrowing: Borrowing, now: datetime | None = None) -> str:
    status = borrowing.request.status
    if status in OPEN_STATUSES:
        return "pending"
    if status != "approved" or borrowing.grant is None:
        return "refused"
    if borrowing.end_kind:
        return borrowing.end_kind
    return "lent" if aware(borrowing.grant.valid_until) > (now or utcnow()) else "expired"


def _state_clause(state: str, now: datetime | None = None) -> sa.ColumnElement[bool]:
    """``state_of`` as SQL over Borrowing ⋈ ApprovalRequest ⟕ Grant (for the lists' filter)."""
    now = now or utcnow()
    approved = sa.and_(ApprovalRequest.status == "approved", Borrowing.grant_id.is_not(None))
    return {
        "pending": ApprovalRequest.status.in_(OPEN_STATUSES),
        "refused": sa.or_(ApprovalRequest.status.in_(REFUSED_STATUSES),
                          sa.and_(ApprovalRequest.status == "approved", Borrowing.grant_id.is_(None))),
        "lent": sa.and_(approved, Borrowing.end_kind == "", Grant.valid_until > now),
        "expired": sa.and_(approved, Borrowing.end_kind == "", Grant.valid_until <= now),
        "returned": Borrowing.end_kind == "returned",
        "revoked": Borrowing.end_kind == "revoked",
    }[state]


def _running(borrowing: Borrowing, what: str) -> Grant:
    state = state_of(borrowing)
    if state != "lent":
        raise Conflict(f"该借阅{STATES[state]}，不能{what}")
    return borrowing.grant


def renew(session: Session, actor: Actor, applicant: User, borrowing_id: int, days: object,
          reason: str) -> BorrowRenewal:
    """续借: a request of kind ``renew`` through its own flow; approval extends the same grant."""
    borrowing = load(session, borrowing_id)
    if borrowing.applicant_id != applicant.id:
        raise Refusal("只有借阅人可以申请续借")
    _running(borrowing, "续借")
    days = check_days(session, applicant, days)
    request = engine.submit(session, actor, applicant, "renew", borrowing.record, reason,
                            {"days": days, "borrowing": borrowing.id})
    renewal = BorrowRenewal(id=request.id, borrowing_id=borrowing.id, days=days)
    session.add(renewal)
    session.flush()
    return renewal


def return_early(session: Session, actor: Actor, applicant: User, borrowing_id: int, note: str = "") -> Borrowing:
    """归还: the borrower ends the grant now; a renewal still being decided is withdrawn."""
    borrowing = load(session, borrowing_id)
    if borrowing.applicant_id != applicant.id:
        raise Refusal("只有借阅人可以归还")
    _end(session, actor, borrowing, "returned", note.strip() or "提前归还")
    for renewal in _open_renewals(session, borrowing):
        engine.withdraw(session, actor, applicant, renewal.id)
    return borrowing


def revoke(session: Session, actor: Actor, manager: User, borrowing_id: int, reason: str) -> Borrowing:
    """收回: the record room (借阅管理) ends a borrowing before its time, with a reason the borrower reads."""
    if "borrow.manage" not in permissions_of(manager):
        raise Refusal("您没有借阅管理权限，不能收回借阅")
    if not reason.strip():
        raise Refusal("收回借阅须填写原因")
    borrowing = load(session, borrowing_id)
    _end(session, actor, borrowing, "revoked", reason.strip())  # a renewal still open can then only be rejected
    notify(session, borrowing.applicant, "borrow", "您借阅的病案已被病案室收回", body=reason.strip(),
           link=f"/borrowing/{borrowing.id}")
    return borrowing


def _end(session: Session, actor: Actor, borrowing: Borrowing, kind: str, note: str) -> None:
    grant = _running(borrowing, "归还" if kind == "returned" else "收回")
    grants.revoke(session, actor, grant.id, f"借阅 {borrowing.id} {STATES[kind]}：{note}")
    borrowing.ended_at, borrowing.end_kind, borrowing.end_note = utcnow(), kind, note
    record_event(session, actor, f"borrow.{'return' if kind == 'returned' else 'revoke'}", object_type="borrowing",
                 object_id=borrowing.id, record_id=borrowing.record_id, detail={"说明": note})


def _open_renewals(session: Session, borrowing: Borrowing) -> list[BorrowRenewal]:
    return list(session.scalars(sa.select(BorrowRenewal).join(ApprovalRequest, ApprovalRequest.id == BorrowRenewal.id)
                                .where(BorrowRenewal.borrowing_id == borrowing.id,
                                       ApprovalRequest.status.in_(OPEN_STATUSES))))


def lent_to(session: Session, user: User, record_id: int) -> Borrowing | None:
    """The user's running borrowing of the record (what the record page shows), if any."""
    return session.scalars(sa.select(Borrowing).join(ApprovalRequest, ApprovalRequest.id == Borrowing.id)
                           .join(Grant, Grant.id == Borrowing.grant_id)
                           .where(Borrowing.record_id == record_id, Borrowing.applicant_id == user.id,
                                  _state_clause("lent")).order_by(Borrowing.id.desc()).limit(1)).first()


def renewals_of(session: Session, borrowing: Borrowing) -> list[BorrowRenewal]:
    return list(session.scalars(sa.select(BorrowRenewal).where(BorrowRenewal.borrowing_id == borrowing.id)
                                .order_by(BorrowRenewal.id)))


# --- who sees a borrowing, the lists (L4) ---------------------------------------------------------

def visible(session: Session, user: User, borrowing_id: int) -> Borrowing:
    """The borrower, whoever had a task on it or its renewals, and the record room (借阅管理)."""
    borrowing = load(session, borrowing_id)
    if borrowing.applicant_id == user.id or "borrow.manage" in permissions_of(user):
        return borrowing
    requests = [borrowing.id, *session.scalars(sa.select(BorrowRenewal.id)
                                               .where(BorrowRenewal.borrowing_id == borrowing.id))]
    if session.scalar(sa.select(ApprovalTask.id).where(ApprovalTask.request_id.in_(requests),
                                                       ApprovalTask.user_id == user.id).limit(1)):
        return borrowing
    raise Refusal("您不是该借阅的借阅人、审批人或病案室管理人员，不能查看")


@dataclass(frozen=True)
class Filters:
    state: str = ""
    department: str = ""
    applied_from: date | None = None
    applied_to: date | None = None

    def check(self) -> Filters:
        if self.state and self.state not in STATES:
            raise Refusal(f"借阅状态应为：{'、'.join(f'{code}（{name}）' for code, name in STATES.items())}")
        return self


BOXES = {"mine": "我的借阅", "todo": "待我审批", "all": "全部借阅"}


def box(session: Session, user: User, name: str, filters: Filters = Filters(), limit: int = 500) -> list[Borrowing]:
    """mine: the user's borrowings; todo: borrowings or renewals waiting for the user's decision;
    all: every borrowing (借阅管理 only)."""
    filters.check()
    query = (sa.select(Borrowing).join(ApprovalRequest, ApprovalRequest.id == Borrowing.id)
             .outerjoin(Grant, Grant.id == Borrowing.grant_id).order_by(Borrowing.id.desc()).limit(limit))
    if name == "mine":
        query = query.where(Borrowing.applicant_id == user.id)
    elif name == "todo":
        waiting = (sa.select(ApprovalTask.request_id)
                   .join(ApprovalRequest, ApprovalRequest.id == ApprovalTask.request_id)
                   .where(ApprovalTask.user_id == user.id, ApprovalTask.done_at.is_(None),
                          ApprovalRequest.status == "pending"))
        renewing = sa.select(BorrowRenewal.borrowing_id).where(BorrowRenewal.id.in_(waiting))
        query = query.where(sa.or_(Borrowing.id.in_(waiting), Borrowing.id.in_(renewing)))
    elif name == "all":
        if "borrow.manage" not in permissions_of(user):
            raise Refusal("您没有借阅管理权限，不能查看全部借阅")
    else:
        raise Refusal("列表应为：mine（我的借阅）、todo（待我审批）或 all（全部借阅）")
    return list(session.scalars(_with_filters(query, filters)))


def _with_filters(query: sa.Select, f: Filters) -> sa.Select:
    if f.state:
        query = query.where(_state_clause(f.state))
    if f.department:
        department = sa.select(Department.id).where(Department.code == f.department)
        query = query.join(Record, Record.id == Borrowing.record_id).where(
            sa.func.coalesce(Record.discharge_department_id, Record.admission_department_id).in_(department))
    if f.applied_from:
        query = query.where(Borrowing.created_at >= clock.day_start(f.applied_from))
    if f.applied_to:
        query = query.where(Borrowing.created_at < clock.day_bounds(f.applied_to)[1])
    return query


def summary(borrowing: Borrowing, now: datetime | None = None) -> dict:
    """One borrowing as the lists and the API show it (the patient's name masked)."""
    record, grant = borrowing.record, borrowing.grant
    department = record_department(record)
    state = state_of(borrowing, now)
    return {
        "id": borrowing.id, "batch_id": borrowing.batch_id, "request_id": borrowing.id,
        "record_id": record.id, "record_number": record.record_number, "stay": record.stay_number,
        "patient": mask_name(record.patient.name), "department": department.name if department else "",
        "applicant": borrowing.applicant.full_name or borrowing.applicant.username,
        "purpose": borrowing.purpose, "reason": borrowing.reason, "days": borrowing.days,
        "categories": list(borrowing.categories or []),
        "state": state, "state_name": STATES[state],
        "approval_status": borrowing.request.status,
        "approval_status_name": STATUS_NAMES.get(borrowing.request.status, borrowing.request.status),
        "outcome_note": borrowing.request.outcome_note,
        "applied_at": clock.iso(borrowing.created_at),
        "valid_from": clock.iso(grant.valid_from) if grant else None,
        "valid_until": clock.iso(grant.valid_until) if grant else None,
        "ended_at": clock.iso(borrowing.ended_at), "end_note": borrowing.end_note,
    }


EXPORT_HEADERS = ("借阅编号", "病案号", "住院次数", "患者", "科室", "借阅人", "用途", "天数", "借阅部分", "状态",
                  "申请时间", "起", "止", "结束说明")


def export_rows(rows: list[dict], category_names: dict[str, str]) -> list[list[object]]:
    def when(value: str | None) -> str:
        return value[:16].replace("T", " ") if value else ""

    return [[row["id"], row["record_number"], row["stay"], row["patient"], row["department"], row["applicant"],
             row["purpose"], row["days"], "、".join(category_names.get(c, c) for c in row["categories"]) or "全部",
             row["state_name"], when(row["applied_at"]), when(row["valid_from"]), when(row["valid_until"]),
             row["end_note"]] for row in rows]


def category_names(session: Session) -> dict[str, str]:
    return dict(session.execute(sa.select(Category.code, Category.name).order_by(Category.filing_order)).all())


# --- view tracking (浏览内容跟踪, S8) -------------------------------------------------------------

@dataclass(frozen=True)
class ViewRow:
    at: datetime
    action: str
    document: str
    page: int | None
    client_ip: str


def views_during(session: Session, borrowing: Borrowing) -> list[ViewRow]:
    """Every view, page, download or print of the record by the borrower while the grant ran.

    Read from the audit trail: every read of a record is audited in the transaction that serves
    it (whatever route, page or API), so no view can happen without its event — rows of our own
    written beside some routes could miss a route added later."""
    grant = borrowing.grant
    if grant is None:
        return []
    end = min(aware(grant.valid_until), aware(borrowing.ended_at) or aware(grant.valid_until))
    rows = session.execute(
        sa.select(AuditEvent.at, AuditEvent.action, DocumentType.name, AuditEvent.page, AuditEvent.client_ip)
        .outerjoin(Document, Document.id == AuditEvent.document_id)
        .outerjoin(DocumentType, DocumentType.id == Document.document_type_id)
        .where(AuditEvent.user_id == borrowing.applicant_id, AuditEvent.record_id == borrowing.record_id,
               AuditEvent.action.in_(VIEW_ACTIONS), AuditEvent.result == "ok",
               AuditEvent.at >= grant.valid_from, AuditEvent.at <= end)
        .order_by(AuditEvent.at, AuditEvent.id)).all()
    return [ViewRow(aware(at), VIEW_ACTIONS[action], name or "病案首页", page, ip)
            for at, action, name, page, ip in rows]
