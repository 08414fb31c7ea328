"""The first hour on the demo, in a real browser: the 呼吸内科 clinician and the record room search
the way a hospital tries a new archive — 肺炎, 结核 (with and without 排除否定描述), 骨折, 剖宫产.

The demo's first patients (bingan.ingest.demo.hospital.SHOWCASE) are what the walk expects:
0100001 肺炎 (呼吸内科, 结核 only as 否认…结核), 0100002 股骨颈骨折 (骨科), 0100003 剖宫产 (产科),
0100004 肺结核 (呼吸内科), 0100005 支气管肺炎 (儿科), 0100006 肺炎 (呼吸内科) with 骨折 and 剖宫产
in her past history.
"""
from __future__ import annotations

from urllib.parse import quote

import pyotp
import pytest
from test_browser_daily_work import browser_page, login, server, shot  # noqa: F401 - fixtures

from bingan.config import get_settings
from bingan.storage.db import _engines, session_factory

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]
RECORDS = 8  # the showcase patients and their second stays


@pytest.fixture
def demo_passwords(sqlite_engine, monkeypatch):
    """The demo loaded through the real pipeline, and the demo accounts (as `bingan serve --demo`)."""
    from bingan.config import reset_settings
    from bingan.ingest.demo.accounts import ACCOUNTS_FILE, ensure_demo_accounts
    from bingan.ingest.demo_load import load_demo
    from bingan.ingest.pipeline import Pipeline

    monkeypatch.setenv("BINGAN_DATABASE_URL", sqlite_engine.url.render_as_string(hide_password=False))
    reset_settings()
    with session_factory(sqlite_engine)() as session, session.begin():
        created = ensure_demo_accounts(session, get_settings().resolved_home / ACCOUNTS_FILE)
    pipe = Pipeline(settings=get_settings(), engine=sqlite_engine)
    try:
        counts = load_demo(pipe, RECORDS)
    finally:
        pipe.close()
    assert set(counts) == {"indexed"}, counts
    return {c.account.username: c.password for c in created}


@pytest.fixture
def app(sqlite_engine, demo_passwords):
    from bingan.web.app import create_app

    settings = get_settings()
    _engines[settings.resolved_database_url] = sqlite_engine
    yield create_app(settings)
    _engines.pop(settings.resolved_database_url, None)


def results(page, base: str, query: str, *, affirmed: bool = False) -> str:
    page.goto(f"{base}/search?q={quote(query)}" + ("&affirmed=1" if affirmed else ""))
    page.wait_for_selector("#result-count")
    return page.inner_text("#results")


def test_the_respiratory_clinician_finds_pneumonia_tuberculosis_and_histories_on_the_ward(
        browser_page, demo_passwords):  # noqa: F811 - fixture
    page, base = browser_page
    login(page, base, "clinician", demo_passwords["clinician"])
    page.wait_for_selector("#recent")

    pneumonia = results(page, base, "肺炎")
    assert "0100001" in pneumonia and "0100006" in pneumonia and page.locator("mark", has_text="肺炎").count() > 0
    assert "0100005" not in pneumonia  # 儿科: another department's patient
    shot(page, "first-hour-01-clinician-pneumonia")

    tuberculosis = results(page, base, "结核")
    assert "0100004" in tuberculosis and "0100001" in tuberculosis  # 0100001: only "否认肝炎、结核…"
    affirmed = results(page, base, "结核", affirmed=True)
    assert "0100004" in affirmed and "0100001" not in affirmed
    shot(page, "first-hour-02-clinician-tuberculosis-affirmed")

    assert "0100006" in results(page, base, "骨折")  # 既往史: 右桡骨远端骨折
    caesarean = results(page, base, "剖宫产")
    assert "0100006" in caesarean and "0100003" not in caesarean  # 产科's own patients stay with 产科


def test_the_record_room_finds_fractures_and_caesareans_across_the_hospital(
        browser_page, demo_passwords):  # noqa: F811 - fixture
    page, base = browser_page
    login(page, base, "archivist", demo_passwords["archivist"])
    page.wait_for_selector("#totp-secret")  # 全院 rights: the authenticator is enrolled at first login
    page.fill("input[name=code]", pyotp.TOTP(page.inner_text("#totp-secret").strip()).now())
    page.click("form[action='/account/totp'] button[type=submit]")
    page.wait_for_selector("#recent")

    fractures = results(page, base, "骨折")
    assert "0100002" in fractures and "0100006" in fractures and "股骨颈骨折" in fractures
    shot(page, "first-hour-03-archivist-fracture")
    caesareans = results(page, base, "剖宫产")
    assert "0100003" in caesareans and "产科" in caesareans
    pneumonia = results(page, base, "肺炎")
    assert all(number in pneumonia for number in ("0100001", "0100005", "0100006"))
    assert "0100004" in results(page, base, "结核", affirmed=True)
    assert "0100002" not in results(page, base, "结核", affirmed=True)  # her 结核 is 否认…结核 only
    assert "0100002" in results(page, base, "结核")
    shot(page, "first-hour-04-archivist-caesarean")
