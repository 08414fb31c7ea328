"""The department archive-rate report (科室归档率, MER-TQ-01/02, H7, H8).

Per month of discharge and discharge department, over inpatient records:

- 出院病历数: discharged in the month;
- 时限内归档: archived by the hospital's deadline of the record's kind (calendar.archive_deadline);
- 2日归档: archived within two working days of discharge (MER-TQ-01, 出院患者病历2日归档率);
- 归档完整: archived with nothing missing — the latest self-check found no completeness error and
  no missing mark is open (MER-TQ-02, 出院患者病历归档完整率).

"Archived" is counted from the EMR archive time (basis ``emr``: the record's submission, the
EMR's "complete" event or the doctor's 提交归档 in Bingan) or from the discharge review time
(basis ``discharge_review``: 出科审核时间, sent by the EMR), as the hospital chooses.

Working days are not computed per record: the deadlines depend only on the discharge day and
the record's kind, so one row per local day of the range carries the UTC instants before which
a record of that day is in time, and the database counts in one GROUP BY over the per-record
facts (record_facts, refreshed first: records/statistics/facts.py) — times, kind and 归档完整
without a join to the checks and marks of a million records; the few records made special by an
open mark get the special deadline from a second, small query.
"""
from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan import clock
from bingan.errors import Refusal
from bingan.formats.spreadsheet import Spreadsheet
from bingan.records import calendar
from bingan.records.statistics import facts
from bingan.storage.compatibility import has_setting
from bingan.storage.models import Department, Record
from bingan.storage.models.completeness import Mark

BASES = {"emr": "EMR 归档时间", "discharge_review": "出科审核时间"}
MAX_MONTHS = 36
NATIONAL_DAYS = 2  # MER-TQ-01: 2个工作日内归档
COUNTS = ("discharged", "archived_within_deadline", "archived_within_2_days", "complete")


@dataclass(frozen=True)
class RateRow:
    month: str
    department: str
    discharged: int
    archived_within_deadline: int
    archived_within_2_days: int
    complete: int

    def rate(self, count: int) -> float:
        return round(100 * count / self.discharged, 2) if self.discharged else 0.0

    def as_json(self) -> dict:
        return {"month": self.month, "department": self.department, "discharged": self.discharged,
                "archived_within_deadline": self.archived_within_deadline,
                "archived_within_2_days": self.archived_within_2_days, "complete": self.complete,
                "rate_deadline": self.rate(self.archived_within_deadline),
                "rate_2_days": self.rate(self.archived_within_2_days), "rate_complete": self.rate(self.complete)}


@dataclass(frozen=True)
class Report:
    first: date
    last: date  # first day of the last month
    basis: str
    rows: list[RateRow]

    @property
    def totals(self) -> RateRow:
        return RateRow("合计", "全院", *(sum(getattr(row, name) for row in self.rows) for name in COUNTS))

    def by_department(self) -> list[RateRow]:
        """The range's rows added up per department (the chart)."""
        names = sorted({row.department for row in self.rows})
        return [RateRow("", name, *(sum(getattr(row, field) for row in self.rows if row.department == name)
                                    for field in COUNTS)) for name in names]

    def as_json(self) -> dict:
        return {"from": self.first.strftime("%Y-%m"), "to": self.last.strftime("%Y-%m"), "basis": self.basis,
                "basis_name": BASES[self.basis], "rows": [row.as_json() for row in self.rows],
                "totals": self.totals.as_json()}


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def month_range(first_text: str, last_text: str) -> tuple[date, date]:
    first, last = calendar.parse_month(first_text, "起始月份"), calendar.parse_month(last_text, "截止月份")
    if last < first:
        raise Refusal("截止月份不能早于起始月份")
    if (last.year - first.year) * 12 + last.month - first.month >= MAX_MONTHS:
        raise Refusal(f"一次最多统计 {MAX_MONTHS} 个月")
    return first, last


KINDS = ("normal", "death", "special")
DAYS_PER_SELECT = 400  # SQLite: at most 500 terms in one compound SELECT
DAY_COLUMNS = ("day", "month", "starts", "ends", "due_2", *(f"due_{kind}" for kind in KINDS))


@dataclass(frozen=True)
class Day:
    """One local day of the range: its UTC bounds, its month, and the instants before which a
    record discharged that day is archived within 2 working days and within each kind's deadline."""

    day: date
    month: str
    starts: datetime
    ends: datetime
    due_2: datetime
    due: dict[str, datetime]

    def values(self) -> tuple:
        return (self.day, self.month, self.starts, self.ends, self.due_2, *(self.due[kind] for kind in KINDS))


def _days(session: Session, first: date, end: date) -> dict[date, Day]:
    """Working days are not computed per record: the deadlines depend only on the discharge day
    and the record's kind."""
    deadlines = {kind: calendar.deadline_days(session, kind) for kind in KINDS}

    def due(start: date, days: int) -> datetime:
        return clock.day_start(calendar.add_working_days(session, start, days) + timedelta(days=1))

    days, day = {}, first
    while day < end:
        days[day] = Day(day, day.strftime("%Y-%m"), *clock.day_bounds(day), due(day, NATIONAL_DAYS),
                        {kind: due(day, deadlines[kind]) for kind in KINDS})
        day += timedelta(days=1)
    return days


def _day_table(days: dict[date, Day]) -> sa.Subquery:
    """The days as a table the database joins. Written as text with named binds: building a few
    thousand literal expressions took longer than the database needs to count a million records.
    SQLite refuses a compound SELECT of more than 500 terms, so a range longer than 400 days is a
    UNION ALL of subqueries of 400 days each (a VALUES list instead lost SQLite's index-range join)."""
    when = Record.__table__.c.discharged_at.type
    types = {"day": sa.Date(), "month": sa.String()}
    selects, binds = [], []
    for n, day in enumerate(days.values()):
        selects.append("SELECT " + ", ".join(f":{name}_{n} AS {name}" for name in DAY_COLUMNS))
        binds += [sa.bindparam(f"{name}_{n}", value, type_=types.get(name, when))
                  for name, value in zip(DAY_COLUMNS, day.values(), strict=True)]
    chunks = [" UNION ALL ".join(selects[at:at + DAYS_PER_SELECT]) for at in range(0, len(selects), DAYS_PER_SELECT)]
    sql = chunks[0] if len(chunks) == 1 else " UNION ALL ".join(f"SELECT * FROM ({chunk}) AS part_{n}"
                                                               for n, chunk in enumerate(chunks))
    text = sa.text(sql).bindparams(*binds)
    return text.columns(*(sa.column(name, types.get(name, when)) for name in DAY_COLUMNS)).subquery("days")


F = facts.FACTS.c  # one row per discharged inpatient record


def _on_day(days: sa.Subquery) -> sa.ColumnElement:
    """Records discharged on the row's local day: an index range per day, read from the covering
    index alone (faster on PostgreSQL too than hashing each record's local date)."""
    return sa.and_(F.discharged_at >= days.c.starts, F.discharged_at < days.c.ends)


def _due_by_kind(days: sa.Subquery) -> sa.ColumnElement:
    """The deadline of the record's own kind (死亡: kind or 离院方式 5 / 特殊 / 普通); an open special
    mark, which also makes a record special (calendar.record_kind), is applied afterwards to the few marked."""
    return sa.case((F.deadline_kind == "death", days.c.due_death), (F.deadline_kind == "special", days.c.due_special),
                   else_=days.c.due_normal)


def _count(condition: sa.ColumnElement) -> sa.ColumnElement:
    return sa.func.count().filter(condition)


Key = tuple[str, int | None]  # (month, discharge department)


def _special_marked_in_time(session: Session, days: dict[date, Day], done: sa.ColumnElement) -> dict[Key, int]:
    """A special mark (教学病例…) makes a normal record special (calendar.record_kind): its deadline
    is the special one. The few marked records are corrected here rather than looked up for each
    of a million records in the main query."""
    ordered = list(days.values())
    starts = [day.starts for day in ordered]
    changes: dict[Key, int] = {}
    rows = session.execute(  # from the marks: SQLite otherwise walks every record to test its id
        sa.select(Record.id, Record.discharged_at, Record.discharge_department_id, done).distinct()
        .select_from(Mark).join(Record, Record.id == Mark.record_id)
        .where(Mark.kind == "special", Mark.state == "open", Record.visit_type == "inpatient",
               Record.kind.not_in(("death", "special")), Record.discharge_method != calendar.DEATH_DISCHARGE,
               done.is_not(None)))
    for _, discharged_at, department, done_at in rows:
        discharged_at, done_at = clock.instant(discharged_at), clock.instant(done_at)
        at = bisect_right(starts, discharged_at) - 1
        if at < 0 or discharged_at >= ordered[at].ends:
            continue
        day = ordered[at]
        key = (day.month, department)
        changes[key] = changes.get(key, 0) + (done_at < day.due["special"]) - (done_at < day.due["normal"])
    return changes


def archive_rate(session: Session, first_text: str, last_text: str, basis: str = "emr") -> Report:
    if basis not in BASES:
        raise Refusal("统计口径只能是 emr（EMR 归档时间）或 discharge_review（出科审核时间）")
    first, last = month_range(first_text, last_text)
    end = _next_month(last)
    days = _days(session, first, end)
    table = _day_table(days)
    facts.refresh(session)
    done = F.submitted_at if basis == "emr" else F.discharge_reviewed_at
    query = (sa.select(table.c.month, F.department_id, sa.func.count(),
                       _count(done < _due_by_kind(table)), _count(done < table.c.due_2),
                       _count(sa.and_(F.archived_at.is_not(None), ~F.defective)))
             .select_from(facts.FACTS.join(table, _on_day(table)))
             .group_by(table.c.month, F.department_id))
    names = dict(session.execute(sa.select(Department.id, Department.name)).all())
    engine = session.get_bind().engine
    if engine.dialect.name == "postgresql" and has_setting(engine, "jit"):
        # The plan (a day table of literals) is costed high enough for JIT, whose compilation
        # takes seconds; the query itself runs in well under one. (Servers without JIT skip this.)
        session.execute(sa.text("SET LOCAL jit = off"))
    special = _special_marked_in_time(session, days, Record.submitted_at if basis == "emr"
                                      else Record.discharge_reviewed_at)
    rows = [RateRow(month, names.get(department, "未填科室"), int(count),
                    int(deadline or 0) + special.get((month, department), 0), int(two or 0), int(complete or 0))
            for month, department, count, deadline, two, complete in session.execute(query)]
    return Report(first, last, basis, sorted(rows, key=lambda row: (row.month, row.department)))


HEADERS = ("出院月份", "科室", "出院病历数", "时限内归档", "时限内归档率(%)", "2日归档", "2日归档率(%)",
           "归档完整", "归档完整率(%)")


def _cells(row: RateRow) -> list[object]:
    return [row.month, row.department, row.discharged,
            row.archived_within_deadline, row.rate(row.archived_within_deadline),
            row.archived_within_2_days, row.rate(row.archived_within_2_days), row.complete, row.rate(row.complete)]


def to_xlsx(report: Report) -> bytes:
    book = Spreadsheet()
    sheet = book.sheet("科室归档率", HEADERS)
    for row in [*report.rows, report.totals]:
        sheet.append(_cells(row))
    notes = book.sheet("说明", ("项目", "内容"))
    notes.append(("统计口径", BASES[report.basis]))
    notes.append(("统计月份", f"{report.first:%Y-%m} 至 {report.last:%Y-%m}（按出院日期）"))
    notes.append(("2日归档", "出院后 2 个工作日内归档（MER-TQ-01，节假日与调休按节假日表）"))
    notes.append(("时限内归档", "在医院规定的归档时限内归档（普通、死亡、特殊病历各自的工作日数）"))
    notes.append(("归档完整", "已归档，最近一次系统自检无完整性错误，且无未关闭的缺项标记（MER-TQ-02）"))
    return book.close()


# The building blocks above, for the statistics domain (records/statistics): its record measures
# (MER-TQ-01/02, 超期) count on the same day table, joined the same way, rather than a second copy.


def day_table(session: Session, first: date, end: date) -> sa.Subquery:
    """One row per local day from ``first`` to before ``end``: month, UTC bounds, 2-day and per-kind due instants."""
    return _day_table(_days(session, first, end))


def on_day(days: sa.Subquery) -> sa.ColumnElement:
    return _on_day(days)


def due_by_kind(days: sa.Subquery) -> sa.ColumnElement:
    return _due_by_kind(days)


def without_jit(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SET LOCAL jit = off"))
