"""The comparison screen in a real browser (Debian chromium, headless): a version collected after
archiving — one word changed on page 1, a page inserted before page 2 — opened from the list of
changes waiting for review, stepped through change by change, and kept. Screenshots in
tests/artifacts/; no page breaks the Content-Security-Policy."""
from __future__ import annotations

import pytest
from test_browser_approvals import people  # noqa: F401
from test_browser_daily_work import ARTIFACTS, server  # noqa: F401
from versions_support import collect_second_version

pytestmark = pytest.mark.browser


def test_the_comparison_shows_the_word_and_the_inserted_page_and_the_reviewer_keeps_it(
        people, web_engine, world):  # noqa: F811
    collect_second_version(web_engine, world)
    person, base, blocked = people
    qc = person("u_qc")
    qc.goto(f"{base}/versions/pending")
    qc.click("#pending-changes a:text('对比')")
    qc.wait_for_selector("#compare-bar")
    pairs = qc.locator(".compare-pair")
    assert pairs.count() == 4
    assert pairs.nth(0).locator("del.text-change").inner_text() == "闷"
    assert pairs.nth(0).locator("ins.text-change").inner_text() == "痛"
    assert "新增第2页" in pairs.nth(1).inner_text()
    assert [pairs.nth(i).get_attribute("data-status") for i in range(4)] == ["changed", "added", "same", "same"]
    qc.wait_for_function("() => document.querySelectorAll('.status-changed .side-a .region').length > 0")
    assert qc.locator(".status-changed .side-b .region").count() > 0  # boxed on both renders

    qc.click("#next-change")
    assert "第 1 / 2 处" in qc.inner_text("#change-position")
    qc.click("#next-change")
    assert "第 2 / 2 处" in qc.inner_text("#change-position")
    assert "current" in (pairs.nth(1).get_attribute("class") or "")
    qc.click("#prev-change")
    assert "current" in (pairs.nth(0).get_attribute("class") or "")
    qc.locator("#overlay").fill("60")
    qc.wait_for_function("() => document.querySelector('.overlay-img').style.opacity === '0.6'")
    qc.screenshot(path=str(ARTIFACTS / "versions-compare.png"), full_page=True)

    qc.click("#keep-version")
    qc.wait_for_selector("#pending-changes")
    assert "已保留第2版" in qc.inner_text("main")
    qc.screenshot(path=str(ARTIFACTS / "versions-kept.png"))
    assert blocked == []
