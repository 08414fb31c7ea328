"""The building blocks every statistic is made of (T8): subjects (what is counted, over which time),
dimensions (what rows are grouped by), measures (counts and sums, and rates of two of them) and the
filters (period, department, campus). Built-in reports, the 2021 indicators and the record room's
saved definitions are all definitions over these whitelists: users pick names, never SQL.

The records subject counts the per-record facts (record_facts, kept by facts.py: refreshed before each
count) joined to the archive-rate report's day table (records/archive_rate.py): one row per local day
with its month and the instants before which a record discharged that day is archived in time, so
months follow the hospital's time zone and MER-TQ-01 / 超期 count on the same working-day calendar as
the archive-rate report.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan import clock
from bingan.errors import Refusal
from bingan.records import archive_rate
from bingan.records.calendar import KIND_NAMES
from bingan.records.statistics import facts
from bingan.storage.models import (
    ApprovalRequest,
    Campus,
    Department,
    DocumentType,
    Record,
    User,
)
from bingan.storage.models.borrowing import Borrowing
from bingan.storage.models.digitisation import ScanPage, ScanReview
from bingan.storage.models.qc import QcReturn, QcReview
from bingan.storage.models.release import CopyApplicantType, CopyRequest

MAX_DAYS = 3 * 366
FACTS = facts.FACTS
F = FACTS.c  # the records subject's columns: one row of facts per discharged inpatient record


@dataclass(frozen=True)
class Period:
    """Local days ``first`` … ``last`` inclusive (the hospital's time zone)."""

    first: date
    last: date

    @property
    def end(self) -> date:
        return self.last + timedelta(days=1)

    @property
    def starts(self) -> datetime:
        return clock.day_start(self.first)

    @property
    def ends(self) -> datetime:
        return clock.day_start(self.end)

    def months(self) -> list[str]:
        months, day = [], self.first.replace(day=1)
        while day <= self.last:
            months.append(day.strftime("%Y-%m"))
            day = (day + timedelta(days=32)).replace(day=1)
        return months

    def as_json(self) -> dict:
        return {"from": self.first.isoformat(), "to": self.last.isoformat()}


def parse_day(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise Refusal(f"{what}须为 YYYY-MM-DD 格式的日期，如 2026-10-01") from None


def period(first: str | None = None, last: str | None = None) -> Period:
    """The period asked for; without dates, this month so far."""
    today = clock.now().date()
    start = parse_day(first, "起始日期") if first else today.replace(day=1)
    stop = parse_day(last, "截止日期") if last else (today if not first else
                                                      (start.replace(day=28) + timedelta(days=4)).replace(day=1)
                                                      - timedelta(days=1))
    if stop < start:
        raise Refusal("截止日期不能早于起始日期")
    if (stop - start).days >= MAX_DAYS:
        raise Refusal("一次最多统计 3 年")
    return Period(start, stop)


@dataclass(frozen=True)
class Filters:
    department_id: int | None = None
    campus_id: int | None = None

    def as_json(self) -> dict:
        return {"department": self.department_id, "campus": self.campus_id}


# ---------------------------------------------------------------- subjects


@dataclass
class Scope:
    """The FROM, WHERE and grouping columns of one subject's query for one period."""

    select_from: sa.FromClause
    where: list[sa.ColumnElement]
    columns: dict[str, sa.ColumnElement]  # dimension name -> key expression
    department: sa.ColumnElement | None
    campus: sa.ColumnElement | None
    days: sa.Subquery | None = None
    alone: sa.FromClause | None = None  # the FROM without the record, when neither grouping nor filters need it

    def source(self, record_needed: bool = True) -> sa.FromClause:
        return self.select_from if record_needed or self.alone is None else self.alone


@dataclass(frozen=True)
class Subject:
    code: str
    name: str
    time_name: str  # which time the period counts
    scope: Callable[[Session, Period], Scope]


def local_month(session: Session, column: sa.ColumnElement) -> sa.ColumnElement:
    """YYYY-MM of a stored UTC instant in the hospital's time zone."""
    if session.get_bind().dialect.name == "postgresql":
        return sa.func.to_char(sa.func.timezone(clock.zone().key, column), "YYYY-MM")
    offset = int(clock.local(clock.now()).utcoffset().total_seconds() // 60)  # no summer time in China
    return sa.func.strftime("%Y-%m", column, f"{offset:+d} minutes")


def _records(session: Session, when: Period) -> Scope:
    """The discharged inpatient records' facts (only those have a row), each joined to its local day: an index
    range of the covering index per day."""
    days = archive_rate.day_table(session, when.first, when.end)
    return Scope(FACTS.join(days, archive_rate.on_day(days)), [],
                 {"department": F.department_id, "campus": F.campus_id, "month": days.c.month, "kind": F.kind},
                 F.department_id, F.campus_id, days)


def _borrowings(session: Session, when: Period) -> Scope:
    joined = (Borrowing.__table__.join(ApprovalRequest.__table__, ApprovalRequest.id == Borrowing.id)
              .join(Record.__table__, Record.id == Borrowing.record_id))
    return Scope(joined, [Borrowing.created_at >= when.starts, Borrowing.created_at < when.ends],
                 {"department": Record.discharge_department_id, "campus": Record.campus_id,
                  "month": local_month(session, Borrowing.created_at), "purpose": Borrowing.purpose,
                  "status": ApprovalRequest.status, "person": Borrowing.applicant_id},
                 Record.discharge_department_id, Record.campus_id)


def _copies(session: Session, when: Period) -> Scope:
    return Scope(CopyRequest.__table__, [CopyRequest.created_at >= when.starts, CopyRequest.created_at < when.ends],
                 {"month": local_month(session, CopyRequest.created_at), "purpose": CopyRequest.purpose,
                  "applicant_type": CopyRequest.applicant_type, "payment": CopyRequest.payment_method,
                  "person": CopyRequest.created_by_id},
                 None, None)


def _scan_pages(session: Session, when: Period) -> Scope:
    joined = ScanPage.__table__.join(Record.__table__, Record.id == ScanPage.record_id)
    return Scope(joined, [ScanPage.captured_at >= when.starts, ScanPage.captured_at < when.ends],
                 {"person": ScanPage.captured_by_id, "month": local_month(session, ScanPage.captured_at),
                  "department": Record.discharge_department_id, "campus": Record.campus_id},
                 Record.discharge_department_id, Record.campus_id, alone=ScanPage.__table__)


def _scan_reviews(session: Session, when: Period) -> Scope:
    joined = (ScanReview.__table__.join(ScanPage.__table__, ScanPage.id == ScanReview.page_id)
              .join(Record.__table__, Record.id == ScanPage.record_id))
    return Scope(joined, [ScanReview.decided_at >= when.starts, ScanReview.decided_at < when.ends],
                 {"person": ScanReview.reviewer_id, "month": local_month(session, ScanReview.decided_at),
                  "department": Record.discharge_department_id, "campus": Record.campus_id},
                 Record.discharge_department_id, Record.campus_id, alone=ScanReview.__table__)


def _qc_reviews(session: Session, when: Period) -> Scope:
    joined = QcReview.__table__.join(Record.__table__, Record.id == QcReview.record_id)
    return Scope(joined, [QcReview.finished_at >= when.starts, QcReview.finished_at < when.ends],
                 {"person": QcReview.passed_by_id, "month": local_month(session, QcReview.finished_at),
                  "department": Record.discharge_department_id, "campus": Record.campus_id},
                 Record.discharge_department_id, Record.campus_id, alone=QcReview.__table__)


def _qc_returns(session: Session, when: Period) -> Scope:
    joined = QcReturn.__table__.join(Record.__table__, Record.id == QcReturn.record_id)
    return Scope(joined, [QcReturn.returned_at >= when.starts, QcReturn.returned_at < when.ends],
                 {"person": QcReturn.returned_by_id, "month": local_month(session, QcReturn.returned_at),
                  "department": Record.discharge_department_id, "campus": Record.campus_id},
                 Record.discharge_department_id, Record.campus_id, alone=QcReturn.__table__)


SUBJECTS: dict[str, Subject] = {s.code: s for s in (
    Subject("records", "出院病历", "出院日期", _records),
    Subject("borrowings", "借阅申请", "申请日期", _borrowings),
    Subject("copies", "复印登记", "登记日期", _copies),
    Subject("scan_pages", "数字化拍摄", "拍摄日期", _scan_pages),
    Subject("scan_reviews", "影像审核", "审核日期", _scan_reviews),
    Subject("qc_reviews", "归档审核（通过）", "通过日期", _qc_reviews),
    Subject("qc_returns", "归档审核（退回）", "退回日期", _qc_returns),
)}


# ---------------------------------------------------------------- dimensions


def _names(model, column: str = "name") -> Callable[[Session], dict]:
    def load(session: Session) -> dict:
        return dict(session.execute(sa.select(model.id, getattr(model, column))).all())
    return load


def _fixed(names: dict[str, str]) -> Callable[[Session], dict]:
    return lambda _session: names


def _applicant_types(session: Session) -> dict:
    return dict(session.execute(sa.select(CopyApplicantType.code, CopyApplicantType.name)).all())


@dataclass(frozen=True)
class Dimension:
    code: str
    name: str
    labels: Callable[[Session], dict] | None = None  # key -> label; None: the key is the label
    empty: str = "未填"


DIMENSIONS: dict[str, Dimension] = {d.code: d for d in (
    Dimension("department", "科室", _names(Department), "未填科室"),
    Dimension("campus", "院区", _names(Campus), "未填院区"),
    Dimension("month", "月份"),
    Dimension("kind", "病历类别", _fixed(KIND_NAMES)),
    Dimension("purpose", "用途", None, "未填用途"),
    Dimension("status", "状态", _fixed({"pending": "审批中", "approved": "已批准", "rejected": "已驳回",
                                          "cancelled": "已撤销", "withdrawn": "已撤回"})),
    Dimension("applicant_type", "申请人类别", _applicant_types),
    Dimension("payment", "支付方式", _fixed({"cash": "现金", "card": "刷卡", "online": "线上", "": "未收费"})),
    Dimension("person", "人员", _names(User, "full_name"), "未记录人员"),
)}


# ---------------------------------------------------------------- measures


def surgical() -> sa.ColumnElement:
    """手术病历: the front page lists an operation."""
    return F.surgical


def transfusion() -> sa.ColumnElement:
    """用血病历: a 输血记录, or the front page's 输血 field says yes (as the completeness cases tell it)."""
    return F.transfusion


def has_paper() -> sa.ColumnElement:
    """The record has paper pages: captured pages (数字化拍摄) or a document of origin 扫描."""
    return F.has_paper


def operation_notes_in_time() -> sa.ColumnElement:
    """MER-TL-02: a 手术记录 exists, and every operation with a time has one completed in the 24 hours after it."""
    return F.operation_note_in_time


@dataclass(frozen=True)
class Measure:
    code: str
    name: str
    subject: str
    build: Callable[[Session, Scope, TypeIds], sa.ColumnElement]  # an aggregate over the scope
    unit: str = "count"  # count | yuan


@dataclass(frozen=True)
class Rate:
    code: str
    name: str
    numerator: str
    denominator: str
    unit: str = "percent"  # percent (×100) | ratio


class TypeIds:
    """Document type ids by standard name (the 0002 catalogue), loaded once per computation."""

    def __init__(self, session: Session) -> None:
        self._ids: dict[str, list[int]] = {}
        for type_id, name in session.execute(sa.select(DocumentType.id, DocumentType.name)):
            self._ids.setdefault(name, []).append(type_id)

    def __call__(self, *names: str) -> list[int]:
        return [type_id for name in names for type_id in self._ids.get(name, [])]


def _count(condition: Callable[[Session, Scope, TypeIds], sa.ColumnElement] | None = None):
    if condition is None:
        return lambda _s, _scope, _t: sa.func.count()
    return lambda session, scope, types: sa.func.count().filter(condition(session, scope, types))


def _sum(expression: sa.ColumnElement, condition: sa.ColumnElement | None = None):
    def build(_s, _scope, _t):
        value = sa.case((condition, expression), else_=0) if condition is not None else expression
        return sa.func.coalesce(sa.func.sum(value), 0)
    return build


def _archived(_s, _scope, _t):
    return F.archived_at.is_not(None)


def _overdue(session: Session, scope: Scope, _t) -> sa.ColumnElement:
    """超期: submitted at or after the deadline of the record's kind, or not yet submitted and the deadline passed."""
    due = archive_rate.due_by_kind(scope.days)
    return sa.or_(F.submitted_at >= due, sa.and_(F.submitted_at.is_(None), due <= clock.now()))


def _overdue_open(session: Session, scope: Scope, _t) -> sa.ColumnElement:
    due = archive_rate.due_by_kind(scope.days)
    return sa.and_(F.submitted_at.is_(None), F.archived_at.is_(None), due <= clock.now())


def _defective(_s, _scope, _t) -> sa.ColumnElement:
    """缺陷: the latest self-check found a completeness error, or a missing mark is open."""
    return F.defective


def archived_2_days(_s, scope: Scope, _t) -> sa.ColumnElement:
    """MER-TQ-01: submitted before the end of the second working day after discharge."""
    return F.submitted_at < scope.days.c.due_2


def archived_complete(s, scope: Scope, t) -> sa.ColumnElement:
    """MER-TQ-02: archived, and not defective."""
    return sa.and_(F.archived_at.is_not(None), ~_defective(s, scope, t))


_RECORD_MEASURES = (
    Measure("discharged", "出院病历数", "records", _count()),
    Measure("archived", "已归档", "records", _count(_archived)),
    Measure("paperless", "无纸质页病历", "records", _count(lambda s, sc, t: ~has_paper())),
    Measure("with_paper", "含纸质页病历", "records", _count(lambda s, sc, t: has_paper())),
    Measure("paperless_archived", "无纸化归档", "records",
            _count(lambda s, sc, t: sa.and_(F.archived_at.is_not(None), ~has_paper()))),
    Measure("archived_2_days", "2个工作日内归档", "records", _count(archived_2_days)),
    Measure("archived_complete", "归档完整", "records", _count(archived_complete)),
    Measure("defective", "缺陷病历", "records", _count(_defective)),
    Measure("overdue", "超期提交", "records", _count(_overdue)),
    Measure("overdue_open", "超期未提交", "records", _count(_overdue_open)),
    Measure("surgical", "手术病历", "records", _count(lambda s, sc, t: surgical())),
    Measure("transfusion", "用血病历", "records", _count(lambda s, sc, t: transfusion())),
    Measure("admission_note_24h", "入院记录24小时内完成", "records", _count(lambda s, sc, t: F.admission_note_24h)),
    Measure("operation_note_24h", "手术记录术后24小时内完成", "records",
            _count(lambda s, sc, t: sa.and_(surgical(), operation_notes_in_time()))),
    Measure("discharge_note_24h", "出院记录24小时内完成", "records", _count(lambda s, sc, t: F.discharge_note_24h)),
    Measure("front_page_24h", "病案首页24小时内完成", "records", _count(lambda s, sc, t: F.front_page_24h)),
)
_OTHER_MEASURES = (
    Measure("borrowings", "借阅申请", "borrowings", _count()),
    Measure("borrowings_approved", "批准借阅", "borrowings",
            _count(lambda s, sc, t: ApprovalRequest.status == "approved")),
    Measure("borrowings_returned", "提前归还", "borrowings", _count(lambda s, sc, t: Borrowing.end_kind == "returned")),
    Measure("borrow_days", "借阅天数", "borrowings", _sum(Borrowing.days)),
    Measure("copies", "复印登记", "copies", _count()),
    Measure("copies_paid", "已收费", "copies", _count(lambda s, sc, t: CopyRequest.paid_at.is_not(None))),
    Measure("copies_refunded", "已退费", "copies", _count(lambda s, sc, t: CopyRequest.refunded_at.is_not(None))),
    Measure("copy_pages", "复印页数", "copies", _sum(CopyRequest.pages * CopyRequest.copies)),
    Measure("copy_fee", "实收金额（元）", "copies",
            lambda s, sc, t: _sum(CopyRequest.fee_fen, sa.and_(CopyRequest.paid_at.is_not(None),
                                                                CopyRequest.refunded_at.is_(None)))(s, sc, t) / 100.0,
            "yuan"),
    Measure("pages_captured", "拍摄页数", "scan_pages", _count()),
    Measure("page_reviews", "审核页次", "scan_reviews", _count()),
    Measure("page_rejects", "审核退回页次", "scan_reviews", _count(lambda s, sc, t: ScanReview.decision == "reject")),
    Measure("qc_passed", "归档审核通过", "qc_reviews",
            _count(lambda s, sc, t: QcReview.status == "passed")),
    Measure("qc_returned", "归档审核退回", "qc_returns", _count()),
)
MEASURES: dict[str, Measure] = {m.code: m for m in (*_RECORD_MEASURES, *_OTHER_MEASURES)}

RATES: dict[str, Rate] = {r.code: r for r in (
    Rate("paperless_rate", "脱纸率", "paperless", "discharged"),
    Rate("paperless_archive_rate", "无纸化归档率", "paperless_archived", "archived"),
    Rate("archive_rate", "归档率", "archived", "discharged"),
    Rate("archive_2_days_rate", "2日归档率", "archived_2_days", "discharged"),
    Rate("complete_rate", "归档完整率", "archived_complete", "discharged"),
    Rate("defect_rate", "缺陷病历率", "defective", "discharged"),
    Rate("overdue_rate", "超期率", "overdue", "discharged"),
    Rate("borrow_approval_rate", "借阅批准率", "borrowings_approved", "borrowings"),
    Rate("page_reject_rate", "影像退回率", "page_rejects", "page_reviews"),
)}


def rate(numerator: float | None, denominator: float | None, unit: str = "percent") -> float | None:
    if numerator is None or not denominator:
        return None
    return round((100 if unit == "percent" else 1) * numerator / denominator, 2)


# ---------------------------------------------------------------- one definition, run


@dataclass
class Definition:
    """What to count: measures and rates (codes of the whitelists), grouped by one dimension."""

    dimension: str
    measures: list[str]
    chart: str = "bar"  # bar | line | pie

    def check(self) -> None:
        if self.dimension not in DIMENSIONS:
            raise Refusal("统计维度不在可选范围内")
        if not self.measures:
            raise Refusal("请至少选择一个统计指标")
        for code in self.measures:
            if code not in MEASURES and code not in RATES:
                raise Refusal(f"统计指标 {code} 不在可选范围内")
        if self.chart not in CHARTS:
            raise Refusal("图表类型只能是柱状图、折线图或饼图")
        for code in self.base_measures():
            subject = MEASURES[code].subject
            if self.dimension not in _dimension_codes(subject):
                raise Refusal(f"“{SUBJECTS[subject].name}”不能按“{DIMENSIONS[self.dimension].name}”分组")

    def base_measures(self) -> list[str]:
        codes = []
        for code in self.measures:
            parts = [RATES[code].numerator, RATES[code].denominator] if code in RATES else [code]
            codes += [part for part in parts if part not in codes]
        return codes


CHARTS = {"bar": "柱状图", "line": "折线图", "pie": "饼图"}
_DIMENSION_CODES = {"records": ("department", "campus", "month", "kind"),
                    "borrowings": ("department", "campus", "month", "purpose", "status", "person"),
                    "copies": ("month", "purpose", "applicant_type", "payment", "person"),
                    "scan_pages": ("person", "month", "department", "campus"),
                    "scan_reviews": ("person", "month", "department", "campus"),
                    "qc_reviews": ("person", "month", "department", "campus"),
                    "qc_returns": ("person", "month", "department", "campus")}


def _dimension_codes(subject: str) -> tuple[str, ...]:
    return _DIMENSION_CODES[subject]


def filterable(subject: str) -> bool:
    return subject != "copies"


@dataclass
class Row:
    key: object
    label: str
    values: dict[str, float | None] = field(default_factory=dict)


@dataclass
class Table:
    definition: Definition
    period: Period
    filters: Filters
    rows: list[Row]
    totals: Row
    notes: list[str] = field(default_factory=list)

    def columns(self) -> list[tuple[str, str, str]]:
        """(code, name, unit) of each shown measure."""
        return [(code, MEASURES[code].name, MEASURES[code].unit) if code in MEASURES
                else (code, RATES[code].name, RATES[code].unit) for code in self.definition.measures]

    def as_json(self) -> dict:
        return {"dimension": self.definition.dimension, "dimension_name": DIMENSIONS[self.definition.dimension].name,
                "chart": self.definition.chart, **self.period.as_json(), "filters": self.filters.as_json(),
                "columns": [{"code": c, "name": n, "unit": u} for c, n, u in self.columns()],
                "rows": [{"key": row.key, "label": row.label, **row.values} for row in self.rows],
                "totals": self.totals.values, "notes": self.notes}


def run(session: Session, definition: Definition, when: Period, filters: Filters) -> Table:
    """One query per subject the measures come from, grouped by the dimension; rates computed from the sums."""
    definition.check()
    types = TypeIds(session)
    by_subject: dict[str, list[str]] = {}
    for code in definition.base_measures():
        by_subject.setdefault(MEASURES[code].subject, []).append(code)
    if "records" in by_subject:
        facts.refresh(session)
    archive_rate.without_jit(session)
    values: dict[object, dict[str, float]] = {}
    totals: dict[str, float] = {}
    notes = []
    for subject, codes in by_subject.items():
        scope = SUBJECTS[subject].scope(session, when)
        where = list(scope.where)
        if filters.department_id is not None or filters.campus_id is not None:
            if scope.department is None:
                notes.append(f"“{SUBJECTS[subject].name}”不分科室、院区，按全院统计")
            else:
                if filters.department_id is not None:
                    where.append(scope.department == filters.department_id)
                if filters.campus_id is not None:
                    where.append(scope.campus == filters.campus_id)
        key = scope.columns[definition.dimension]
        counted = [MEASURES[code].build(session, scope, types) for code in codes]
        # The workload subjects join their record only for its department or campus (a million QC reviews
        # looked up their record one by one to be counted by person).
        record_needed = len(where) > len(scope.where) or definition.dimension in ("department", "campus")
        query = sa.select(key, *counted).select_from(scope.source(record_needed)).where(*where).group_by(key)
        for found, *numbers in session.execute(query):
            row = values.setdefault(found, {})
            for code, number in zip(codes, numbers, strict=True):
                row[code] = _number(number)
                totals[code] = totals.get(code, 0) + _number(number)
    dimension = DIMENSIONS[definition.dimension]
    labels = dimension.labels(session) if dimension.labels else {}
    rows = [Row(key, str(labels.get(key, key)) if key not in (None, "") else dimension.empty,
                _shown(definition, row)) for key, row in values.items()]
    rows.sort(key=lambda row: (row.key is None, str(row.key) if definition.dimension == "month" else row.label))
    return Table(definition, when, filters, rows, Row("合计", "合计", _shown(definition, totals)), notes)


def _number(value: object) -> float:
    number = float(value or 0)
    return int(number) if number.is_integer() else round(number, 2)


def _shown(definition: Definition, counted: dict[str, float]) -> dict[str, float | None]:
    shown = {}
    for code in definition.measures:
        if code in RATES:
            rule = RATES[code]
            shown[code] = rate(counted.get(rule.numerator, 0), counted.get(rule.denominator, 0), rule.unit)
        else:
            shown[code] = counted.get(code, 0)
    return shown


def records_where(session: Session, when: Period, filters: Filters,
                  condition: Callable[[Session, Scope, TypeIds], sa.ColumnElement] | None,
                  columns: Callable[[Session, Scope, TypeIds], list[sa.ColumnElement]] | None = None,
                  ) -> tuple[sa.Select, Scope]:
    """The records of the records subject in the period (and meeting ``condition``), for drill-down lists
    (their ids, as ``id``); or ``columns`` over them (the indicators' counts). Refreshes the facts first."""
    facts.refresh(session)
    scope = _records(session, when)
    types = TypeIds(session)
    where = list(scope.where)
    if filters.department_id is not None:
        where.append(F.department_id == filters.department_id)
    if filters.campus_id is not None:
        where.append(F.campus_id == filters.campus_id)
    if condition is not None:
        where.append(condition(session, scope, types))
    shown = columns(session, scope, types) if columns else [F.record_id.label("id")]
    return sa.select(*shown).select_from(scope.source()).where(*where), scope
