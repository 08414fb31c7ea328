"""Graded access by period (分级访问): a category template opens its categories on its days, at its
hours of the day (a window may pass midnight) and to its terminal group only."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa

from bingan import clock
from bingan.access.addresses import parse_address
from bingan.access.periods import is_open, parse_hours, within_hours
from bingan.access.policy import decide, scope_for
from bingan.storage.models import Category, CategoryTemplate, Role

AT = datetime(2026, 3, 2, 0, 0)


@pytest.mark.parametrize(("hours", "clock_time", "open_"), [
    ("", "03:00", True),
    ("08:00-18:00", "07:59", False),
    ("08:00-18:00", "08:00", True),
    ("08:00-18:00", "17:59", True),
    ("08:00-18:00", "18:00", False),
    ("20:00-08:00", "19:59", False),
    ("20:00-08:00", "20:00", True),
    ("20:00-08:00", "00:30", True),
    ("20:00-08:00", "07:59", True),
    ("20:00-08:00", "08:00", False),
    ("18:00-24:00", "23:59", True),
    ("18:00-24:00", "00:00", False),
])
def test_hours_of_the_day(hours, clock_time, open_):
    hour, minute = map(int, clock_time.split(":"))
    assert within_hours(hours, AT.replace(hour=hour, minute=minute)) is open_


@pytest.mark.parametrize("text", ["8:00-18:00", "08:00-08:00", "25:00-26:00", "08:00", "08:00-24:30", "早上"])
def test_malformed_hours_are_refused_in_chinese(text):
    with pytest.raises(ValueError, match="时段"):
        parse_hours(text)


@pytest.mark.parametrize(("valid_from", "valid_until", "open_"), [
    (None, None, True),
    (date(2026, 3, 2), date(2026, 3, 2), True),  # both ends inclusive
    (date(2026, 3, 3), None, False),
    (None, date(2026, 3, 1), False),
])
def test_days_are_inclusive(valid_from, valid_until, open_):
    assert is_open(valid_from, valid_until, "", "", AT, None) is open_


@pytest.mark.parametrize(("client", "open_"), [("10.3.1.7", True), ("10.4.1.7", False), ("", False),
                                               ("::ffff:10.3.0.9", True), ("fe80::1", False)])
def test_a_terminal_group_admits_its_addresses_only(client, open_):
    assert is_open(None, None, "", "10.3.0.0/16", AT, parse_address(client)) is open_


# --- through the gate and the search scope ------------------------------------------------------

def _limit_nurses_to_charts(session, **period) -> Category:
    """Nurses may see the temperature chart only, within ``period``."""
    role = session.scalars(sa.select(Role).where(Role.code == "nurse")).one()
    chart = session.scalars(sa.select(Category).where(Category.name == "体温单")).one()
    session.add(CategoryTemplate(name="护理", role_id=role.id, category_id=chart.id, actions=["view"], **period))
    session.flush()
    return chart


def _window(start_hours: int, length_hours: int) -> str:
    start = clock.now() + timedelta(hours=start_hours)
    end = start + timedelta(hours=length_hours)
    return f"{start:%H}:00-{end:%H}:00"


def test_a_template_within_its_days_and_hours_opens_its_category(session, world):
    from world import add_pdf_document

    today = clock.now().date()
    _limit_nurses_to_charts(session, valid_from=today, valid_until=today + timedelta(days=1), hours=_window(-1, 3))
    chart = add_pdf_document(session, world.records["normal"], "体温单")
    assert decide(session, world.users["nurse"], "view", world.records["normal"], document=chart)


def test_a_template_past_its_last_day_closes_its_category(session, world):
    from world import add_pdf_document

    _limit_nurses_to_charts(session, valid_until=clock.now().date() - timedelta(days=1))
    chart = add_pdf_document(session, world.records["normal"], "体温单")
    refusal = decide(session, world.users["nurse"], "view", world.records["normal"], document=chart)
    assert not refusal and "分类权限模板" in refusal.reason_zh
    assert scope_for(session, world.users["nurse"]).allowed_categories == set()


def test_a_template_outside_its_hours_closes_its_category_in_search_too(session, world):
    chart = _limit_nurses_to_charts(session, hours=_window(2, 2))
    assert scope_for(session, world.users["nurse"]).allowed_categories == set()
    session.execute(sa.update(CategoryTemplate).values(hours=_window(-1, 3)))
    assert scope_for(session, world.users["nurse"]).allowed_categories == {chart.code}


def test_a_terminal_group_template_opens_only_from_its_terminals(session, world):
    from world import add_pdf_document

    _limit_nurses_to_charts(session, terminals="10.3.0.0/16")
    chart = add_pdf_document(session, world.records["normal"], "体温单")
    nurse, record = world.users["nurse"], world.records["normal"]
    assert decide(session, nurse, "view", record, document=chart, client_ip="10.3.2.9")
    assert not decide(session, nurse, "view", record, document=chart, client_ip="10.5.2.9")
    assert not decide(session, nurse, "view", record, document=chart)  # no address: outside every group
