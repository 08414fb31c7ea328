"""A borrowing in a real browser (Debian chromium, headless): the cardiology clinician finds a
respiratory record through the borrowing search (identifying facts only) and applies; the head of
the respiratory department (科主任) returns it once with an opinion, the clinician resubmits, the
head and then 医务处 approve; the record opens with the borrowing panel, and once the grant's time
is past it is closed again. Screenshots in tests/artifacts/; no page breaks the CSP."""
from __future__ import annotations

import pytest
from test_browser_approvals import _decide, people  # noqa: F401
from test_browser_daily_work import ARTIFACTS, server  # noqa: F401
from web_helpers import TOTP_SECRET
from world import PASSWORD

from bingan.access.accounts import create_user
from bingan.storage.db import session_factory
from bingan.storage.models import Grant, utcnow
from bingan.storage.models.borrowing import Borrowing

pytestmark = pytest.mark.browser
REASON = "本科收治同一患者，需参考既往呼吸科诊治经过"


@pytest.fixture
def respiratory_head(web_engine, world) -> None:
    with session_factory(web_engine)() as session, session.begin():
        head = create_user(session, "u_head_resp", PASSWORD, ["dept_head"], full_name="呼吸内科主任",
                           department_code="0302", must_change_password=False)
        head.totp_secret = TOTP_SECRET  # approving is granting: a second factor


def _expire(web_engine, borrow_id: int) -> None:
    """The borrowing's days are over now (what the clock would do): after every view made so far."""
    with session_factory(web_engine)() as session, session.begin():
        grant = session.get(Grant, session.get(Borrowing, borrow_id).grant_id)
        grant.valid_until = utcnow()


def test_apply_return_resubmit_two_approvals_open_and_expire(people, respiratory_head, world, web_engine):  # noqa: F811
    person, base, blocked = people
    record = world.records["other_department"]
    clinician, head, affairs = person("u_clinician"), person("u_head_resp"), person("u_medical_affairs")

    assert clinician.goto(f"{base}/records/{record.id}").status == 403
    clinician.goto(f"{base}/borrowing/apply")
    clinician.fill("#borrow-search input[name=record_number]", record.record_number)
    clinician.click("#borrow-search button[type=submit]")
    found = clinician.inner_text("#borrow-candidates")
    assert record.patient.name[0] + "*" in found and record.patient.name not in found
    assert "呼吸内科" in found and "肺炎" not in found  # identifying facts, never a diagnosis
    clinician.check(f"#borrow-apply input[name=record_ids][value='{record.id}']")
    clinician.select_option("#borrow-apply select[name=purpose]", "临床诊疗参考")
    clinician.fill("#borrow-apply input[name=days]", "5")
    clinician.fill("#borrow-apply textarea[name=reason]", REASON)
    clinician.screenshot(path=str(ARTIFACTS / "borrowing-01-search-and-apply.png"))
    clinician.click("#borrow-apply button[type=submit]")
    clinician.wait_for_selector("#borrow-state")
    borrow_id = int(clinician.url.rsplit("/", 1)[1])
    assert clinician.inner_text("#borrow-state").startswith("审批中")

    _decide(head, base, borrow_id, "return", "请写明参考哪一次住院的哪些资料", to_step="0")
    clinician.goto(f"{base}/approvals/{borrow_id}")
    clinician.fill("#resubmit textarea[name=opinion]", "参考本次住院的出院记录和影像报告")
    clinician.click("#resubmit button[type=submit]")
    clinician.wait_for_selector("#status:has-text('审批中')")

    _decide(head, base, borrow_id, "approve", "同意借阅")
    _decide(affairs, base, borrow_id, "approve", "同意，借阅期间注意保密")
    assert affairs.inner_text("#status") == "已通过"
    affairs.screenshot(path=str(ARTIFACTS / "borrowing-02-approved.png"))

    clinician.goto(f"{base}/borrowing/{borrow_id}")
    assert clinician.inner_text("#borrow-state") == "借阅中"
    clinician.click("#open-record")
    clinician.wait_for_selector("section#borrowing-panel")
    assert f"借阅 {borrow_id}" in clinician.inner_text("#borrowing-panel")
    clinician.screenshot(path=str(ARTIFACTS / "borrowing-03-record-open-with-panel.png"))

    _expire(web_engine, borrow_id)
    assert clinician.goto(f"{base}/records/{record.id}").status == 403
    clinician.goto(f"{base}/borrowing/{borrow_id}")
    assert clinician.inner_text("#borrow-state") == "已到期"
    assert "查阅" in clinician.inner_text("#borrow-views")  # the views during it are tracked
    clinician.screenshot(path=str(ARTIFACTS / "borrowing-04-expired.png"))
    assert blocked == []
