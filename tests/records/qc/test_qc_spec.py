"""Archive QC's specification on SQLite and PostgreSQL: take, comment, routed return, replies and
resubmission to the same reviewer, pass to archive, batch pass, the worklist's quick filters."""
from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from conftest import submitted_record

from bingan.access.audit import Actor
from bingan.access.policy import load_subject
from bingan.errors import Conflict, Refusal
from bingan.records import lifecycle
from bingan.records.qc import service, worklist
from bingan.storage.models import ApprovalFlow, AuditEvent, Document, Message
from bingan.storage.models.completeness import CheckRun
from bingan.storage.models.qc import QcComment, QcReview


def actor(user) -> Actor:
    return Actor.of(user, "10.0.0.8")


def _comment(session, world, record, kind="medical", text="入院记录主诉与现病史不符", page=2, who="qc"):
    user = world.users[who]
    document = session.scalars(sa.select(Document).where(Document.record_id == record.id)).first()
    found = service.comment(session, actor(user), user, record, document.id, page, kind, text)
    session.commit()
    return found


def _return(session, world, record, who="qc"):
    user = world.users[who]
    returned = service.return_record(session, actor(user), user, record)
    session.commit()
    return returned


def _check(session, record, errors=0):
    session.add(CheckRun(record_id=record.id, trigger="submit", passed=errors == 0, errors=errors))
    session.commit()


def _mine(session, world, who="qc") -> list[int]:
    subject = load_subject(session, world.users[who])
    found = worklist.worklist(session, subject, worklist.WorklistQuery(filter="mine", state="all"), date(2026, 12, 7))
    return [row.record.id for row in found.rows]


def _events(session, record) -> list[str]:
    return list(session.scalars(sa.select(AuditEvent.action).where(
        AuditEvent.record_id == record.id, AuditEvent.action.like("qc.%")).order_by(AuditEvent.id)))


def test_taking_a_submitted_record_moves_it_into_qc_and_onto_my_worklist(session, world, record):
    qc = world.users["qc"]
    review = service.take(session, actor(qc), qc, record)
    session.commit()
    assert record.status == "qc" and review.assigned_to_id == qc.id and review.flow_name == "默认流程"
    assert _mine(session, world) == [record.id] and _mine(session, world, "archivist") == []
    assert _events(session, record) == ["qc.take"]


def test_a_record_not_submitted_cannot_be_taken(session, world, record):
    lifecycle.move(session, lifecycle.SYSTEM, record, "qc")
    lifecycle.move(session, lifecycle.SYSTEM, record, "archived")
    with pytest.raises(Conflict, match="已归档"):
        service.take(session, actor(world.users["qc"]), world.users["qc"], record)


@pytest.mark.parametrize(("kind", "text", "page", "foreign", "refusal"), [
    ("legal", "写错了", 1, False, "意见类型应为"),
    ("medical", "  ", 1, False, "请填写质控意见"),
    ("medical", "第4页缺签名", 4, False, "第4页不存在（该文书共3页）"),
    ("medical", "第0页", 0, False, "第0页不存在"),
    ("nursing", "护理记录缺失", 1, True, "该文书不属于此病案"),
])
def test_a_bad_comment_is_refused_in_chinese_and_changes_nothing(session, world, record, kind, text, page,
                                                                  foreign, refusal):
    other = submitted_record(session, world, "0100002")
    owner = other if foreign else record
    document = session.scalars(sa.select(Document).where(Document.record_id == owner.id)).first()
    qc = world.users["qc"]
    with pytest.raises(Refusal, match=refusal):
        service.comment(session, actor(qc), qc, record, document.id, page, kind, text)
    session.rollback()
    assert record.status == "submitted"
    assert session.scalar(sa.select(sa.func.count()).select_from(QcComment)) == 0


def test_a_return_needs_at_least_one_open_comment(session, world, record):
    with pytest.raises(Refusal, match="至少填写一条质控意见"):
        _return(session, world, record)
    session.rollback()
    assert record.status == "submitted"


def test_a_medical_return_goes_to_the_doctors_and_the_head_of_department_with_a_message_each(session, world, record):
    _comment(session, world, record)
    returned = _return(session, world, record)
    owners = {owner.user.username: owner.kinds for owner in returned.owners}
    # 李主任 and 王医生 by the names on the record; the heads: who holds 审批 in cardiology (the test
    # hospital's 科主任 and its medical-affairs user are both filed in cardiology).
    assert owners == {"dr_li": ["medical"], "dr_wang": ["medical"], "u_dept_head": ["medical"],
                      "u_medical_affairs": ["medical"]}
    assert record.status == "returned"
    titles = session.scalars(sa.select(Message.title).where(Message.user_id == world.users["attending"].id)).all()
    assert titles == ["病案 0100001（周志强）被质控退回，请修改后重新提交"]
    assert session.scalar(sa.select(Message.id).where(Message.user_id == world.users["nurse"].id)) is None
    assert _events(session, record) == ["qc.take", "qc.comment", "qc.return"]


def test_a_nursing_comment_goes_to_the_wards_nurses_only(session, world, record):
    _comment(session, world, record, kind="nursing", text="体温单未签名", page=3)
    returned = _return(session, world, record)
    assert [(owner.user.username, owner.kinds) for owner in returned.owners] == [("u_nurse", ["nursing"])]


def test_the_owners_see_the_records_returned_to_them(session, world, record):
    _comment(session, world, record)
    _return(session, world, record)
    assert worklist.returned_count(session, world.users["attending"]) == 1
    assert worklist.returned_count(session, world.users["nurse"]) == 0
    assert session.scalars(worklist.returned_to(world.users["resident"])).all() == [record]


def test_a_resubmission_needs_a_reply_to_every_comment(session, world, record):
    first = _comment(session, world, record)
    _comment(session, world, record, text="出院记录缺主治医师签名", page=1)
    _return(session, world, record)
    doctor = world.users["attending"]
    with pytest.raises(Refusal, match="还有1条质控意见未填写整改说明"):
        service.resubmit(session, actor(doctor), doctor, record, [(first.id, "已按现病史修改主诉")])
    session.rollback()
    assert record.status == "returned" and session.get(QcComment, first.id).reply == ""


def test_a_reply_to_a_comment_of_another_return_is_refused(session, world, record):
    _comment(session, world, record)
    _return(session, world, record)
    doctor = world.users["attending"]
    with pytest.raises(Refusal, match="不属于此次退回"):
        service.resubmit(session, actor(doctor), doctor, record, [(999, "改了")])


def test_someone_the_record_was_not_returned_to_cannot_resubmit_it(session, world, record):
    _comment(session, world, record)
    _return(session, world, record)
    copy_clerk = world.users["copy_clerk"]
    with pytest.raises(Refusal, match="不是退回给您的"):
        service.resubmit(session, actor(copy_clerk), copy_clerk, record, [])


def test_the_resubmission_goes_straight_back_to_the_reviewer_who_returned_it(session, world, record):
    found = _comment(session, world, record, who="archivist")
    _return(session, world, record, who="archivist")
    doctor = world.users["resident"]
    service.resubmit(session, actor(doctor), doctor, record, [(found.id, "已修改主诉")])
    session.commit()
    assert record.status == "submitted"
    assert _mine(session, world, "archivist") == [record.id] and _mine(session, world, "qc") == []
    assert session.get(QcComment, found.id).reply == "已修改主诉"
    assert session.scalar(sa.select(Message.title).where(Message.user_id == world.users["archivist"].id)) == \
        "您退回的病案 0100001（周志强）已修改并重新提交"
    assert worklist.returned_count(session, doctor) == 0


def test_pass_archives_the_record_with_when_and_by_whom(session, world, record):
    _check(session, record)
    qc = world.users["qc"]
    passed = service.pass_record(session, actor(qc), qc, record)
    session.commit()
    assert passed.archived and record.status == "archived" and record.archived_at is not None
    assert passed.review.passed_by_id == qc.id and passed.review.status == "passed"
    status = session.scalars(sa.select(AuditEvent).where(AuditEvent.record_id == record.id,
                                                         AuditEvent.action == "status")
                             .order_by(AuditEvent.id.desc())).first()
    assert status.user_id == qc.id and status.detail["新状态"] == "已归档"


def test_pass_is_refused_while_the_self_check_has_errors_unless_a_reason_is_given(session, world, record):
    _check(session, record, errors=2)
    qc = world.users["qc"]
    with pytest.raises(Refusal, match="系统自检有2项错误"):
        service.pass_record(session, actor(qc), qc, record)
    session.rollback()
    assert record.status == "submitted"
    passed = service.pass_record(session, actor(qc), qc, record, "缺项已由科室书面说明，经科主任同意归档")
    session.commit()
    assert record.status == "archived" and passed.review.override_reason.startswith("缺项已由科室")


def test_pass_is_refused_while_comments_wait_to_be_sent(session, world, record):
    _comment(session, world, record)
    qc = world.users["qc"]
    with pytest.raises(Refusal, match="还有1条质控意见未退回"):
        service.pass_record(session, actor(qc), qc, record)


def test_batch_pass_archives_each_record_whose_self_check_passed_and_says_why_not_for_the_others(
        session, world, record):
    failing = submitted_record(session, world, "0100002")
    unchecked = submitted_record(session, world, "0100003")
    _check(session, record)
    _check(session, failing, errors=1)
    qc = world.users["qc"]
    results = service.batch_pass(session, actor(qc), qc, [record.id, failing.id, unchecked.id, 999999])
    session.commit()
    assert [(r["record_id"], r["ok"]) for r in results] == [
        (record.id, True), (failing.id, False), (unchecked.id, False), (999999, False)]
    assert [r["message"][:6] for r in results[1:]] == ["系统自检有1", "系统自检未通", "病案不存在"]
    assert (record.status, failing.status, unchecked.status) == ("archived", "submitted", "submitted")


def test_a_two_step_flow_passes_department_self_qc_before_the_record_room_archives(session, world, record):
    session.add(ApprovalFlow(kind="archive_qc", name="科室自查+病案室", position=1, match={}, steps=[
        {"name": "科室自查", "mode": "any", "approvers": [{"kind": "role", "value": "qc"}]},
        {"name": "病案室质控", "mode": "any", "approvers": [{"kind": "role", "value": "archivist"}]}]))
    session.commit()
    qc, archivist = world.users["qc"], world.users["archivist"]
    with pytest.raises(Refusal, match="当前质控步骤“科室自查”的审核人"):
        service.take(session, actor(archivist), archivist, record)
    session.rollback()
    first = service.pass_record(session, actor(qc), qc, record)
    session.commit()
    assert not first.archived and record.status == "qc" and service.step_name(first.review) == "病案室质控"
    assert service.pass_record(session, actor(archivist), archivist, record).archived


def test_a_recalled_record_is_resubmitted_without_replies(session, world, record):
    for status in ("qc", "archived", "recalled"):
        lifecycle.move(session, lifecycle.SYSTEM, record, status)
    doctor = world.users["attending"]
    assert service.resubmit(session, actor(doctor), doctor, record) is None
    assert record.status == "submitted"


@pytest.mark.parametrize(("name", "expected"), [
    ("", {"plain", "death", "transfused", "reworked"}),
    ("death", {"death"}),
    ("transfusion", {"transfused"}),
    ("reworked", {"reworked"}),
    ("overdue", {"plain", "transfused", "reworked"}),  # a death record has five working days: due 12-07
])
def test_the_quick_filters_pick_their_records(session, world, name, expected):
    from world import add_pdf_document

    records = {
        "plain": submitted_record(session, world, "0200001"),
        "death": submitted_record(session, world, "0200002", discharge_method="5"),
        "transfused": submitted_record(session, world, "0200003"),
        "reworked": submitted_record(session, world, "0200004"),
    }
    add_pdf_document(session, records["transfused"], "输血记录")
    _comment(session, world, records["reworked"])
    _return(session, world, records["reworked"])
    doctor = world.users["attending"]
    comment = session.scalars(sa.select(QcComment)).one()
    service.resubmit(session, actor(doctor), doctor, records["reworked"], [(comment.id, "已改")])
    session.commit()
    subject = load_subject(session, world.users["archivist"])
    found = worklist.worklist(session, subject, worklist.WorklistQuery(filter=name), date(2026, 12, 7))
    names = {label for label, record in records.items() if record.id in {row.record.id for row in found.rows}}
    assert names == expected and found.total == len(expected)


def test_a_row_counts_working_days_since_discharge_against_the_deadline(session, world, record):
    # Discharged Monday 2026-11-30 (local); due three working days later, Thursday 12-03.
    subject = load_subject(session, world.users["qc"])
    row = worklist.worklist(session, subject, worklist.WorklistQuery(), date(2026, 12, 7)).rows[0]
    assert (row.discharged, row.deadline, row.deadline_days) == (date(2026, 11, 30), date(2026, 12, 3), 3)
    assert row.working_days == 5 and row.overdue and row.returned_times == 0


def test_the_worklist_leaves_out_records_outside_my_departments(session, world):
    from bingan.storage.models import Record

    other = submitted_record(session, world, "0300001")
    other.discharge_department_id = other.admission_department_id = world.respiratory.id
    session.commit()
    nurse_scope = load_subject(session, world.users["attending"])  # cardiology only
    found = worklist.worklist(session, nurse_scope, worklist.WorklistQuery(), date(2026, 12, 7))
    assert other.id not in {row.record.id for row in found.rows}
    assert session.get(Record, other.id).status == "submitted"


def test_the_history_lists_returns_and_passes_with_who(session, world, record):
    _comment(session, world, record)
    _return(session, world, record)
    doctor = world.users["attending"]
    comment = session.scalars(sa.select(QcComment)).one()
    service.resubmit(session, actor(doctor), doctor, record, [(comment.id, "已改")])
    _check(session, record)
    qc = world.users["qc"]
    service.pass_record(session, actor(qc), qc, record)
    session.commit()
    rows = worklist.history(session, load_subject(session, qc), worklist.HistoryQuery(reviewer="u_qc"))
    assert [(r["record_number"], r["outcome_name"], r["returns"], r["comments"], r["passed_by"]) for r in rows] == [
        ("0100001", "已通过", 1, 1, "测试qc")]
    assert [event["what"] for event in worklist.history_of(session, record.id)] == [
        "comment", "return", "resubmit", "pass"]
    assert session.scalar(sa.select(QcReview.status)) == "passed"
