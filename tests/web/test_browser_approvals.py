"""An application through two steps in a real browser (Debian chromium, headless): the first step
approves, the second returns it to the applicant once, the resubmission comes straight back to the
second step, and every opinion is visible to the applicant and to both approvers. Screenshots in
tests/artifacts/; no page breaks the Content-Security-Policy."""
from __future__ import annotations

import pyotp
import pytest
from test_browser_daily_work import ARGS, ARTIFACTS, CHROMIUM, login, server  # noqa: F401
from web_helpers import TOTP_SECRET
from world import PASSWORD

from bingan.access.audit import Actor
from bingan.records.approvals import engine
from bingan.storage.db import session_factory
from bingan.storage.models import ApprovalFlow, Record, User

pytestmark = pytest.mark.browser
TWO_STEPS = [
    {"name": "质控审核", "mode": "any", "approvers": [{"kind": "role", "value": "qc"}], "hours": 24},
    {"name": "医务处审批", "mode": "any", "approvers": [{"kind": "role", "value": "medical_affairs"}], "hours": 24},
]
OPINIONS = ["病例讨论需要查阅", "资料齐全", "请写明讨论日期", "讨论日期为3月12日", "同意借阅"]


@pytest.fixture
def application(app, web_engine, world) -> int:
    with session_factory(web_engine)() as session, session.begin():
        session.add(ApprovalFlow(kind="borrow", name="两级借阅", position=1, match={}, steps=TWO_STEPS))
        session.flush()
        clinician = session.get(User, world.users["clinician"].id)
        record = session.get(Record, world.records["normal"].id)
        return engine.submit(session, Actor.of(clinician), clinician, "borrow", record, OPINIONS[0], {"days": 3}).id


@pytest.fixture
def people(server):  # noqa: F811
    """One browser, a separate context (cookie jar) per person."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    blocked: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)

        def person(username: str):
            context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
            page = context.new_page()
            page.on("console", lambda message: blocked.append(message.text)
                    if "Content Security Policy" in message.text else None)
            login(page, server, username, PASSWORD)
            page.wait_for_url(lambda url: url.endswith("/") or "/login/totp" in url)
            if "/login/totp" in page.url:
                page.fill("input[name=code]", pyotp.TOTP(TOTP_SECRET).now())
                page.click("form:has(input[name=code]) button[type=submit]")
            page.wait_for_load_state()
            assert page.url == f"{server}/", (username, page.url, page.inner_text("main"))
            return page
        yield person, server, blocked
        browser.close()


def _decide(page, base: str, approval: int, decision: str, opinion: str, to_step: str | None = None) -> None:
    page.goto(f"{base}/approvals/{approval}")
    page.fill("#decision textarea[name=opinion]", opinion)
    if to_step is not None:
        page.select_option("#decision select[name=to_step]", to_step)
    page.click(f"#decision button[value={decision}]")
    page.wait_for_selector("#opinions")


def _opinions(page, base: str, approval: int) -> list[str]:
    page.goto(f"{base}/approvals/{approval}")
    return [row.inner_text() for row in page.locator("#opinions tr td:nth-child(5)").all()]


def test_two_steps_one_return_and_every_opinion_seen_by_both_sides(people, application):
    person, base, blocked = people
    qc, affairs, clinician = person("u_qc"), person("u_medical_affairs"), person("u_clinician")

    qc.click("a[href='/approvals']")  # the menu's to-do link, with its count
    qc.click(f"#approvals a[href='/approvals/{application}']")
    qc.screenshot(path=str(ARTIFACTS / "approvals-01-todo-detail.png"))
    _decide(qc, base, application, "approve", OPINIONS[1])

    _decide(affairs, base, application, "return", OPINIONS[2], to_step="0")
    assert affairs.inner_text("#status") == "已退回申请人"

    clinician.goto(f"{base}/messages")
    assert "退回" in clinician.inner_text("#messages")
    clinician.goto(f"{base}/approvals/{application}")
    assert OPINIONS[2] in clinician.inner_text("#opinions")
    clinician.fill("#resubmit textarea[name=opinion]", OPINIONS[3])
    clinician.click("#resubmit button[type=submit]")
    clinician.wait_for_selector("#status:has-text('审批中')")
    # straight back to the step that returned it
    assert "第2步 医务处审批（或签，时限 24 小时）：审批中" in clinician.inner_text("#steps")

    _decide(affairs, base, application, "approve", OPINIONS[4])
    affairs.screenshot(path=str(ARTIFACTS / "approvals-02-approved.png"))

    for page in (clinician, qc, affairs):
        assert _opinions(page, base, application) == OPINIONS
        assert page.inner_text("#status") == "已通过"
    clinician.screenshot(path=str(ARTIFACTS / "approvals-03-applicant-sees-all.png"))
    assert blocked == []
