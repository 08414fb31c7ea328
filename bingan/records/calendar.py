"""The working-day calendar (节假日与调休) and archive deadlines (归档时限).

A day is a working day Monday to Friday unless the table says it is a holiday, and a weekend day
is a rest day unless the table says it is a make-up workday (调休上班). The table is seeded from
the chinesecalendar package for the years it covers (migration 0011, ``load_package_years`` after
an upgrade of the package); the administrators enter later years and confirm each year complete.

Deadlines count working days after the local discharge date: discharged on Friday with a deadline
of 3 working days, the record is due on Wednesday; a holiday in between moves it later, a
make-up Saturday earlier.

The table is read once per process and database and kept (this runs per worklist row); every
edit through this module drops the copy, and other processes reload within ``CACHE_SECONDS``.
"""
from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan import clock
from bingan.access.audit import Actor, record_event
from bingan.errors import NotFound, Refusal
from bingan.records.completeness import marks
from bingan.storage.models import Record, utcnow
from bingan.storage.models.versions import RECORD_KINDS, ArchiveDeadline, CalendarDay, CalendarYear

MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(text: str, what: str) -> date:
    """A YYYY-MM month asked for in a form or query (its first day); Refusal naming ``what``."""
    match = MONTH.match((text or "").strip())
    if not match or not 1 <= int(match.group(2)) <= 12 or not 2000 <= int(match.group(1)) <= 2100:
        raise Refusal(f"{what}须为 YYYY-MM 格式的月份，如 2026-10")
    return date(int(match.group(1)), int(match.group(2)), 1)


CACHE_SECONDS = 60
DEATH_DISCHARGE = "5"  # 离院方式 5 = 死亡
MAX_DEADLINE_DAYS = 60
HOLIDAY_NAMES = {
    "New Year's Day": "元旦", "Spring Festival": "春节", "Tomb-sweeping Day": "清明节", "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节", "National Day": "国庆节", "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利70周年纪念日",
}
KIND_NAMES = {"normal": "普通病历", "death": "死亡病历", "special": "特殊病历"}


@dataclass
class _Table:
    days: dict[date, bool]  # day → working, only the days that differ from the plain week
    years: set[int]
    deadlines: dict[str, int]
    loaded: float = field(default_factory=time.monotonic)

    def working(self, day: date) -> bool:
        special = self.days.get(day)
        return special if special is not None else day.weekday() < 5


_cache: dict[str, _Table] = {}
_lock = threading.Lock()


def _key(session: Session) -> str:
    """The database the table was read from (rendering the whole URL quotes it: slow per day)."""
    url = session.get_bind().url
    return f"{url.drivername}://{url.host}:{url.port}/{url.database}"


def _table(session: Session) -> _Table:
    key = _key(session)
    with _lock:
        table = _cache.get(key)
    if table is not None and time.monotonic() - table.loaded < CACHE_SECONDS:
        return table
    table = _Table(
        days={row[0]: row[1] for row in session.execute(sa.select(CalendarDay.day, CalendarDay.working))},
        years=set(session.scalars(sa.select(CalendarYear.year))),
        deadlines={row[0]: row[1] for row in session.execute(sa.select(ArchiveDeadline.kind, ArchiveDeadline.days))},
    )
    with _lock:
        _cache[key] = table
    return table


def invalidate(session: Session) -> None:
    """Drop this process's copy now and again when the transaction ends (a rollback undoes the edit)."""
    key = _key(session)

    def drop(*_args: object) -> None:
        with _lock:
            _cache.pop(key, None)

    drop()
    sa.event.listen(session, "after_commit", drop, once=True)
    sa.event.listen(session, "after_soft_rollback", drop, once=True)


# --- the public interface (QC worklist, reports) ---------------------------------------------

def is_working_day(session: Session, day: date) -> bool:
    return _table(session).working(day)


def working_days_between(session: Session, start: date, end: date) -> int:
    """Working days after ``start``, up to and including ``end``; 0 when ``end`` is not after it."""
    table = _table(session)
    count, day = 0, start + timedelta(days=1)
    while day <= end:
        count += table.working(day)
        day += timedelta(days=1)
    return count


def add_working_days(session: Session, start: date, days: int) -> date:
    """The ``days``-th working day after ``start`` (``start`` itself for 0)."""
    table = _table(session)
    day = start
    while days > 0:
        day += timedelta(days=1)
        days -= table.working(day)
    return day


def deadline_days(session: Session, kind: str) -> int:
    deadlines = _table(session).deadlines
    return deadlines.get(kind, deadlines.get("normal", 3))


def record_kind(session: Session, record: Record) -> str:
    """死亡 from the record (kind or 离院方式 5), 特殊 from the record or an open special mark."""
    if record.kind == "death" or record.discharge_method == DEATH_DISCHARGE:
        return "death"
    if record.kind == "special" or _special_marked(session, record):
        return "special"
    return "normal"


def _special_marked(session: Session, record: Record) -> bool:
    if record.id is None:
        return False
    return any(mark.kind == "special" for mark in marks.open_marks(session, record.id))


def archive_deadline(session: Session, record: Record) -> date | None:
    """The last day to archive: local discharge date + deadline days of the record's kind."""
    if record.discharged_at is None:
        return None
    return add_working_days(session, clock.local_date(record.discharged_at),
                            deadline_days(session, record_kind(session, record)))


# --- the administrator's table -------------------------------------------------------------

@dataclass(frozen=True)
class YearSummary:
    year: int
    confirmed: bool
    source: str
    holidays: int
    workdays: int


def days_of_year(session: Session, year: int) -> list[CalendarDay]:
    return list(session.scalars(sa.select(CalendarDay).where(
        CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31)).order_by(CalendarDay.day)))


def year_summary(session: Session, year: int) -> YearSummary:
    days = days_of_year(session, year)
    entry = session.get(CalendarYear, year)
    return YearSummary(year, entry is not None, entry.source if entry else "",
                       sum(not day.working for day in days), sum(day.working for day in days))


def missing_years(session: Session, today: date | None = None) -> list[int]:
    """The current and next year when their arrangement is not entered and confirmed."""
    today = today or clock.local_date(utcnow())
    years = _table(session).years
    return [year for year in (today.year, today.year + 1) if year not in years]


def set_day(session: Session, actor: Actor, day: date, kind: str, name: str) -> None:
    """kind: holiday 放假 | workday 调休上班 | plain 恢复为普通日 (weekday works, weekend rests)."""
    if kind not in ("holiday", "workday", "plain"):
        raise Refusal("日期类型只能是放假、调休上班或普通日")
    name = name.strip()[:64]
    entry = session.get(CalendarDay, day)
    if kind == "plain":
        if entry is None:
            raise NotFound(f"{day.isoformat()} 不在节假日表中")
        session.delete(entry)
    else:
        if kind == "workday" and day.weekday() < 5:
            raise Refusal(f"{day.isoformat()} 是周{'一二三四五'[day.weekday()]}，本来就上班，不能设为调休上班")
        if kind == "holiday" and not name:
            raise Refusal("请填写节日名称（如 春节）")
        entry = entry or CalendarDay(day=day)
        entry.working, entry.name, entry.source, entry.updated_by_id = kind == "workday", name, "manual", actor.user_id
        session.add(entry)
    record_event(session, actor, "calendar_day", object_type="calendar", object_id=day.year,
                 detail={"日期": day.isoformat(), "类型": {"holiday": "放假", "workday": "调休上班",
                                                          "plain": "普通日"}[kind], "名称": name})
    session.flush()
    invalidate(session)


def confirm_year(session: Session, actor: Actor, year: int, confirmed: bool = True) -> None:
    """The year's arrangement is entered completely (or not any more)."""
    if not 2000 <= year <= 2100:
        raise Refusal("年份须在 2000 到 2100 之间")
    entry = session.get(CalendarYear, year)
    if confirmed and entry is None:
        if not any(not day.working for day in days_of_year(session, year)):
            raise Refusal(f"{year} 年还没有录入任何放假日期，不能确认")
        session.add(CalendarYear(year=year, source="manual", confirmed_by_id=actor.user_id))
    elif not confirmed and entry is not None:
        session.delete(entry)
    else:
        return
    record_event(session, actor, "calendar_year", object_type="calendar", object_id=year,
                 detail={"年份": year, "操作": "确认已录入" if confirmed else "取消确认"})
    session.flush()
    invalidate(session)


def package_days() -> list[tuple[date, bool, str]]:
    """Every holiday and make-up workday the installed chinesecalendar knows."""
    from chinese_calendar.constants import holidays, workdays

    return ([(day, False, HOLIDAY_NAMES.get(str(name), str(name))) for day, name in holidays.items()]
            + [(day, True, HOLIDAY_NAMES.get(str(name), str(name))) for day, name in workdays.items()])


def load_package_years(session: Session, actor: Actor) -> list[int]:
    """Years the installed package covers and the table lacks (after a package upgrade); a year
    the administrators entered themselves is left as they entered it."""
    known = set(session.scalars(sa.select(CalendarYear.year)))
    rows = [row for row in package_days() if row[0].year not in known]
    years = sorted({day.year for day, working, _ in rows if not working})
    for day, working, name in rows:
        if day.year in years and session.get(CalendarDay, day) is None:
            session.add(CalendarDay(day=day, working=working, name=name, source="chinesecalendar"))
    for year in years:
        session.add(CalendarYear(year=year, source="chinesecalendar", confirmed_by_id=actor.user_id))
    if years:
        record_event(session, actor, "calendar_year", object_type="calendar", object_id=years[-1],
                     detail={"操作": "从 chinesecalendar 导入", "年份": ", ".join(map(str, years))})
        session.flush()
        invalidate(session)
    return years


def deadlines(session: Session) -> list[ArchiveDeadline]:
    rows = {row.kind: row for row in session.scalars(sa.select(ArchiveDeadline))}
    return [rows[kind] for kind in RECORD_KINDS if kind in rows]


def set_deadline(session: Session, actor: Actor, kind: str, days: int) -> None:
    if kind not in RECORD_KINDS:
        raise Refusal("病历类别只能是普通、死亡或特殊")
    if not 1 <= days <= MAX_DEADLINE_DAYS:
        raise Refusal(f"归档时限须在 1 到 {MAX_DEADLINE_DAYS} 个工作日之间")
    row = session.get(ArchiveDeadline, kind) or ArchiveDeadline(kind=kind, name=KIND_NAMES[kind])
    before = row.days
    row.days, row.updated_by_id = days, actor.user_id
    session.add(row)
    record_event(session, actor, "archive_deadline", object_type="calendar", object_id=kind,
                 detail={"类别": KIND_NAMES[kind], "原时限": before, "新时限": days})
    session.flush()
    invalidate(session)
