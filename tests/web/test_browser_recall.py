"""A recall in a real browser (Debian chromium, headless): the record's doctor applies with the
"already printed" warning in sight, the head of department and the record room approve (both see
the warning), the pinned pre-recall version (召回前版本) opens in the viewer, a correction made in
the EMR peer is re-collected by the tick's re-collection, the resubmission returns the record to
待质控 and closes the recall. Screenshots in tests/artifacts/; no page breaks the CSP."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from test_browser_approvals import _decide, people  # noqa: F401
from test_browser_daily_work import ARTIFACTS, server  # noqa: F401

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/peers as the "peers" package
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ingest"))

from ingest_support import pdf
from peers.emr import EmrState, make_app
from peers.loopback import Served

from bingan.access.audit import Actor, record_event
from bingan.config import get_settings
from bingan.formats import guard
from bingan.ingest.pipeline import Pipeline, run_until_settled
from bingan.ingest.recollect import recollect_due
from bingan.ingest.runs import run_source
from bingan.ingest.scheduler import due_sources
from bingan.records import lifecycle
from bingan.storage.db import session_factory
from bingan.storage.models import CollectedItem, Document, Record, Source, SourceMapping, utcnow

pytestmark = pytest.mark.browser


@pytest.fixture
def printed(web_engine, world) -> None:
    """The copy room printed the admission record's first page for the patient last month."""
    with session_factory(web_engine)() as session, session.begin():
        record_event(session, Actor(world.users["copy_clerk"].id, "u_copy_clerk"), "print", object_type="document",
                     record_id=world.records["normal"].id, document_id=world.documents["normal"][0].id, page=1,
                     detail={"版本": 1, "为谁": "患者本人（复印）"})


def _recollect(web_engine, world, emr: EmrState, url: str) -> None:
    """The EMR holds the admission record the archive collected; the doctor corrects it there and
    the tick's re-collection brings it in through the source's ordinary run."""
    number, document = world.records["normal"].record_number, world.documents["normal"][0]
    with session_factory(web_engine)() as session, session.begin():
        source = Source(name="EMR", kind="emr", transport="http_pull", endpoint=url, interval_minutes=1440,
                        cursor="1")
        session.add(source)
        session.flush()
        session.add(SourceMapping(source_id=source.id, source_code="RY01",
                                  document_type_id=session.get(Document, document.id).document_type_id))
    emr.put(document.source_document_id, b"", record_number=number, stay=1, type="RY01", title="入院记录")
    emr.put(document.source_document_id, pdf([["入院记录（召回修改稿）", "补充诊断：2型糖尿病。"]]))
    pipe = Pipeline(settings=get_settings(), engine=web_engine)
    try:
        now = utcnow()
        with pipe.tx() as session:
            assert recollect_due(session, now) == 1
        [source_id] = due_sources(pipe, now)
        assert run_source(pipe, source_id) == 1
        with pipe.tx() as session:
            ids = list(session.scalars(sa.select(CollectedItem.id)))
        assert set(run_until_settled(pipe, ids, timeout=60).values()) == {"indexed"}
    finally:
        pipe.close()
        guard.close_shared_pool()


def test_recall_with_printed_warning_backup_recollection_and_resubmission(people, printed, world, web_engine):  # noqa: F811
    person, base, blocked = people
    record_id, document_id = world.records["normal"].id, world.documents["normal"][0].id
    clinician, head, archivist = person("u_clinician"), person("u_medical_affairs"), person("u_archivist")

    clinician.goto(f"{base}/records/{record_id}")
    clinician.click("#recall-link a")
    assert "患者本人（复印）" in clinician.inner_text("#printed-warning")
    clinician.fill("#recall-form textarea[name=reason]", "出院诊断漏填2型糖尿病，需补充修改")
    clinician.fill("#recall-form input[name=deadline_days]", "5")
    clinician.check(f"#recall-form input[name=document_ids][value='{document_id}']")
    clinician.screenshot(path=str(ARTIFACTS / "recall-01-apply-with-printed-warning.png"))
    clinician.click("#recall-form button[type=submit]")
    clinician.wait_for_selector("#status:has-text('审批中')")
    approval = int(clinician.url.rsplit("/", 1)[1])

    for reviewer in (head, archivist):
        reviewer.goto(f"{base}/approvals/{approval}")
        assert "患者本人（复印）" in reviewer.inner_text("#printed-warning")
        _decide(reviewer, base, approval, "approve", "同意召回")
    archivist.screenshot(path=str(ARTIFACTS / "recall-02-approved.png"))
    assert archivist.inner_text("#status") == "已通过"

    clinician.goto(f"{base}/records/{record_id}/recall")
    assert clinician.inner_text("#recall-record-status") == "召回中"
    clinician.click(f"#recalls a.pinned[href^='/documents/{document_id}/']")
    clinician.wait_for_selector("img")
    clinician.screenshot(path=str(ARTIFACTS / "recall-03-pinned-version.png"))

    emr = EmrState()
    with Served(make_app(emr)) as url:
        _recollect(web_engine, world, emr, url)
    clinician.goto(f"{base}/records/{record_id}/recall")
    assert "已修改" in clinician.inner_text("#recalls")
    assert clinician.locator("#recalls a.compare").count() == 1
    clinician.screenshot(path=str(ARTIFACTS / "recall-04-corrected.png"))

    # Resubmission belongs to archive QC (POST /records/{id}/resubmit); its move is the life cycle's.
    with session_factory(web_engine)() as session, session.begin():
        lifecycle.move(session, Actor(world.users["clinician"].id, "u_clinician"),
                       session.get(Record, record_id), "submitted", "召回修改完成")
    clinician.goto(f"{base}/records/{record_id}/recall")
    assert clinician.inner_text("#recall-record-status") == "待质控"
    assert "已重新提交" in clinician.inner_text("#recalls")
    assert blocked == []
