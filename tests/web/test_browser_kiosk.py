"""The self-service copy kiosk in a real browser (Debian chromium, headless): the kiosk PC signs in
as its 自助机 account and lands on 请刷身份证; the patient lays the ID card on the reader (the bridge,
a peer), sees their own record, chooses the package, pays with the terminal's reference, watches the
copy job and reaches the done screen, which returns to the start by itself; the card left on the
reader is not read for the next patient, and an idle screen forgets the patient. Every touch target
is at least 48 px; no page breaks the Content-Security-Policy. Screenshots in tests/artifacts/."""
from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest
from test_browser_daily_work import ARGS, ARTIFACTS, CHROMIUM, login, server  # noqa: F401
from world import PASSWORD

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "records" / "release"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "peers"))

from card_reader import NO_CARD, ReaderState, card, running
from release_support import run_queued_jobs

from bingan import broker
from bingan.access.accounts import create_user
from bingan.records import lifecycle
from bingan.records.release import rules
from bingan.records.workflows import install
from bingan.storage.db import session_factory
from bingan.web.kiosk import VISIT_COOKIE

pytestmark = pytest.mark.browser
TOUCH_PX = 48


@pytest.fixture
def reader(web_engine, world):
    """The bridge on the kiosk PC, nothing on it yet; its address in the copy rules."""
    state = ReaderState()
    with running(state) as url:
        with session_factory(web_engine)() as session, session.begin():
            current = rules.copy_rules(session)
            rules.save_copy_rules(session, lifecycle.SYSTEM, rules.CopyRules(  # typed entry: the idle test
                fees=current.fees, stage_copying=False, card_reader_url=url, kiosk_typed_entry=True))
            create_user(session, "u_kiosk", PASSWORD, ["kiosk"], full_name="门诊大厅自助机",
                        must_change_password=False)
        yield state


@pytest.fixture
def kiosk_page(server, reader, monkeypatch):  # noqa: F811
    from playwright.sync_api import sync_playwright

    install()
    monkeypatch.setattr(broker, "celery_app", broker.make_celery())
    ARTIFACTS.mkdir(exist_ok=True)
    blocked: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 1024}, locale="zh-CN")
        page = context.new_page()
        page.on("console", lambda message: blocked.append(message.text)
                if "Content Security Policy" in message.text else None)
        login(page, server, "u_kiosk", PASSWORD)
        page.wait_for_url("**/kiosk")
        yield page, server, blocked
        browser.close()


def _small_targets(page) -> list[str]:
    """Buttons, links and choices of the screen smaller than a fingertip."""
    return page.evaluate("""(least) => Array.from(document.querySelectorAll(
        '.kiosk-button, .kiosk-choice, button, a')).filter(e => e.offsetParent !== null).map(e => {
          const box = e.getBoundingClientRect();
          return box.height < least || box.width < least ? `${e.textContent.trim()} ${box.width}x${box.height}` : '';
        }).filter(Boolean)""", TOUCH_PX)


def _printer(page) -> dict:
    """The kiosk's printer as the test sees it: the copy the print screen loads (checked to be the PDF,
    handed to the frame as a plain page, since headless Chromium has no PDF viewer to print from) and
    the print dialogs opened."""
    seen: dict = {"pdf": b"", "dialogs": 0}

    def copy(route) -> None:
        answer = route.fetch()
        seen["pdf"] = answer.body()
        route.fulfill(status=200, content_type="text/html", body="<!doctype html><p>复印件</p>")

    page.context.add_init_script("window.print = function () { console.log('kiosk-print-dialog'); };")
    page.on("console", lambda message: seen.update(dialogs=seen["dialogs"] + 1)
            if message.text == "kiosk-print-dialog" else None)
    page.route("**/copy.pdf", copy)
    return seen


def _shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"kiosk-{name}.png"))


def test_a_patient_copies_their_record_at_the_kiosk(kiosk_page, reader, web_engine, world):
    page, base, blocked = kiosk_page
    patient = world.records["normal"].patient
    page.wait_for_selector(f"#card-status:has-text('{NO_CARD['message']}')")  # the reader answered: no card
    assert page.locator('nav[aria-label="主菜单"]').count() == 0 and _small_targets(page) == []
    _shot(page, "01-card")
    reader.on_reader = card(patient.name, patient.id_number)
    page.wait_for_url("**/kiosk/records", timeout=10_000)  # read by the page's own polling
    assert reader.reads and reader.reads[0] == base and "已读卡" in page.inner_text("#visitor")
    assert _small_targets(page) == []
    _shot(page, "02-records")

    page.click(f'li[data-record="{world.records["normal"].id}"] a')
    page.wait_for_selector("#choose-form")
    assert _small_targets(page) == []
    _shot(page, "03-package")
    page.click("#apply")
    page.wait_for_selector("#pay-form")
    assert page.inner_text("#fee-total") == "6.50" and _small_targets(page) == []
    page.fill("#reference", "POS-20260310-0001")
    _shot(page, "04-pay")
    printed = _printer(page)
    page.click("#pay")
    page.wait_for_selector("#kiosk-progress")
    _shot(page, "05-print")
    worker = threading.Thread(target=run_queued_jobs, args=(web_engine,))
    worker.start()
    page.wait_for_url("**/done", timeout=60_000)  # after the print dialog
    worker.join()
    assert "请取走复印件和身份证" in page.inner_text("#done-title")
    assert printed["pdf"].startswith(b"%PDF") and printed["dialogs"] == 1
    assert not [c for c in page.context.cookies() if c["name"] == VISIT_COOKIE]
    _shot(page, "06-done")

    page.wait_for_url(f"{base}/kiosk", timeout=30_000)  # the done screen's countdown
    time.sleep(2.5)  # the card is still on the reader: not read for the next patient
    assert page.url == f"{base}/kiosk"
    assert "请先取下" in page.inner_text("#card-status")
    assert blocked == []


def test_an_idle_screen_forgets_the_patient(kiosk_page, world):
    page, _, _ = kiosk_page
    patient = world.records["normal"].patient
    page.fill("#id-number", patient.id_number)
    page.fill("#patient-name", patient.name)
    page.click("#identify")
    page.wait_for_url("**/kiosk/records")
    assert patient.name in page.inner_text("#visitor")
    page.evaluate("document.body.dataset.idleSeconds = '1'")
    page.keyboard.press("Shift")  # a touch starts the (now one-second) idle timer again
    page.wait_for_url("**/kiosk?again=1", timeout=5_000)
    assert patient.name not in page.content() and "请重新刷身份证" in page.inner_text("#kiosk-notice")
    assert not [c for c in page.context.cookies() if c["name"] == VISIT_COOKIE]
