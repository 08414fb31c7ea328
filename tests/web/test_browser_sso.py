"""Single sign-on in a real browser (Debian chromium, headless): 统一身份认证登录 on Bingan's login page
leads to the provider's own page — the npm oidc-provider, or the CAS peer — and back into Bingan
signed in; 退出 ends Bingan's session and the provider's, so the next sign-on asks again."""
from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest
import uvicorn
from sso_support import CLIENT_ID, CLIENT_SECRET, IDP_PASSWORD, free_port, idp_accounts, oidc_provider, sso_app
from test_browser_daily_work import ARGS, ARTIFACTS, CHROMIUM

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/peers as the "peers" package
from peers.cas import CasPeer

pytestmark = pytest.mark.browser


def _serve(app, port: int):
    instance = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    while not instance.started:
        time.sleep(0.05)
    return instance, thread


def _browser_walk(app, port: int, sign_on, name: str) -> None:
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium not installed")
    ARTIFACTS.mkdir(exist_ok=True)
    base = f"http://127.0.0.1:{port}"
    instance, thread = _serve(app, port)
    blocked: list[str] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            page = browser.new_context(locale="zh-CN").new_page()
            page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
            page.goto(f"{base}/login")
            page.click("#sso-login")
            sign_on(page)
            page.wait_for_url(f"{base}/")
            assert "测试clinician" in page.inner_text("header")
            page.screenshot(path=str(ARTIFACTS / f"sso-{name}-signed-in.png"))
            page.click("form[action='/logout'] button")
            logout = page.locator("#idp-logout")
            if name == "oidc":  # the provider asks before ending its session
                logout.wait_for()
                logout.click()
            page.wait_for_url(f"{base}/login")
            page.goto(f"{base}/")
            assert page.url.startswith(f"{base}/login")
            page.click("#sso-login")  # the provider's session has ended: it asks again
            page.wait_for_selector("input[type=password]")
            browser.close()
    finally:
        instance.should_exit = True
        thread.join(timeout=10)
    assert not blocked


def test_oidc_sign_on_and_logout_in_the_browser(web_engine, world):
    port = free_port()
    with oidc_provider(idp_accounts(world), [f"http://127.0.0.1:{port}"]) as issuer, \
            sso_app(web_engine, sso="oidc", oidc_issuer=issuer, oidc_client_id=CLIENT_ID,
                    oidc_client_secret=CLIENT_SECRET) as app:
        def sign_on(page):
            page.fill("input[name=login]", "u_clinician")
            page.fill("input[name=password]", IDP_PASSWORD)
            page.click("#idp-submit")
        _browser_walk(app, port, sign_on, "oidc")


def test_cas_sign_on_and_logout_in_the_browser(web_engine, world):
    accounts = {"u_clinician": {"password": IDP_PASSWORD, "attributes": {"staff_number": "S0006"}}}
    with CasPeer(accounts) as cas, sso_app(web_engine, sso="cas", cas_url=cas.url) as app:
        def sign_on(page):
            page.fill("input[name=username]", "u_clinician")
            page.fill("input[name=password]", IDP_PASSWORD)
            page.click("#cas-submit")
        _browser_walk(app, free_port(), sign_on, "cas")
