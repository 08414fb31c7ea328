"""Statistics on the demo, in a real browser (Debian chromium, headless): the record room's archivist
opens 质控指标与报表 over the demo's discharges, reads an indicator's numerator and denominator, opens
the records behind the denominator, opens the 脱纸率 report and sees its ECharts chart drawn under the
Content-Security-Policy, and downloads the report's xlsx."""
from __future__ import annotations

import io
from datetime import UTC, datetime

import openpyxl
import pyotp
import pytest
import sqlalchemy as sa
from test_browser_daily_work import browser_page, login, server, shot  # noqa: F401 - fixtures
from test_browser_first_hour import app, demo_passwords  # noqa: F401 - fixtures

from bingan import clock
from bingan.storage.db import session_factory
from bingan.storage.models import Record

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]
FROM, TO = "2025-01-01", clock.now().date().isoformat()


def discharged_inpatient_numbers(engine) -> list[str]:
    """The record numbers of the inpatient stays discharged in the period (a patient's second stay repeats one)."""
    starts = clock.day_start(datetime.fromisoformat(FROM).date())
    with session_factory(engine)() as session:
        return list(session.scalars(sa.select(Record.record_number).where(
            Record.visit_type == "inpatient", Record.discharged_at >= starts,
            Record.discharged_at <= datetime.now(UTC))))


def test_the_archivist_reads_an_indicator_its_records_and_a_charted_report_and_downloads_it(
        browser_page, demo_passwords, sqlite_engine):  # noqa: F811 - fixtures
    page, base = browser_page
    blocked: list[str] = []
    page.on("console", lambda message: blocked.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.on("pageerror", lambda error: blocked.append(str(error)))
    login(page, base, "archivist", demo_passwords["archivist"])
    page.wait_for_selector("#totp-secret")  # 全院 rights: the authenticator is enrolled at first login
    page.fill("input[name=code]", pyotp.TOTP(page.inner_text("#totp-secret").strip()).now())
    page.click("form[action='/account/totp'] button[type=submit]")
    page.wait_for_selector("#recent")
    numbers = discharged_inpatient_numbers(sqlite_engine)
    assert numbers  # the demo discharged its patients within the period

    page.goto(f"{base}/statistics?from={FROM}&to={TO}")
    row = page.locator("#indicators tr[data-code='MER-TL-03']")  # 出院记录24小时内完成率
    numerator = int(row.locator("a[href*='part=numerator']").inner_text())
    denominator = int(row.locator("a[href*='part=denominator']").inner_text())
    assert denominator == len(numbers)
    assert 0 <= numerator <= denominator
    assert row.locator("td.rate").inner_text().startswith(f"{round(100 * numerator / denominator, 2)}%")
    shot(page, "statistics-01-indicators")

    row.locator("a[href*='part=denominator']").click()
    page.wait_for_url("**/statistics/indicators/tl-03/records**")
    assert "出院记录24小时内完成率" in page.inner_text("h1")
    assert f"共 {denominator} 份病案" in page.inner_text("main")
    listed = page.inner_text("#drill")
    assert all(number in listed for number in numbers)
    shot(page, "statistics-02-denominator-records")

    page.goto(f"{base}/statistics?from={FROM}&to={TO}")
    page.click("#report-links a:has-text('脱纸率与无纸化归档率')")
    page.wait_for_selector("#statistics-chart[data-drawn=true] canvas")
    total = page.locator("#report-table tr.total td")
    assert total.nth(1).inner_text() == str(len(numbers))  # 出院病历数, the same records
    shot(page, "statistics-03-paperless-report")

    with page.expect_download() as download:
        page.click("#report-xlsx")
    # the download's temporary path has no .xlsx ending, which openpyxl goes by
    book = openpyxl.load_workbook(io.BytesIO(download.value.path().read_bytes()), read_only=True)
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    assert rows[0][:3] == ("科室", "出院病历数", "无纸质页病历")
    assert rows[-1][0] == "合计" and rows[-1][1] == len(numbers)
    assert blocked == []
