"""The indicators of 《病案管理质量控制指标(2021年版)》 (DOMAIN.md §1, O3): numerator, denominator, rate
and the records behind each number.

- "A": computed from Bingan's own data over the inpatient records discharged in the period (the
  records subject of blocks.py): documents with their types and completion times (书写时间, else
  签名时间), the front page's operations, the records' discharge, submission and archive times.
- "AM": the numerator from Bingan's data (出院病历数), the denominator typed in monthly (人员工作月数).
- "M": both typed in monthly, from the hospital's own QC (the B indicators whose results Bingan does
  not store).

MER-TQ-09 (甲级病历率) reads the final-QC scores (终末质控): a record's grade is its latest final score.
Its denominator is the discharged records that were scored, not every discharged record: final QC
scores a sample, and a rate over unscored records would only measure the sample's size.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan import clock
from bingan.access.audit import Actor, record_event
from bingan.errors import NotFound, Refusal
from bingan.records.calendar import parse_month
from bingan.records.statistics import blocks, facts
from bingan.records.statistics.blocks import Filters, Period, Scope, TypeIds
from bingan.storage.models import Campus, Department, DocumentType, Patient, Record
from bingan.storage.models.base import utcnow
from bingan.storage.models.statistics import IndicatorInput, IndicatorRequirement

Condition = Callable[[Session, Scope, TypeIds], sa.ColumnElement]
PARTS = {"denominator": "分母病历", "numerator": "分子病历", "missed": "未达标病历"}
PAGE_SIZE = 100
REQUIRED = ("MER-D&T-04", "MER-D&T-06")
F = blocks.F


@dataclass(frozen=True)
class Indicator:
    code: str
    name: str
    numerator_name: str
    denominator_name: str
    source: str  # A | AM | M
    numerator: str | Condition | None = None  # a measure code of blocks (A) or a condition on records
    denominator: Condition | None = None  # None: every discharged inpatient record
    unit: str = "percent"  # percent | ratio (月均负担)

    @property
    def key(self) -> str:
        """The code in a URL: lower case, without 'MER-' and '&'."""
        return self.code.removeprefix("MER-").replace("&", "").lower()


def _measure(code: str) -> Condition:
    """The condition of a counting measure of blocks (``count() FILTER (WHERE …)``)."""
    return _CONDITIONS[code]


_CONDITIONS: dict[str, Condition] = {
    "admission_note_24h": lambda s, sc, t: F.admission_note_24h,
    "operation_note_24h": lambda s, sc, t: blocks.operation_notes_in_time(),
    "discharge_note_24h": lambda s, sc, t: F.discharge_note_24h,
    "front_page_24h": lambda s, sc, t: F.front_page_24h,
    "archived_2_days": blocks.archived_2_days,
    "archived_complete": blocks.archived_complete,
}


def _grade_a(_s, _scope: Scope, _t) -> sa.ColumnElement:
    return F.grade == "甲"


def _scored(_s, _scope: Scope, _t) -> sa.ColumnElement:
    return F.grade.is_not(None)


def _surgical(_s, _scope: Scope, _t) -> sa.ColumnElement:
    return blocks.surgical()


def _transfusion(_s, _scope: Scope, _t) -> sa.ColumnElement:
    return blocks.transfusion()


def _required(indicator: str) -> Condition:
    """Every required item present (any one of its document types; true without items): the items are rows
    the record room edits, and an edit recomputes the flag (facts.requirements_changed). The flag is set
    only within the indicator's denominator (手术 / 用血病历)."""
    flag = F[facts.REQUIRED_FLAGS[indicator]]
    return lambda _s, _scope, _t: flag


INDICATORS: tuple[Indicator, ...] = (
    Indicator("MER-HR-01", "住院病案管理人员月均负担出院患者病历数", "出院病历数", "住院病案管理人员实际工作总月数",
              "AM", unit="ratio"),
    Indicator("MER-HR-02", "门诊病案管理人员月均负担门诊患者病历数", "门诊病历数（诊疗人次）",
              "门诊病案管理人员实际工作总月数", "M", unit="ratio"),
    Indicator("MER-HR-03", "病案编码人员月均负担出院患者病历数", "出院病历数", "病案编码人员实际工作总月数", "AM",
              unit="ratio"),
    Indicator("MER-TL-01", "入院记录24小时内完成率", "入院24小时内完成入院记录的病历数", "同期住院病历数", "A",
              "admission_note_24h"),
    Indicator("MER-TL-02", "手术记录24小时内完成率", "术后24小时内完成手术记录的病历数", "同期住院手术病历数", "A",
              "operation_note_24h", _surgical),
    Indicator("MER-TL-03", "出院记录24小时内完成率", "出院后24小时内完成出院记录的病历数", "同期出院病历数", "A",
              "discharge_note_24h"),
    Indicator("MER-TL-04", "病案首页24小时内完成率", "出院后24小时内完成病案首页的病历数", "同期出院病历数", "A",
              "front_page_24h"),
    Indicator("MER-ME-01", "CT/MRI检查记录符合率", "检查记录符合的病历数", "做过CT/MRI检查的病历数", "M"),
    Indicator("MER-ME-02", "病理检查记录符合率", "检查记录符合的病历数", "做过病理检查的病历数", "M"),
    Indicator("MER-ME-03", "细菌培养检查记录符合率", "检查记录符合的病历数", "做过细菌培养检查的病历数", "M"),
    Indicator("MER-D&T-01", "抗菌药物使用记录符合率", "记录符合的病历数", "使用抗菌药物的病历数", "M"),
    Indicator("MER-D&T-02", "恶性肿瘤化学治疗记录符合率", "记录符合的病历数", "化学治疗病历数", "M"),
    Indicator("MER-D&T-03", "恶性肿瘤放射治疗记录符合率", "记录符合的病历数", "放射治疗病历数", "M"),
    Indicator("MER-D&T-04", "手术相关记录完整率", "手术相关记录完整的病历数", "同期住院手术病历数", "A",
              _required("MER-D&T-04"), _surgical),
    Indicator("MER-D&T-05", "植入物相关记录符合率", "记录符合的病历数", "使用植入物的病历数", "M"),
    Indicator("MER-D&T-06", "临床用血相关记录符合率", "用血相关记录齐全的病历数", "同期用血病历数", "A",
              _required("MER-D&T-06"), _transfusion),
    Indicator("MER-D&T-07", "医师查房记录完整率", "查房记录完整的病历数", "同期住院病历数", "M"),
    Indicator("MER-D&T-08", "患者抢救记录及时完成率", "抢救记录及时完成的病历数", "抢救病历数", "M"),
    Indicator("MER-TQ-01", "出院患者病历2日归档率", "2个工作日内归档的病历数", "同期出院病历数", "A",
              "archived_2_days"),
    Indicator("MER-TQ-02", "出院患者病历归档完整率", "归档病历内容完整的病历数", "同期出院病历数", "A",
              "archived_complete"),
    Indicator("MER-TQ-03", "主要诊断填写正确率", "主要诊断填写正确的病历数", "同期出院病历数", "M"),
    Indicator("MER-TQ-04", "主要诊断编码正确率", "主要诊断编码正确的病历数", "同期出院病历数", "M"),
    Indicator("MER-TQ-05", "主要手术填写正确率", "主要手术填写正确的病历数", "同期出院手术病历数", "M"),
    Indicator("MER-TQ-06", "主要手术编码正确率", "主要手术编码正确的病历数", "同期出院手术病历数", "M"),
    Indicator("MER-TQ-07", "不合理复制病历发生率", "不合理复制的病历数", "同期出院病历数", "M"),
    Indicator("MER-TQ-08", "知情同意书规范签署率", "知情同意书规范签署的病历数", "有知情同意书的病历数", "M"),
    Indicator("MER-TQ-09", "甲级病历率", "终末质控评为甲级的病历数", "同期经终末质控评分的出院病历数", "A",
              _grade_a, _scored),
)
BY_CODE = {indicator.code: indicator for indicator in INDICATORS}
BY_KEY = {indicator.key: indicator for indicator in INDICATORS}
SOURCE_NAMES = {"A": "系统自动计算", "AM": "分子自动、分母按月录入", "M": "按月录入"}


def indicator_by_key(key: str) -> Indicator:
    indicator = BY_KEY.get(key.lower())
    if indicator is None:
        raise NotFound("没有这个指标")
    return indicator


def _numerator(indicator: Indicator) -> Condition:
    numerator = indicator.numerator
    return _measure(numerator) if isinstance(numerator, str) else numerator


def _denominator(indicator: Indicator) -> Condition:
    return indicator.denominator or (lambda _s, _sc, _t: sa.true())


@dataclass
class Value:
    indicator: Indicator
    numerator: float | None
    denominator: float | None
    missing_months: list[str]  # months without a typed figure (M, AM)
    filtered_out: bool = False  # a typed figure is for the whole hospital

    @property
    def rate(self) -> float | None:
        return blocks.rate(self.numerator, self.denominator, self.indicator.unit)

    def as_json(self, base: str = "/api/v1/statistics/indicators") -> dict:
        indicator = self.indicator
        auto = indicator.source == "A"
        return {"code": indicator.code, "key": indicator.key, "name": indicator.name, "source": indicator.source,
                "source_name": SOURCE_NAMES[indicator.source], "unit": indicator.unit,
                "numerator_name": indicator.numerator_name, "denominator_name": indicator.denominator_name,
                "numerator": self.numerator, "denominator": self.denominator, "rate": self.rate,
                "missing_months": self.missing_months,
                "records_url": f"{base}/{indicator.key}/records" if auto else None}


def compute(session: Session, when: Period, filters: Filters) -> list[Value]:
    """Every indicator over the period: the A ones in one query over the discharged records."""
    automatic = [indicator for indicator in INDICATORS if indicator.source == "A"]

    def counts(session: Session, scope: Scope, types: TypeIds) -> list[sa.ColumnElement]:
        found = [sa.func.count()]
        for indicator in automatic:
            denominator = _denominator(indicator)(session, scope, types)
            found += [sa.func.count().filter(denominator),
                      sa.func.count().filter(sa.and_(denominator, _numerator(indicator)(session, scope, types)))]
        return found

    select, _scope = blocks.records_where(session, when, filters, None, counts)
    blocks.archive_rate.without_jit(session)
    found = session.execute(select).one()
    discharged = int(found[0])
    values = {indicator.code: Value(indicator, int(found[2 + 2 * n]), int(found[1 + 2 * n]), [])
              for n, indicator in enumerate(automatic)}
    typed = _typed(session, when)
    filtered = filters.department_id is not None or filters.campus_id is not None
    for indicator in INDICATORS:
        if indicator.source == "A":
            continue
        months = typed.get(indicator.code, {})
        missing = [month for month in when.months() if month not in months]
        denominator = _sum(row.denominator for row in months.values())
        numerator = discharged if indicator.source == "AM" else _sum(row.numerator for row in months.values())
        values[indicator.code] = Value(indicator, numerator, denominator, missing, filtered)
    return [values[indicator.code] for indicator in INDICATORS]


def _sum(numbers) -> float | None:
    present = [number for number in numbers if number is not None]
    return round(sum(present), 2) if present else None


def _typed(session: Session, when: Period) -> dict[str, dict[str, IndicatorInput]]:
    typed: dict[str, dict[str, IndicatorInput]] = {}
    for row in session.scalars(sa.select(IndicatorInput).where(IndicatorInput.month.in_(when.months()))):
        typed.setdefault(row.code, {})[row.month] = row
    return typed


@dataclass(frozen=True)
class RecordLine:
    id: int
    record_number: str
    stay_number: int
    patient: str
    department: str
    campus: str
    discharged_at: object
    status: str

    def as_json(self) -> dict:
        return {"id": self.id, "record_number": self.record_number, "stay_number": self.stay_number,
                "patient": self.patient, "department": self.department, "campus": self.campus,
                "discharged_at": clock.iso(clock.instant(self.discharged_at)) if self.discharged_at else None,
                "status": self.status, "url": f"/records/{self.id}"}


@dataclass
class Drill:
    indicator: Indicator
    part: str
    total: int
    page: int
    lines: list[RecordLine]

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))

    def as_json(self) -> dict:
        return {"code": self.indicator.code, "part": self.part, "part_name": PARTS[self.part], "total": self.total,
                "page": self.page, "pages": self.pages, "records": [line.as_json() for line in self.lines]}


def drill_select(session: Session, indicator: Indicator, part: str, when: Period, filters: Filters) -> sa.Select:
    """The ids of the records behind a number of an automatic indicator: its denominator, numerator, or those missed."""
    if indicator.source != "A":
        raise Refusal("按月录入的指标没有对应的病案明细")
    if part not in PARTS:
        raise Refusal("明细只能是分母、分子或未达标病历")

    def condition(session: Session, scope: Scope, types: TypeIds) -> sa.ColumnElement:
        denominator = _denominator(indicator)(session, scope, types)
        if part == "denominator":
            return denominator
        numerator = _numerator(indicator)(session, scope, types)
        if part == "numerator":
            return sa.and_(denominator, numerator)
        return sa.and_(denominator, sa.case((numerator, 1), else_=0) == 0)  # NULL (not submitted) is missed

    select, _scope = blocks.records_where(session, when, filters, condition)
    blocks.archive_rate.without_jit(session)
    return select


def records_of(session: Session, indicator: Indicator, part: str, when: Period, filters: Filters,
               page: int = 1) -> Drill:
    """One page of the records behind a number, linking to each record's page."""
    page = max(1, page)
    ids = drill_select(session, indicator, part, when, filters).subquery()
    total = session.execute(sa.select(sa.func.count()).select_from(ids)).scalar_one()
    rows = session.execute(
        sa.select(Record.id, Record.record_number, Record.stay_number, Patient.name, Department.name, Campus.name,
                  Record.discharged_at, Record.status)
        .join(Patient, Patient.id == Record.patient_id)
        .outerjoin(Department, Department.id == Record.discharge_department_id)
        .outerjoin(Campus, Campus.id == Record.campus_id)
        .where(Record.id.in_(sa.select(ids.c.id)))
        .order_by(Record.discharged_at, Record.id).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE))
    lines = [RecordLine(id_, number, stay, name, department or "未填科室", campus or "", discharged, status)
             for id_, number, stay, name, department, campus, discharged, status in rows]
    return Drill(indicator, part, int(total), page, lines)


# ---------------------------------------------------------------- monthly inputs


def inputs(session: Session, month_text: str) -> dict[str, IndicatorInput]:
    month = parse_month(month_text, "月份").strftime("%Y-%m")
    return {row.code: row for row in session.scalars(sa.select(IndicatorInput).where(IndicatorInput.month == month))}


def set_input(session: Session, actor: Actor, code: str, month_text: str, numerator: float | None,
              denominator: float | None, note: str = "") -> IndicatorInput | None:
    """Type in (or clear, both empty) one month's figure of a typed indicator."""
    indicator = BY_CODE.get(code)
    if indicator is None or indicator.source == "A":
        raise Refusal("该指标由系统自动计算，无需录入")
    month = parse_month(month_text, "月份").strftime("%Y-%m")
    if indicator.source == "AM":
        numerator = None
    for number in (numerator, denominator):
        if number is not None and not 0 <= number <= 1e9:
            raise Refusal("录入的数值须为不小于 0 的数")
    if denominator is not None and denominator == 0:
        raise Refusal("分母不能为 0")
    row = session.scalar(sa.select(IndicatorInput).where(IndicatorInput.code == code, IndicatorInput.month == month))
    before = {"分子": row.numerator, "分母": row.denominator} if row else None
    if numerator is None and denominator is None:
        if row is not None:
            session.delete(row)
        record_event(session, actor, "indicator_input", object_type="indicator", object_id=code,
                     detail={"指标": indicator.name, "月份": month, "原值": before, "新值": None})
        session.flush()
        return None
    if row is None:
        row = IndicatorInput(code=code, month=month)
        session.add(row)
    row.numerator, row.denominator, row.note = numerator, denominator, note[:255]
    row.entered_by_id, row.entered_by_name = actor.user_id, actor.username
    row.entered_at = utcnow()
    record_event(session, actor, "indicator_input", object_type="indicator", object_id=code,
                 detail={"指标": indicator.name, "月份": month, "原值": before,
                         "新值": {"分子": numerator, "分母": denominator}})
    session.flush()
    return row


# ---------------------------------------------------------------- required documents (D&T-04 / 06)


def requirements(session: Session, indicator: str) -> list[IndicatorRequirement]:
    return list(session.scalars(sa.select(IndicatorRequirement).where(IndicatorRequirement.indicator == indicator)
                                .order_by(IndicatorRequirement.position, IndicatorRequirement.id)))


def type_names(session: Session) -> dict[int, str]:
    return dict(session.execute(sa.select(DocumentType.id, DocumentType.name)).all())


def add_requirement(session: Session, actor: Actor, indicator: str, label: str,
                    type_ids: list[int]) -> IndicatorRequirement:
    if indicator not in REQUIRED:
        raise Refusal("只有手术相关记录完整率（MER-D&T-04）和临床用血相关记录符合率（MER-D&T-06）可设置必备文书")
    label = label.strip()
    if not label:
        raise Refusal("请填写必备项目的名称")
    known = type_names(session)
    ids = [type_id for type_id in dict.fromkeys(type_ids) if type_id in known]
    if not ids:
        raise Refusal("请至少选择一种文书类型")
    position = max((item.position for item in requirements(session, indicator)), default=-1) + 1
    item = IndicatorRequirement(indicator=indicator, position=position, label=label[:100], document_type_ids=ids)
    session.add(item)
    session.flush()
    facts.requirements_changed(session, indicator)
    record_event(session, actor, "indicator_requirement_add", object_type="indicator", object_id=indicator,
                 detail={"项目": item.label, "文书类型": [known[type_id] for type_id in ids]})
    return item


def remove_requirement(session: Session, actor: Actor, item_id: int) -> None:
    item = session.get(IndicatorRequirement, item_id)
    if item is None:
        raise NotFound("没有这个必备项目")
    record_event(session, actor, "indicator_requirement_remove", object_type="indicator", object_id=item.indicator,
                 detail={"项目": item.label})
    session.delete(item)
    session.flush()
    facts.requirements_changed(session, item.indicator)
