"""Submission in a real browser (Debian chromium, headless): a clinician opens an incomplete record,
is refused with the reason, marks the missing item, and submits; a complete record goes straight
through from the record page. Screenshots in tests/artifacts/; no page breaks the CSP."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from test_browser_approvals import people  # noqa: F401
from test_browser_daily_work import ARTIFACTS, server  # noqa: F401

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "records" / "completeness"))

from completeness_support import ORDINARY, make_record

from bingan.storage.db import session_factory
from bingan.storage.models import Record

pytestmark = pytest.mark.browser


@pytest.fixture
def stays(app, web_engine, world) -> dict[str, int]:
    with session_factory(web_engine)() as session, session.begin():
        complete = make_record(session, "0100001")
        incomplete = make_record(session, "0100002", documents=tuple(d for d in ORDINARY if d != "出院记录"))
        return {"complete": complete.id, "incomplete": incomplete.id}


def test_a_clinician_is_refused_marks_the_missing_item_and_submits(people, stays, web_engine):  # noqa: F811
    person, base, blocked = people
    page = person("u_clinician")
    page.goto(f"{base}/records/{stays['complete']}")
    page.wait_for_selector("#completeness #submit-record")
    page.click("#completeness #submit-record")
    page.wait_for_selector("text=已提交归档，等待病案室质控")

    page.goto(f"{base}/records/{stays['incomplete']}/checks")
    page.click("#submit-record")
    page.wait_for_selector("[role=alert]")
    assert "缺少出院记录" in page.inner_text("[role=alert]")
    page.screenshot(path=str(ARTIFACTS / "completeness-refused.png"), full_page=True)

    page.select_option("#mark-missing-form select[name=item]", label="出院记录")
    page.fill("#mark-missing-form input[name=reason]", "主任外出，出院记录未签名")
    page.fill("#mark-missing-form input[name=expected_date]", "2099-01-05")
    page.click("#mark-missing-form button[type=submit]")
    page.wait_for_selector("text=已标记缺项")
    assert "主任外出，出院记录未签名" in page.inner_text("#mark-list")
    page.click("#submit-record")
    page.wait_for_selector("text=已提交归档，等待病案室质控")
    assert "已标记缺项" in page.inner_text("#check-findings")
    page.screenshot(path=str(ARTIFACTS / "completeness-submitted.png"), full_page=True)
    with session_factory(web_engine)() as session:
        assert [session.get(Record, i).status for i in stays.values()] == ["submitted", "submitted"]
    assert blocked == []
