"""The copy window in a real browser (Debian chromium, headless): the clerk serves an agent with a
power of attorney end to end — finds the record, reads the agent's ID card from the card-reader
bridge on the PC (a peer), chooses the package, sees the fee, photographs the papers until none
is missing, takes the cash, starts the copy job, watches its progress and gets the PDF whose every
page carries the certifying mark in red; a sealed record is shown only with its reason and an
unarchived one is refused with the reason. Screenshots in tests/artifacts/; no page breaks the
Content-Security-Policy (the bridge is allowed by the window's own policy)."""
from __future__ import annotations

import sys
import threading
from pathlib import Path

import numpy as np
import pyotp
import pypdfium2
import pytest
from test_browser_daily_work import ARGS, ARTIFACTS, CHROMIUM, login, server  # noqa: F401
from web_helpers import TOTP_SECRET
from world import PASSWORD

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "records" / "release"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "peers"))

from card_reader import ReaderState, card, running
from release_support import AGENT, run_queued_jobs

from bingan import broker
from bingan.records import lifecycle
from bingan.records.release import rules
from bingan.records.workflows import install
from bingan.storage.db import session_factory
from bingan.storage.models import Record

pytestmark = pytest.mark.browser
PHOTO = b"\xff\xd8\xff\xe0" + b"JFIF-photo-of-a-paper" * 40
PAPERS = ("患者有效身份证明", "代理关系证明材料", "授权委托书")


@pytest.fixture
def reader(web_engine, world):
    """The bridge on the clerk's PC with the agent's card on it, its address in the copy rules."""
    state = ReaderState(on_reader=card(AGENT["name"], AGENT["id_number"]))
    with running(state) as url:
        with session_factory(web_engine)() as session, session.begin():
            current = rules.copy_rules(session)
            rules.save_copy_rules(session, lifecycle.SYSTEM, rules.CopyRules(
                fees=current.fees, stage_copying=False, card_reader_url=url))
        yield state


@pytest.fixture
def clerk(server, reader, monkeypatch):  # noqa: F811
    from playwright.sync_api import sync_playwright

    install()
    monkeypatch.setattr(broker, "celery_app", broker.make_celery())
    ARTIFACTS.mkdir(exist_ok=True)
    blocked: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN").new_page()
        page.on("console", lambda message: blocked.append(message.text)
                if "Content Security Policy" in message.text else None)
        login(page, server, "u_copy_clerk", PASSWORD)
        page.wait_for_url(lambda url: url.endswith("/") or "/login/totp" in url)
        if "/login/totp" in page.url:  # the copy window reads patient data: a second factor
            page.fill("input[name=code]", pyotp.TOTP(TOTP_SECRET).now())
            page.click("form:has(input[name=code]) button[type=submit]")
        page.wait_for_load_state()
        yield page, server, blocked
        browser.close()


def _find(page, base: str) -> None:
    page.goto(f"{base}/copy-window")
    page.fill("#find-form input[name=department]", "心内科")
    page.click("#find-form button[type=submit]")
    page.wait_for_selector("#found")


def _red_mark_pixels(pdf: bytes) -> list[int]:
    """Per page: the strongly red pixels of the lower right quarter (the seal and 核对无误 line)."""
    counts = []
    for page in pypdfium2.PdfDocument(pdf):
        image = np.asarray(page.render(scale=0.5).to_pil().convert("RGB"), dtype=int)
        corner = image[image.shape[0] // 2:, image.shape[1] // 2:]
        counts.append(int(((corner[..., 0] > 150) & (corner[..., 1] < 90) & (corner[..., 2] < 90)).sum()))
    return counts


def test_a_clerk_serves_an_agent_end_to_end_and_sealed_and_unarchived_records_are_refused(
        clerk, reader, web_engine, world):
    page, base, blocked = clerk
    record_id = world.records["normal"].id
    _find(page, base)
    assert "病案已封存，一律不予复印" in page.inner_text("#found")
    page.check(f"input[name=record_ids][value='{record_id}']")
    page.select_option("#applicant-type", "agent")
    assert "授权委托书" in page.inner_text(".papers[data-type=agent]")
    page.click("#read-card")
    page.wait_for_selector("#card-status.good")
    assert page.input_value("#applicant-id") == AGENT["id_number"] and reader.reads == [base]
    page.fill("input[name=relation]", "儿子")
    page.select_option("#package", "reimbursement")
    page.fill("input[name=purpose]", "医保报销")
    page.screenshot(path=str(ARTIFACTS / "copy-01-window.png"))
    page.click("#apply")
    page.wait_for_url("**/copy-window/requests/*")
    assert page.inner_text("#fee-total") == "6.50"
    for paper in PAPERS:
        assert paper in page.inner_text("#missing-papers")
        page.select_option("#paper-form select[name=code]", label=paper)
        page.set_input_files("#paper-form input[name=file]",
                             files=[{"name": f"{paper}.jpg", "mimeType": "image/jpeg", "buffer": PHOTO}])
        page.click("#paper-form button[type=submit]")
        page.wait_for_load_state()
    assert page.inner_text("#missing-papers") == "材料齐全"
    page.screenshot(path=str(ARTIFACTS / "copy-02-request.png"))

    page.click("#pay-form button[type=submit]")
    page.wait_for_selector("#payment")
    page.click("#print-form button[type=submit]")
    page.wait_for_selector(".job-progress progress")
    worker = threading.Thread(target=run_queued_jobs, args=(web_engine,))
    worker.start()
    page.wait_for_selector("#print-copy", timeout=60_000)  # the page reloads once the job is done
    worker.join()
    assert page.inner_text("#copy-status") == "已打印"
    page.screenshot(path=str(ARTIFACTS / "copy-03-printed.png"))
    pdf = page.request.get(f"{base}{page.get_attribute('#printing', 'data-pdf')}")
    assert pdf.headers["content-type"] == "application/pdf"
    marks = _red_mark_pixels(pdf.body())
    assert len(marks) == 3 and min(marks) > 200  # the 入院记录 of 3 pages, every page marked

    with session_factory(web_engine)() as session, session.begin():
        lifecycle.move(session, lifecycle.SYSTEM, session.get(Record, record_id), "recalled", "召回修改")
    _find(page, base)
    assert "尚未归档，不予复印" in page.inner_text(f"#found tr[data-record='{record_id}']")
    page.check(f"input[name=record_ids][value='{record_id}']")
    page.fill("#applicant-name", AGENT["name"])
    page.fill("#applicant-id", AGENT["id_number"])
    page.click("#apply")
    page.wait_for_selector("#copy-error")
    assert "尚未归档，不予复印" in page.inner_text("#copy-error")
    page.screenshot(path=str(ARTIFACTS / "copy-04-refused.png"))
    assert blocked == []
