"""A share link in a real browser (Debian chromium, headless): the archivist makes a link for one
opening on the record page; the recipient, not signed in, reads the watermarked pages; the next
browser to open it is refused in Chinese; the record page shows the opening. Screenshots in
tests/artifacts/; no page breaks the Content-Security-Policy."""
from __future__ import annotations

import pyotp
import pytest
from test_browser_daily_work import ARGS, ARTIFACTS, CHROMIUM, login, server  # noqa: F401
from web_helpers import TOTP_SECRET
from world import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def browser(server):  # noqa: F811
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    blocked: list[str] = []
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)

        def context():
            page = chromium.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN").new_page()
            page.on("console", lambda message: blocked.append(message.text)
                    if "Content Security Policy" in message.text else None)
            return page
        yield context, server, blocked
        chromium.close()


def _archivist(page, base: str):
    login(page, base, "u_archivist", PASSWORD)
    page.wait_for_url("**/login/totp")
    page.fill("input[name=code]", pyotp.TOTP(TOTP_SECRET).now())
    page.click("form:has(input[name=code]) button[type=submit]")
    page.wait_for_load_state()


def test_a_link_for_one_opening_is_read_once_then_refused(browser, world):
    context, base, blocked = browser
    archivist = context()
    _archivist(archivist, base)
    record_id = world.records["normal"].id
    archivist.goto(f"{base}/records/{record_id}")
    archivist.click("#share-links #share-new")
    archivist.fill("#share-form input[name=recipient]", "协和医院 张医生")
    archivist.fill("#share-form input[name=purpose]", "外院会诊")
    archivist.fill("#share-form input[name=max_views]", "1")
    archivist.click("#share-form button[type=submit]")
    url = archivist.input_value("#share-url")
    archivist.screenshot(path=str(ARTIFACTS / "share-01-created.png"))

    recipient = context()
    recipient.goto(url)
    assert "仅供 协和医院 张医生 查看" in recipient.inner_text("#shared-title")
    first = recipient.locator(".shared-page img").first
    first.scroll_into_view_if_needed()
    recipient.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=first.element_handle())
    recipient.screenshot(path=str(ARTIFACTS / "share-02-recipient.png"), full_page=False)

    late = context()
    late.goto(url)
    assert "次数已用完" in late.inner_text("#share-refused")

    archivist.goto(f"{base}/records/{record_id}")
    archivist.wait_for_selector("#share-link-list")
    assert "1 / 1" in archivist.inner_text("#share-link-list")
    assert "次数已用完" in archivist.inner_text("#share-link-list .share-status")
    assert blocked == []
