"""Digitisation workload (数字化工作量, C7): per person, per day and for the month — pages captured
(拍摄页数: a page counts for whoever shot it last, a re-shot included), pages reviewed (审核页数:
every first-review and re-review decision) and paper records archived (归档病案数: records with
captured pages moved to 已归档, by whoever moved them). Days are the hospital's calendar days.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.clock import day_start, local_date
from bingan.records.calendar import parse_month
from bingan.records.lifecycle import state_name
from bingan.storage.models import AuditEvent, User
from bingan.storage.models.digitisation import ScanPage, ScanReview

MEASURES = ("captured", "reviewed", "archived")
HEADERS = ("日期", "人员", "拍摄页数", "审核页数", "归档病案数")
ARCHIVED = state_name("archived")


@dataclass
class Line:
    """One person's counts for one day (``day`` None: the whole month)."""

    user_id: int
    name: str
    day: date | None
    captured: int = 0
    reviewed: int = 0
    archived: int = 0

    def as_json(self) -> dict:
        return {"user_id": self.user_id, "name": self.name, "day": self.day.isoformat() if self.day else None,
                "captured": self.captured, "reviewed": self.reviewed, "archived": self.archived}

    def cells(self) -> list[object]:
        return [self.day.isoformat() if self.day else "本月合计", self.name, self.captured, self.reviewed,
                self.archived]


@dataclass
class Workload:
    month: date
    days: list[Line] = field(default_factory=list)  # per person per day, by day then name
    people: list[Line] = field(default_factory=list)  # per person for the month, by name

    def as_json(self) -> dict:
        return {"month": self.month.strftime("%Y-%m"), "days": [line.as_json() for line in self.days],
                "people": [line.as_json() for line in self.people],
                "totals": {measure: sum(getattr(line, measure) for line in self.people) for measure in MEASURES}}


def workload(session: Session, month_text: str, user_id: int | None = None) -> Workload:
    """The month's workload (``month_text`` YYYY-MM), of one person when ``user_id`` is given."""
    month = parse_month(month_text, "统计月份")
    start, end = day_start(month), day_start(_next_month(month))
    events = [*(("captured", who, when) for who, when in _captured(session, start, end)),
              *(("reviewed", who, when) for who, when in _reviewed(session, start, end)),
              *(("archived", who, when) for who, when in _archived(session, start, end))]
    counts: dict[tuple[int, date], dict[str, int]] = defaultdict(lambda: dict.fromkeys(MEASURES, 0))
    for measure, who, when in events:
        if who is not None and (user_id is None or who == user_id):
            counts[(who, local_date(when))][measure] += 1
    return _lines(month, counts, _names(session, {who for who, _ in counts}))


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _captured(session: Session, start: datetime, end: datetime) -> Iterable[tuple[int | None, datetime]]:
    return session.execute(sa.select(ScanPage.captured_by_id, ScanPage.captured_at).where(
        ScanPage.captured_at >= start, ScanPage.captured_at < end)).all()


def _reviewed(session: Session, start: datetime, end: datetime) -> Iterable[tuple[int | None, datetime]]:
    return session.execute(sa.select(ScanReview.reviewer_id, ScanReview.decided_at).where(
        ScanReview.decided_at >= start, ScanReview.decided_at < end)).all()


def _archived(session: Session, start: datetime, end: datetime) -> list[tuple[int | None, datetime]]:
    """Moves to 已归档 of records with captured pages, from the audit trail the life cycle writes."""
    paper = sa.select(ScanPage.record_id).distinct()
    rows = session.execute(sa.select(AuditEvent.user_id, AuditEvent.at, AuditEvent.detail).where(
        AuditEvent.action == "status", AuditEvent.object_type == "record", AuditEvent.record_id.in_(paper),
        AuditEvent.at >= start, AuditEvent.at < end)).all()
    return [(who, when) for who, when, detail in rows if (detail or {}).get("新状态") == ARCHIVED]


def _names(session: Session, user_ids: set[int]) -> dict[int, str]:
    users = session.scalars(sa.select(User).where(User.id.in_(user_ids))) if user_ids else []
    return {user.id: user.full_name or user.username for user in users}


def _lines(month: date, counts: dict[tuple[int, date], dict[str, int]], names: dict[int, str]) -> Workload:
    result = Workload(month)
    totals: dict[int, Line] = {}
    for (who, day), measured in sorted(counts.items(), key=lambda item: (item[0][1], names.get(item[0][0], ""))):
        name = names.get(who, f"用户{who}")
        result.days.append(Line(who, name, day, **measured))
        total = totals.setdefault(who, Line(who, name, None))
        for measure in MEASURES:
            setattr(total, measure, getattr(total, measure) + measured[measure])
    result.people = sorted(totals.values(), key=lambda line: line.name)
    return result


def rows_for_sheet(result: Workload) -> list[list[object]]:
    """The xlsx rows: each person's days, then the month's totals per person."""
    return [line.cells() for line in result.days] + [line.cells() for line in result.people]
