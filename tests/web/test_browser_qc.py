"""Archive QC in a real browser (Debian chromium, headless): a submitted record is taken into QC,
gets one medical comment on a page and is returned; its attending doctor finds it under 退回给我的
病案, writes what was fixed and resubmits; it comes straight back to the same reviewer's list
("mine"), who passes it and the record is archived. Screenshots in tests/artifacts/; no page breaks
the Content-Security-Policy."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from test_browser_approvals import people  # noqa: F401
from test_browser_daily_work import ARTIFACTS, server  # noqa: F401
from test_qc_api import qc_record  # noqa: F401

from bingan.storage.db import session_factory
from bingan.storage.models import Record
from bingan.storage.models.qc import QcComment

pytestmark = pytest.mark.browser
COMMENT, FIX = "主诉与现病史不符，请核对", "已按现病史修改主诉"


def test_a_record_goes_from_submitted_to_archived_with_one_medical_return(people, qc_record, web_engine):  # noqa: F811
    person, base, blocked = people
    record, document = qc_record["record"], qc_record["document"]
    qc, doctor = person("u_qc"), person("dr_li")

    qc.goto(f"{base}/qc")
    qc.screenshot(path=str(ARTIFACTS / "qc-01-worklist.png"))
    qc.click(f"#qc-worklist a[href='/qc/{record}']")
    qc.click("#qc-take")
    qc.wait_for_selector("#qc-status:has-text('质控中')")
    qc.click(f"#qc-documents a[href='/qc/{record}?doc={document}&page=1']")
    qc.click("#qc-next")
    qc.wait_for_selector("#qc-page-indicator:has-text('第 2 / 3 页')")
    qc.select_option("#qc-comment-kind", "medical")
    qc.fill("#qc-comment-text", COMMENT)
    qc.click("#qc-comment-add")
    qc.wait_for_selector(f"#qc-comments:has-text('{COMMENT}')")
    qc.wait_for_function("() => document.getElementById('qc-page-image').naturalWidth > 0")  # the page itself
    qc.screenshot(path=str(ARTIFACTS / "qc-02-screen-with-comment.png"), full_page=True)
    qc.click("#qc-return")
    qc.wait_for_url(f"{base}/qc")

    doctor.goto(f"{base}/")
    assert "0100001" in doctor.inner_text("#todo-returned")
    doctor.goto(f"{base}/qc/returned")
    doctor.click(f"#qc-returned a[href='/qc/returned/{record}']")
    assert COMMENT in doctor.inner_text("#qc-reply")
    comment = doctor.locator("#qc-reply textarea").first
    comment.fill(FIX)
    doctor.screenshot(path=str(ARTIFACTS / "qc-03-owner-reply.png"), full_page=True)
    doctor.click("#qc-resubmit")
    doctor.wait_for_url(f"{base}/records/{record}")

    qc.goto(f"{base}/qc?filter=mine")  # the resubmission is back on the same reviewer's list
    assert "0100001" in qc.inner_text("#qc-worklist")
    qc.click(f"#qc-worklist a[href='/qc/{record}']")
    assert FIX in qc.inner_text("#qc-comments")
    qc.click("#qc-take")
    qc.wait_for_selector("#qc-status:has-text('质控中')")
    qc.click("#qc-pass")
    qc.wait_for_url(f"{base}/qc")
    qc.goto(f"{base}/qc/{record}")
    assert qc.inner_text("#qc-status") == "已归档"
    qc.screenshot(path=str(ARTIFACTS / "qc-04-archived.png"), full_page=True)
    with session_factory(web_engine)() as session:
        archived = session.get(Record, record)
        assert archived.status == "archived" and archived.archived_at is not None
        assert session.scalar(sa.select(QcComment.reply)) == FIX
    assert blocked == []
