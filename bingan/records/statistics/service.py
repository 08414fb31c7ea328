"""Statistics commands and queries: the built-in reports (O1, O2, O3, C7, J11, J12), the fee details,
the saved report definitions shared with roles (T8) and every xlsx export, written row by row.

The built-in reports and the saved definitions are the same thing: a Definition over the whitelisted
blocks (blocks.py). The archive-rate report (records/archive_rate.py, MER-TQ-01/02 per department and
month) stays where it is; the statistics pages link to it.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan import clock
from bingan.access.audit import Actor, record_event
from bingan.errors import Conflict, NotFound, Refusal
from bingan.formats.spreadsheet import Spreadsheet
from bingan.records.statistics import blocks, indicators
from bingan.records.statistics.blocks import CHARTS, DIMENSIONS, MEASURES, RATES, Definition, Filters, Period, Table
from bingan.storage.models import Campus, Department, Patient, Record, Role, User
from bingan.storage.models.release import CopyApplicantType, CopyRequest
from bingan.storage.models.statistics import SavedReport

ARCHIVE_RATE_PATH = "/reports/archive-rate"


@dataclass(frozen=True)
class Report:
    key: str
    name: str
    capabilities: str
    description: str
    definition: Definition

    def dimensions(self) -> list[str]:
        """The dimensions every subject of its measures can be grouped by."""
        subjects = {MEASURES[code].subject for code in self.definition.base_measures()}
        return [code for code in DIMENSIONS if all(code in blocks._DIMENSION_CODES[s] for s in subjects)]


REPORTS: dict[str, Report] = {r.key: r for r in (
    Report("paperless", "脱纸率与无纸化归档率", "O1 O2",
           "按出院日期统计住院病历：无纸质页病历（没有数字化拍摄页、没有扫描文书）占出院病历的比例为脱纸率；"
           "已归档病历中无纸质页的比例为无纸化归档率。",
           Definition("department", ["discharged", "paperless", "paperless_rate", "archived", "paperless_archived",
                                     "paperless_archive_rate"])),
    Report("borrowing", "借阅统计", "O1",
           "按申请日期统计借阅申请：申请数、批准数与批准率、提前归还数、借阅天数合计；可按科室、用途、状态、申请人分组。",
           Definition("purpose", ["borrowings", "borrowings_approved", "borrow_approval_rate", "borrowings_returned",
                                  "borrow_days"])),
    Report("copying", "复印统计与复印用途", "O1 J11",
           "按登记日期统计复印登记：登记数、收费数、退费数、复印页数（页数×份数）与实收金额（已收费未退费）；"
           "可按用途、申请人类别、支付方式、经办人、月份分组。",
           Definition("purpose", ["copies", "copies_paid", "copies_refunded", "copy_pages", "copy_fee"], "pie")),
    Report("defects", "缺陷病历", "O2",
           "按出院日期统计住院病历中的缺陷病历：最近一次系统自检有完整性错误，或有未关闭的缺项标记。",
           Definition("department", ["discharged", "defective", "defect_rate"])),
    Report("overdue", "科室质控超期", "O2",
           "按出院日期统计：超期提交（在本院归档时限后才提交，或至今未提交且已过时限）与其中至今仍未提交的病历；"
           "时限为普通、死亡、特殊病历各自的工作日数，按节假日表计算。",
           Definition("department", ["discharged", "overdue", "overdue_open", "overdue_rate"])),
    Report("workload", "工作量统计", "C7 O3",
           "按人员统计：数字化拍摄页数（拍摄日期）、影像审核页次与退回页次（审核日期）、归档审核通过与退回病案数"
           "（审核日期）。终末质控工作量待终末质控评分接入后加入。",
           Definition("person", ["pages_captured", "page_reviews", "page_rejects", "qc_passed", "qc_returned"])),
)}
FEES = "fees"


def report(key: str) -> Report:
    found = REPORTS.get(key)
    if found is None:
        raise NotFound("没有这个报表")
    return found


def run_report(session: Session, key: str, when: Period, filters: Filters, dimension: str | None = None,
               chart: str | None = None) -> Table:
    base = report(key)
    definition = Definition(dimension or base.definition.dimension, list(base.definition.measures),
                            chart or base.definition.chart)
    if definition.dimension not in base.dimensions():
        raise Refusal(f"该报表不能按“{DIMENSIONS.get(definition.dimension, blocks.Dimension('', '该维度')).name}”分组")
    return blocks.run(session, definition, when, filters)


def filter_options(session: Session) -> dict:
    return {"departments": session.execute(sa.select(Department.id, Department.name).order_by(Department.code)).all(),
            "campuses": session.execute(sa.select(Campus.id, Campus.name).order_by(Campus.id)).all()}


def filters_of(department: str | int | None, campus: str | int | None) -> Filters:
    def number(value, what: str) -> int | None:
        if value in (None, ""):
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            raise Refusal(f"{what}参数须为编号") from None
    return Filters(number(department, "科室"), number(campus, "院区"))


# ---------------------------------------------------------------- fee details (J12)

FEE_HEADERS = ("登记号", "登记时间", "收费时间", "申请人", "申请人类别", "用途", "每份页数", "份数", "金额（元）",
               "支付方式", "收费凭证号", "退费时间", "退费原因")
PAYMENTS = {"cash": "现金", "card": "刷卡", "online": "线上"}


def _fee_query(when: Period) -> sa.Select:
    return (sa.select(CopyRequest.id, CopyRequest.created_at, CopyRequest.paid_at, CopyRequest.applicant_name,
                      CopyRequest.applicant_type, CopyRequest.purpose, CopyRequest.pages, CopyRequest.copies,
                      CopyRequest.fee_fen, CopyRequest.payment_method, CopyRequest.payment_reference,
                      CopyRequest.refunded_at, CopyRequest.refund_reason)
            .where(CopyRequest.paid_at >= when.starts, CopyRequest.paid_at < when.ends)
            .order_by(CopyRequest.paid_at, CopyRequest.id))


def _local(value) -> str:
    return clock.local(clock.instant(value)).strftime("%Y-%m-%d %H:%M") if value else ""


def fee_lines(session: Session, when: Period, limit: int | None = None) -> Iterator[list[object]]:
    """The paid copy requests of the period, one line each, streamed from the database."""
    types = dict(session.execute(sa.select(CopyApplicantType.code, CopyApplicantType.name)).all())
    query = _fee_query(when)
    if limit is not None:
        query = query.limit(limit)
    for row in session.execute(query.execution_options(yield_per=2000)):
        (id_, created, paid, name, kind, purpose, pages, copies, fee, method, reference, refunded, reason) = row
        yield [id_, _local(created), _local(paid), name, types.get(kind, kind), purpose, pages, copies,
               round(fee / 100, 2), PAYMENTS.get(method, method), reference, _local(refunded), reason]


def fee_totals(session: Session, when: Period) -> dict:
    paid = sa.and_(CopyRequest.paid_at >= when.starts, CopyRequest.paid_at < when.ends)
    count, fen, refunded = session.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(CopyRequest.fee_fen), 0),
                  sa.func.coalesce(sa.func.sum(sa.case((CopyRequest.refunded_at.is_not(None), CopyRequest.fee_fen),
                                                       else_=0)), 0)).where(paid)).one()
    return {"count": int(count), "charged": round(int(fen) / 100, 2), "refunded": round(int(refunded) / 100, 2),
            "net": round((int(fen) - int(refunded)) / 100, 2)}


# ---------------------------------------------------------------- xlsx


def table_xlsx(table: Table, title: str, target: Path | None = None) -> bytes:
    book = Spreadsheet(target)
    dimension = DIMENSIONS[table.definition.dimension].name
    columns = table.columns()
    sheet = book.sheet(title[:31], (dimension, *(f"{name}(%)" if unit == "percent" else name
                                                 for _, name, unit in columns)))
    for row in [*table.rows, table.totals]:
        sheet.append([row.label, *(_cell(row.values.get(code)) for code, _, _ in columns)])
    notes = book.sheet("说明", ("项目", "内容"))
    notes.append(("统计期间", f"{table.period.first.isoformat()} 至 {table.period.last.isoformat()}"))
    for note in table.notes:
        notes.append(("说明", note))
    return book.close()


def _cell(value: object) -> object:
    return "" if value is None else value


def fees_xlsx(session: Session, when: Period, target: Path | None = None) -> bytes:
    book = Spreadsheet(target)
    sheet = book.sheet("收费明细", FEE_HEADERS)
    for line in fee_lines(session, when):
        sheet.append(line)
    return book.close()


INDICATOR_HEADERS = ("指标代码", "指标名称", "数据来源", "分子名称", "分子", "分母名称", "分母", "指标值", "单位",
                     "未录入月份")


def indicators_xlsx(values: list[indicators.Value], when: Period, target: Path | None = None) -> bytes:
    book = Spreadsheet(target)
    sheet = book.sheet("质控指标", INDICATOR_HEADERS)
    for value in values:
        item = value.indicator
        sheet.append([item.code, item.name, indicators.SOURCE_NAMES[item.source], item.numerator_name,
                      _cell(value.numerator), item.denominator_name, _cell(value.denominator), _cell(value.rate),
                      "%" if item.unit == "percent" else "份/人月", "、".join(value.missing_months)])
    notes = book.sheet("说明", ("项目", "内容"))
    notes.append(("统计期间", f"{when.first.isoformat()} 至 {when.last.isoformat()}（按出院日期）"))
    return book.close()


DRILL_HEADERS = ("病案号", "住院次数", "患者", "出院科室", "院区", "出院时间", "状态")


def drill_xlsx(session: Session, indicator: indicators.Indicator, part: str, when: Period, filters: Filters,
               target: Path | None = None, written: Callable[[int], None] | None = None) -> bytes:
    """Every record behind one number of an indicator, streamed (a year of a large hospital is a million
    rows); ``written(n)`` is told the count every DRILL_PROGRESS_ROWS rows (a background export's progress)."""
    check_drillable(indicator, part)
    book = Spreadsheet(target)
    sheet = book.sheet(indicators.PARTS[part], DRILL_HEADERS)
    for done, line in enumerate(drill_lines(session, indicator, part, when, filters), start=1):
        sheet.append(line)
        if written is not None and done % DRILL_PROGRESS_ROWS == 0:
            written(done)
    return book.close()


DRILL_PROGRESS_ROWS = 5_000


def check_drillable(indicator: indicators.Indicator, part: str) -> None:
    if indicator.source != "A" or part not in indicators.PARTS:
        raise Refusal("只有系统自动计算的指标有病案明细")


def drill_lines(session: Session, indicator: indicators.Indicator, part: str, when: Period,
                filters: Filters) -> Iterator[list[object]]:
    select = indicators.drill_select(session, indicator, part, when, filters)
    departments = dict(session.execute(sa.select(Department.id, Department.name)).all())
    campuses = dict(session.execute(sa.select(Campus.id, Campus.name)).all())
    query = (sa.select(Record.record_number, Record.stay_number, Patient.name, Record.discharge_department_id,
                       Record.campus_id, Record.discharged_at, Record.status)
             .join(Patient, Patient.id == Record.patient_id).where(Record.id.in_(select))
             .order_by(Record.discharged_at, Record.id))
    for number, stay, name, department, campus, discharged, status in session.execute(
            query.execution_options(yield_per=5000)):
        yield [number, stay, name, departments.get(department, "未填科室"), campuses.get(campus, ""),
               _local(discharged), STATUS_NAMES.get(status, status)]


STATUS_NAMES = {"collecting": "采集中", "awaiting": "待提交", "submitted": "待质控", "qc": "质控中",
                "returned": "已退回", "archived": "已归档", "recalled": "召回中"}


# ---------------------------------------------------------------- saved definitions (T8)


def role_names(session: Session) -> dict[str, str]:
    return dict(session.execute(sa.select(Role.code, Role.name).order_by(Role.id)).all())


def visible_reports(session: Session, user: User, manage: bool) -> list[SavedReport]:
    """Saved definitions this user may run: all for statistics.manage, else those shared with one of their roles."""
    saved = list(session.scalars(sa.select(SavedReport).order_by(SavedReport.name)))
    if manage:
        return saved
    roles = {role.code for role in user.roles}
    return [item for item in saved if roles & set(item.roles or [])]


def saved_report(session: Session, user: User, manage: bool, report_id: int) -> SavedReport:
    item = session.get(SavedReport, report_id)
    if item is None or item not in visible_reports(session, user, manage):
        raise NotFound("没有这个自定义报表，或它没有共享给您的角色")
    return item


def definition_of(data: dict) -> Definition:
    definition = Definition(str(data.get("dimension", "")), [str(code) for code in data.get("measures", [])],
                            str(data.get("chart", "bar")))
    definition.check()
    return definition


def save_report(session: Session, actor: Actor, name: str, description: str, data: dict, roles: list[str],
                report_id: int | None = None) -> SavedReport:
    name = name.strip()
    if not name:
        raise Refusal("请填写报表名称")
    definition = definition_of(data)
    filters = filters_of(data.get("department"), data.get("campus"))
    known = role_names(session)
    unknown = [code for code in roles if code not in known]
    if unknown:
        raise Refusal(f"没有这些角色：{'、'.join(unknown)}")
    clash = session.scalar(sa.select(SavedReport).where(SavedReport.name == name[:100]))
    item = session.get(SavedReport, report_id) if report_id is not None else SavedReport(
        created_by_id=actor.user_id, created_by_name=actor.username)
    if item is None:
        raise NotFound("没有这个自定义报表")
    if clash is not None and clash is not item:
        raise Conflict(f"已有名为“{name}”的报表")
    item.name, item.description = name[:100], description.strip()
    item.definition = {"dimension": definition.dimension, "measures": definition.measures, "chart": definition.chart,
                       "department": filters.department_id, "campus": filters.campus_id}
    item.roles = list(dict.fromkeys(roles))
    session.add(item)
    session.flush()
    record_event(session, actor, "saved_report_save", object_type="saved_report", object_id=item.id,
                 detail={"名称": item.name, "定义": item.definition, "共享角色": item.roles})
    return item


def delete_report(session: Session, actor: Actor, report_id: int) -> None:
    item = session.get(SavedReport, report_id)
    if item is None:
        raise NotFound("没有这个自定义报表")
    record_event(session, actor, "saved_report_delete", object_type="saved_report", object_id=item.id,
                 detail={"名称": item.name})
    session.delete(item)
    session.flush()


def run_saved(session: Session, item: SavedReport, when: Period, filters: Filters | None = None) -> Table:
    definition = definition_of(item.definition)
    stored = filters_of(item.definition.get("department"), item.definition.get("campus"))
    chosen = filters or Filters()
    return blocks.run(session, definition, when, Filters(chosen.department_id or stored.department_id,
                                                         chosen.campus_id or stored.campus_id))


def blocks_json() -> dict:
    """The whitelists a definition is built from, for the editor and the API."""
    return {"subjects": {code: {"name": s.name, "time": s.time_name, "dimensions": list(blocks._DIMENSION_CODES[code])}
                         for code, s in blocks.SUBJECTS.items()},
            "dimensions": {code: d.name for code, d in DIMENSIONS.items()},
            "measures": {code: {"name": m.name, "subject": m.subject, "unit": m.unit} for code, m in MEASURES.items()},
            "rates": {code: {"name": r.name, "numerator": r.numerator, "denominator": r.denominator,
                             "subject": MEASURES[r.numerator].subject} for code, r in RATES.items()},
            "charts": CHARTS}
