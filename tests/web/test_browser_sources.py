"""A new source set up and run entirely from the browser (Debian chromium, headless): the system
administrator creates an HTTP pull source against the EMR peer, tests the connection, presses
立即采集, sees the documents collected, maps the one code the source used that we did not know and
sees its document collected too. The worker's part is played by the test (one run, the pipeline
until settled). Screenshots in tests/artifacts/; no page breaks the CSP."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from test_browser_approvals import people  # noqa: F401
from test_browser_daily_work import ARTIFACTS, server  # noqa: F401

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/peers as the "peers" package
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ingest"))

from ingest_support import pdf
from peers.emr import EmrState, make_app
from peers.loopback import Served

from bingan.config import get_settings
from bingan.formats import guard
from bingan.ingest.pipeline import Pipeline, run_until_settled
from bingan.ingest.runs import run_source
from bingan.ingest.scheduler import due_sources
from bingan.storage.db import session_factory
from bingan.storage.models import CollectedItem, Patient, Record

pytestmark = pytest.mark.browser


@pytest.fixture
def emr(web_engine):
    """The EMR holds two documents of a stay still being collected; one has a code only it uses."""
    with session_factory(web_engine)() as session, session.begin():
        patient = Patient(record_number="0099003", name="周敏", sex="F")
        session.add_all([patient, Record(patient=patient, record_number="0099003", stay_number=1)])
    state = EmrState()
    state.put("EMR-1", pdf([["入院记录", "主诉：发热3天。"]]), record_number="0099003", stay=1, type="C0201",
              title="入院记录")
    state.put("EMR-2", pdf([["日常病程记录", "患者体温下降。"]]), record_number="0099003", stay=1, type="BL99",
              title="日常病程记录")
    with Served(make_app(state)) as url:
        yield url


def _work(web_engine) -> None:
    """What the worker does after 立即采集: run the due source, then every item until settled."""
    pipe = Pipeline(settings=get_settings(), engine=web_engine)
    try:
        for source_id in due_sources(pipe):
            run_source(pipe, source_id)
        with pipe.tx() as session:
            ids = list(session.scalars(sa.select(CollectedItem.id).where(CollectedItem.state != "failed")))
        run_until_settled(pipe, ids, timeout=60)
    finally:
        pipe.close()
        guard.close_shared_pool()


def test_a_new_source_is_set_up_tested_run_and_mapped_from_the_browser(people, emr, web_engine):  # noqa: F811
    person, base, blocked = people
    admin = person("u_sysadmin")
    admin.goto(f"{base}/admin/sources")
    admin.click("#new-source")
    admin.fill("#source-form input[name=name]", "emr")
    admin.fill("#source-form input[name=title]", "电子病历系统")
    admin.select_option("#source-form select[name=kind]", "emr")
    admin.select_option("#source-form select[name=transport]", "http_pull")
    admin.fill("#source-form input[name=endpoint]", emr)
    admin.fill("#source-form textarea[name=periods]", "每天 00:00-24:00")
    admin.fill("#source-form input[name=token]", "emr-t0ken")
    admin.screenshot(path=str(ARTIFACTS / "sources-01-new.png"), full_page=True)
    admin.click("#source-form button[type=submit]")
    admin.wait_for_selector("text=采集源已创建")

    admin.click("#test-form button")
    admin.wait_for_selector("#probe-result")
    assert admin.inner_text("#probe-result") == "连接成功：文书变更列表接口应答正常（HTTP 200）"
    admin.click("#run-form button")
    admin.wait_for_selector("text=已安排立即采集")
    admin.screenshot(path=str(ARTIFACTS / "sources-02-tested-and-run.png"))

    _work(web_engine)
    admin.reload()
    assert admin.inner_text("#item-counts [data-state=indexed]") == "1"
    assert admin.inner_text("#item-counts [data-state=failed]") == "1"
    assert "完成" in admin.inner_text("#runs")
    assert "BL99" in admin.inner_text("#unmapped")

    admin.select_option("#unmapped select[name=document_type_id]", label="C0302 日常病程记录")
    admin.click("#unmapped button[type=submit]")
    admin.wait_for_selector("text=1 个因此失败的采集项已重新排队")
    _work(web_engine)
    admin.reload()
    assert admin.inner_text("#item-counts [data-state=indexed]") == "2"
    assert admin.locator("#unmapped").count() == 0
    assert "BL99" in admin.inner_text("#mapping-list")
    admin.screenshot(path=str(ARTIFACTS / "sources-03-collected-and-mapped.png"), full_page=True)
    assert blocked == []
