"""Submission for archiving (H2) on SQLite and PostgreSQL: what keeps a record out of QC, the
stored refusal, the EMR's completion event, re-checks after re-collection."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from completeness_support import CLERK, ORDINARY, add_document, make_record

from bingan.errors import Conflict
from bingan.records.completeness import checks, service
from bingan.storage.models import AuditEvent, CollectedItem, Source
from bingan.storage.models.completeness import CheckRun


def _events(session, record, action: str) -> list[tuple[str, dict]]:
    return [(e.result, e.detail) for e in session.scalars(
        sa.select(AuditEvent).where(AuditEvent.record_id == record.id, AuditEvent.action == action)
        .order_by(AuditEvent.id))]


def test_a_complete_record_moves_to_awaiting_qc_with_its_check_run(session):
    record = make_record(session)
    report = service.submit(session, CLERK, record)
    assert report.passed and record.status == "submitted" and record.submitted_at is not None
    assert [d["操作"] for _, d in _events(session, record, "status")][-1] == "提交归档"
    assert session.scalar(sa.select(CheckRun.trigger).where(CheckRun.record_id == record.id)) == "submit"


def test_a_record_with_error_findings_is_refused_naming_them_and_stays_awaiting(session):
    record = make_record(session, documents=tuple(d for d in ORDINARY if d != "出院记录"))
    with pytest.raises(service.SubmissionRefused) as refused:
        service.submit(session, CLERK, record)
    assert record.status == "awaiting"
    assert refused.value.message == "不能提交归档：系统自检发现 1 项问题：缺少出院记录"
    assert [f.message for f in refused.value.report.errors] == ["缺少出院记录"]
    assert _events(session, record, "submit") == [("refused", {"原因": "缺少出院记录"})]


def test_warnings_alone_do_not_keep_a_record_out(session):
    record = make_record(session)
    add_document(session, record, "入院记录", written=record.admitted_at.replace(year=2027))
    report = service.submit(session, CLERK, record)
    assert report.warnings and record.status == "submitted"


@pytest.mark.parametrize(("status", "message"), [
    ("collecting", "病案仍在采集中"),
    ("submitted", "病案当前状态为“待质控”，只有待提交的病案可以提交归档"),
])
def test_only_an_awaiting_record_can_be_submitted(session, status, message):
    record = make_record(session, status="collecting" if status == "collecting" else "awaiting")
    if status == "submitted":
        service.submit(session, CLERK, record)
    with pytest.raises(Conflict, match=message):
        service.submit(session, CLERK, record)


def test_the_emr_completion_closes_collection_and_submits_as_the_system(session):
    record = make_record(session, status="collecting")
    report = service.complete_from_emr(session, record)
    assert report.passed and record.status == "submitted"
    assert [d["操作"] for _, d in _events(session, record, "status")] == ["采集完成", "提交归档"]


def test_the_emr_completion_of_an_incomplete_record_leaves_it_awaiting_with_the_findings_stored(session):
    record = make_record(session, status="collecting", documents=ORDINARY[:-1])
    report = service.complete_from_emr(session, record)
    assert record.status == "awaiting" and not report.passed
    assert checks.latest_checks(session, record.id).findings == report.findings
    assert _events(session, record, "submit")[0][0] == "refused"


def test_the_emr_completion_while_documents_are_still_arriving_only_checks(session):
    record = make_record(session, status="collecting")
    source = Source(name="LIS", kind="lis")
    session.add(source)
    session.flush()
    session.add(CollectedItem(source_id=source.id, source_document_id="L1", record_number=record.record_number,
                              stay=1, state="pending", title="血常规"))
    session.flush()
    report = service.complete_from_emr(session, record)
    assert record.status == "collecting" and not report.passed


def test_a_new_version_of_a_submitted_record_runs_the_checks_again(session):
    record = make_record(session)
    service.submit(session, CLERK, record)
    add_document(session, record, "会诊记录")
    assert service.after_collection(session, record).passed
    assert session.scalars(sa.select(CheckRun.trigger).where(CheckRun.record_id == record.id)
                           .order_by(CheckRun.id)).all() == ["submit", "recollect"]


def test_content_arriving_while_a_record_is_still_collecting_is_not_checked_yet(session):
    record = make_record(session, status="collecting")
    assert service.after_collection(session, record) is None
