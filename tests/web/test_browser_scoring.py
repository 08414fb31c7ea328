"""终末质控 in a real browser on the demo (loaded through the real pipeline, as `bingan serve --demo`):
the QC office's demo account opens the demo's sampling task, scores the record still in archive QC —
one proposed deduction (from its unanswered QC comments) accepted, the others dismissed, one manual
deduction naming a document page — submits, and finds the grade in 终末质控病历."""
from __future__ import annotations

import pyotp
import pytest
import sqlalchemy as sa
from test_browser_daily_work import browser_page, login, server, shot  # noqa: F401 - fixtures
from test_browser_first_hour import app, demo_passwords  # noqa: F401 - fixtures

from bingan.storage.db import session_factory
from bingan.storage.models import Record
from bingan.storage.models.scoring import FinalScore, ScoringTask, ScoringTaskRecord

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]


def test_the_qc_office_scores_a_drawn_record_and_sees_its_grade(browser_page, demo_passwords,  # noqa: F811
                                                                 sqlite_engine):
    with session_factory(sqlite_engine)() as session:
        task = session.scalars(sa.select(ScoringTask)).one()
        record = session.scalars(sa.select(Record).join(ScoringTaskRecord, ScoringTaskRecord.record_id == Record.id)
                                 .where(ScoringTaskRecord.task_id == task.id, Record.status == "qc")).first()
        number = record.record_number
        already = session.scalar(sa.select(sa.func.count()).select_from(FinalScore)
                                 .where(FinalScore.status == "final"))
    page, base = browser_page
    login(page, base, "qc", demo_passwords["qc"])
    page.wait_for_selector("#totp-secret")  # 全院 rights: the authenticator is enrolled at first login
    page.fill("input[name=code]", pyotp.TOTP(page.inner_text("#totp-secret").strip()).now())
    page.click("form[action='/account/totp'] button[type=submit]")
    page.wait_for_selector("#recent")

    page.goto(f"{base}/scoring/tasks")
    page.click(f"#scoring-tasks a[href='/scoring/tasks/{task.id}']")
    page.wait_for_selector("#scoring-progress")
    shot(page, "scoring-01-task")
    page.click(f"#scoring-records a[href='/scoring/tasks/{task.id}/records/{record.id}']")
    page.click("#scoring-open")
    page.wait_for_selector(".scoring-deduction.proposed")
    page.wait_for_function("() => document.getElementById('scoring-page-image').naturalWidth > 0")
    shot(page, "scoring-02-proposals")
    page.locator(".scoring-deduction.proposed .scoring-accept").first.click()
    page.wait_for_selector(".scoring-deduction.accepted")
    while page.locator(".scoring-deduction.proposed .scoring-dismiss").count():
        page.locator(".scoring-deduction.proposed .scoring-dismiss").first.click()
        page.wait_for_load_state()
    page.select_option("#scoring-item", "1.2")
    page.fill("#scoring-page", "1")
    page.fill("#scoring-note", "主要诊断选择错误，应为社区获得性肺炎")
    page.click("#scoring-deduct")
    page.wait_for_selector("#scoring-deductions:has-text('主要诊断选择错误，应为社区获得性肺炎')")
    total = float(page.inner_text("#scoring-total"))
    assert total == 96.5  # 3 (主要诊断) + 0.5 (质控意见未整改)
    shot(page, "scoring-03-scored")
    page.click("#scoring-submit")
    page.wait_for_url(f"{base}/scoring/tasks/{task.id}?mine=1")

    page.goto(f"{base}/scoring/finals")
    row = page.locator("#scoring-finals tr", has_text=number)
    assert row.locator(".scoring-grade").inner_text() == "甲"
    assert page.inner_text("#scoring-finals-count") == str(already + 1)
    shot(page, "scoring-04-finals")
