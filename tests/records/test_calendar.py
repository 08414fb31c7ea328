"""The working-day calendar and archive deadlines, on the 2026 arrangement the migration seeds from
chinesecalendar (国庆 10-01..07 放假, 10-10 周六调休上班; 劳动节 05-01..05, 05-09 周六上班)."""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from bingan.access.audit import Actor
from bingan.errors import Refusal
from bingan.records import calendar
from bingan.storage.models import Record

BEIJING = ZoneInfo("Asia/Shanghai")
ADMIN = Actor(None, "calendar-admin", "127.0.0.1")


def _discharged(day: date, **fields) -> Record:
    return Record(discharged_at=datetime(day.year, day.month, day.day, 23, 30, tzinfo=BEIJING), **fields)


@pytest.mark.parametrize(("day", "working"), [
    (date(2026, 3, 6), True),     # 周五
    (date(2026, 3, 7), False),    # 周六
    (date(2026, 10, 5), False),   # 国庆，周一放假
    (date(2026, 10, 10), True),   # 周六调休上班
    (date(2026, 2, 28), True),    # 春节调休
])
def test_a_day_is_working_by_the_week_unless_the_table_says_otherwise(session, day, working):
    assert calendar.is_working_day(session, day) is working


def test_working_days_between_counts_after_start_up_to_and_including_end(session):
    assert calendar.working_days_between(session, date(2026, 9, 30), date(2026, 10, 10)) == 3
    assert calendar.working_days_between(session, date(2026, 3, 6), date(2026, 3, 6)) == 0
    assert calendar.working_days_between(session, date(2026, 3, 9), date(2026, 3, 6)) == 0


@pytest.mark.parametrize(("discharged", "fields", "deadline"), [
    (date(2026, 3, 6), {}, date(2026, 3, 11)),                           # 普通 3 天跨周末
    (date(2026, 9, 30), {}, date(2026, 10, 10)),                         # 国庆后，调休周六是第 3 个工作日
    (date(2026, 4, 30), {"kind": "death"}, date(2026, 5, 11)),           # 死亡 5 天，劳动节 + 调休
    (date(2026, 4, 30), {"discharge_method": "5"}, date(2026, 5, 11)),   # 离院方式 5 即死亡
    (date(2026, 3, 6), {"kind": "special"}, date(2026, 3, 17)),          # 特殊 7 天
])
def test_archive_deadline_adds_the_kinds_working_days_to_the_local_discharge_date(session, discharged, fields,
                                                                                  deadline):
    assert calendar.archive_deadline(session, _discharged(discharged, **fields)) == deadline


def test_a_record_not_discharged_has_no_deadline(session):
    assert calendar.archive_deadline(session, Record()) is None


def test_deadline_days_are_editable_and_apply_at_once(session):
    calendar.set_deadline(session, ADMIN, "normal", 2)
    assert calendar.archive_deadline(session, _discharged(date(2026, 3, 6))) == date(2026, 3, 10)


def test_a_deadline_outside_one_to_sixty_days_is_refused(session):
    with pytest.raises(Refusal):
        calendar.set_deadline(session, ADMIN, "normal", 0)
    assert calendar.deadline_days(session, "normal") == 3


def test_the_next_year_without_an_arrangement_is_missing_in_december_2026(session):
    assert calendar.missing_years(session, date(2026, 12, 7)) == [2027]


def test_the_administrator_enters_and_confirms_a_year(session):
    calendar.set_day(session, ADMIN, date(2027, 1, 1), "holiday", "元旦")
    calendar.set_day(session, ADMIN, date(2027, 1, 9), "workday", "元旦调休")
    calendar.confirm_year(session, ADMIN, 2027)
    assert calendar.missing_years(session, date(2026, 12, 7)) == []
    assert calendar.is_working_day(session, date(2027, 1, 1)) is False
    assert calendar.is_working_day(session, date(2027, 1, 9)) is True
    assert calendar.year_summary(session, 2027).holidays == 1


def test_a_year_with_no_holiday_entered_cannot_be_confirmed(session):
    with pytest.raises(Refusal):
        calendar.confirm_year(session, ADMIN, 2027)


def test_a_weekday_cannot_be_a_make_up_workday(session):
    with pytest.raises(Refusal):
        calendar.set_day(session, ADMIN, date(2027, 1, 4), "workday", "")


def test_restoring_a_day_to_plain_removes_it_from_the_table(session):
    calendar.set_day(session, ADMIN, date(2026, 10, 5), "plain", "")
    assert calendar.is_working_day(session, date(2026, 10, 5)) is True


def test_a_rolled_back_edit_is_forgotten(session):
    calendar.set_day(session, ADMIN, date(2026, 3, 6), "holiday", "院庆")
    assert calendar.is_working_day(session, date(2026, 3, 6)) is False
    session.rollback()
    assert calendar.is_working_day(session, date(2026, 3, 6)) is True


def test_loading_the_package_adds_only_years_the_table_lacks(session):
    assert calendar.load_package_years(session, ADMIN) == []
