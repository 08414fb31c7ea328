"""Recall (召回) on a real database: applying, the printed-copies warning, approval freezing the
archived state, the integration status, resubmission closing the recall, and the timed jobs."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from recall_support import actor, apply, recalled
from world import add_pdf_document

from bingan.access.audit import record_event
from bingan.errors import Conflict, Refusal
from bingan.ingest.recollect import recollect_due
from bingan.records import lifecycle
from bingan.records.approvals import engine
from bingan.records.prints import printed_copies
from bingan.records.recall import scheduled, service
from bingan.storage.models import AuditEvent, Message, Source, Version, utcnow
from bingan.storage.models.recall import RecallBackup, RecollectionRequest, SourceNotice


def test_an_application_runs_through_head_of_department_then_the_record_room(session, world):
    request = apply(session, world)
    assert request.kind == "recall" and request.status == "pending"
    assert [step["name"] for step in request.steps] == ["科室审核", "病案室审批"]
    assert request.payload["deadline_days"] == 5 and request.payload["printed_copies"] == []


@pytest.mark.parametrize(("days", "message"), [(0, "1–30"), (31, "1–30"), (True, "1–30")])
def test_a_deadline_outside_one_to_thirty_days_is_refused(session, world, days, message):
    with pytest.raises(Refusal, match=message):
        apply(session, world, days=days)


def test_documents_of_another_record_are_refused(session, world):
    other = world.records["other_department"]
    stranger = add_pdf_document(session, other, "入院记录")
    with pytest.raises(Refusal, match=f"文书 {stranger.id} 不属于该病案"):
        apply(session, world, document_ids=[world.documents["normal"][0].id, stranger.id])


def test_chosen_documents_are_kept_with_their_titles(session, world):
    chosen = world.documents["normal"][1]
    request = apply(session, world, document_ids=[chosen.id, chosen.id])
    assert request.payload["document_ids"] == [chosen.id]
    assert request.payload["documents"] == ["出院记录"]


def test_only_an_archived_record_is_recalled(session, world):
    record = world.records["normal"]
    lifecycle.move(session, lifecycle.SYSTEM, record, "recalled", "测试")
    with pytest.raises(Conflict, match="只有已归档的病案可以召回，该病案当前为“召回中”"):
        apply(session, world)


def test_a_record_under_legal_hold_is_not_recalled(session, world):
    lifecycle.place_legal_hold(session, lifecycle.SYSTEM, world.records["normal"], "诉讼")
    with pytest.raises(Conflict, match="法律保全"):
        apply(session, world)


def test_a_second_application_while_one_is_open_is_refused(session, world):
    first = apply(session, world)
    archivist = world.users["archivist"]
    with pytest.raises(Conflict, match=f"已有召回申请在审批中（编号 {first.id}）"):
        service.apply(session, actor(archivist), archivist, world.records["normal"], "补充签名", 3)


def test_printed_copies_come_from_print_export_and_download_events(session, world):
    record, document = world.records["normal"], world.documents["normal"][0]
    copy_clerk = actor(world.users["copy_clerk"])
    record_event(session, copy_clerk, "print", object_type="document", record_id=record.id, document_id=document.id,
                 page=2, detail={"版本": 1, "为谁": "患者本人"})
    record_event(session, copy_clerk, "download", object_type="document", record_id=record.id,
                 document_id=document.id, result="denied")
    copies = printed_copies(session, record.id)
    assert [(c.kind, c.by, c.for_whom, c.document, c.pages, c.version) for c in copies] == [
        ("打印", "u_copy_clerk", "患者本人", "入院记录", "第2页", 1)]


def test_the_warning_lists_the_printed_copies_for_every_reviewer(session, world):
    record = world.records["normal"]
    record_event(session, actor(world.users["copy_clerk"]), "print", object_type="record", record_id=record.id,
                 detail={"为谁": "保险公司"})
    request = apply(session, world)
    [warning] = request.payload["printed_copies"]
    assert warning["kind"] == "打印" and warning["for_whom"] == "保险公司" and warning["pages"] == "全部"
    assert warning["at"].endswith("+08:00")


def test_approval_pins_every_current_version_and_moves_the_record_to_recalled(session, world):
    record = world.records["normal"]
    recall = recalled(session, world, document_ids=[world.documents["normal"][0].id])
    assert record.status == "recalled" and not lifecycle.content_frozen(record)
    pinned = session.execute(sa.select(RecallBackup.document_id, RecallBackup.version_id)
                             .where(RecallBackup.recall_id == recall.id).order_by(RecallBackup.document_id)).all()
    assert pinned == [(d.id, d.current_version_id) for d in world.documents["normal"]]
    assert recall.state == "recalled" and recall.deadline_days == 5


def test_the_deadline_is_the_end_of_the_hospitals_day(session, world):
    recall = recalled(session, world, days=3)
    assert (service.last_day(recall) - service.clock.local_date(recall.recalled_at)).days == 3
    assert service.clock.local(recall.deadline).hour == 0


def test_approval_tells_the_doctors_and_each_source_system(session, world):
    world.users["clinician"].full_name = "李主任"  # the record's attending doctor
    recall = recalled(session, world)
    titles = session.scalars(sa.select(Message.title).where(Message.user_id == world.users["clinician"].id)).all()
    assert any("已召回" in title for title in titles)
    notice = session.scalars(sa.select(SourceNotice).where(SourceNotice.record_id == recall.record_id)).one()
    assert notice.source_name == "EMR" and notice.event == "recalled"
    assert notice.payload["status"] == "recalled" and notice.payload["recall"]["id"] == recall.id


def test_approval_asks_for_re_collection_on_the_configured_period(session, world):
    recall = recalled(session, world)
    request = session.scalars(sa.select(RecollectionRequest).where(RecollectionRequest.recall_id == recall.id)).one()
    assert request.every_minutes == 30 and request.closed_at is None


def test_the_approval_and_the_recall_are_audited(session, world):
    recall = recalled(session, world)
    actions = session.scalars(sa.select(AuditEvent.action).where(AuditEvent.record_id == recall.record_id)).all()
    assert "recall" in actions and "status" in actions and "approval.approve" in actions


def test_a_record_sealed_meanwhile_cancels_the_application(session, world):
    request = apply(session, world)
    lifecycle.seal(session, lifecycle.SYSTEM, world.records["normal"], "医疗纠纷")
    assert request.status == "cancelled"


def test_a_legal_hold_placed_meanwhile_refuses_the_last_approval(session, world):
    request = apply(session, world)
    head = world.users["medical_affairs"]
    engine.decide(session, actor(head), head, request.id, "approve", "同意")
    lifecycle.place_legal_hold(session, lifecycle.SYSTEM, world.records["normal"], "诉讼")
    archivist = world.users["archivist"]
    with pytest.raises(Conflict, match="不能召回"):
        engine.decide(session, actor(archivist), archivist, request.id, "approve", "")


def test_the_status_tells_the_emr_state_holds_recall_and_prints(session, world):
    record = world.records["normal"]
    assert service.record_status(session, record) == {
        "record_id": record.id, "record_number": record.record_number, "stay": 1, "status": "archived",
        "status_name": "已归档", "sealed": False, "legal_hold": False, "recall": None, "printed": False, "prints": 0}
    recall = recalled(session, world)
    status = service.record_status(session, record)
    assert status["status"] == "recalled" and status["status_name"] == "召回中"
    assert status["recall"]["id"] == recall.id and status["recall"]["reason"] == "出院诊断漏填并发症"


def test_resubmission_closes_the_recall_and_its_re_collection(session, world):
    record = world.records["normal"]
    recall = recalled(session, world)
    lifecycle.move(session, lifecycle.SYSTEM, record, "submitted", "召回修改完成")
    session.flush()
    assert recall.state == "resubmitted" and recall.resubmitted_at is not None
    assert session.scalars(sa.select(RecollectionRequest.closed_at)).one() is not None
    assert service.record_status(session, record)["recall"] is None
    events = session.scalars(sa.select(SourceNotice.event).order_by(SourceNotice.id)).all()
    assert events == ["recalled", "resubmitted"]


def test_a_reminder_goes_out_once_two_days_before_the_deadline(session, world):
    recall = recalled(session, world, days=5)
    assert scheduled.remind_before_deadline(session, utcnow()) == 0
    late = recall.deadline - timedelta(days=1)
    assert scheduled.remind_before_deadline(session, late) == 1
    assert scheduled.remind_before_deadline(session, late) == 0
    titles = session.scalars(sa.select(Message.title).where(Message.user_id == recall.applicant_id)).all()
    assert any("到期" in title for title in titles)


def test_an_unresubmitted_recall_is_marked_overdue_and_the_record_room_told(session, world):
    recall = recalled(session, world, days=1)
    assert scheduled.mark_overdue(session, recall.deadline + timedelta(minutes=1)) == 1
    assert recall.overdue_at is not None
    titles = session.scalars(sa.select(Message.title).where(Message.user_id == world.users["archivist"].id)).all()
    assert any("已逾期" in title for title in titles)
    assert service.record_status(session, world.records["normal"])["recall"]["overdue"] is True


def test_re_collection_makes_the_records_pull_sources_due_on_its_period(session, world):
    emr = Source(name="EMR", title="电子病历", transport="http_pull", endpoint="http://emr.invalid",
                 next_run_at=utcnow() + timedelta(days=1))
    push = Source(name="PACS", transport="http_push")
    session.add_all([emr, push])
    recall = recalled(session, world)
    now = utcnow() + timedelta(seconds=1)
    assert recollect_due(session, now) == 1
    session.refresh(emr)
    assert emr.next_run_at.replace(tzinfo=None) == now.replace(tzinfo=None)
    assert recollect_due(session, now + timedelta(minutes=10)) == 0  # not before the period
    assert recollect_due(session, now + timedelta(minutes=31)) == 1
    assert recall.state == "recalled"


def test_versions_arriving_while_recalled_leave_the_pinned_backup_unchanged(session, world):
    recall = recalled(session, world)
    document = world.documents["normal"][0]
    pinned_version = document.current_version
    newer = Version(document=document, number=2, sha256=pinned_version.sha256, size=1, page_count=3)
    session.add(newer)
    session.flush()
    document.current_version = newer
    session.flush()
    [backup, _] = service.backups_of(session, recall)
    assert backup.pinned.id == pinned_version.id and backup.current.id == newer.id and backup.changed
