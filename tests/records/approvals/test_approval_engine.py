"""The approval engine's specification, on SQLite and PostgreSQL: one behaviour per test, real
users of the test hospital, the gate and the audit chain as they are."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from approval_support import actor
from world import PASSWORD

from bingan.access.accounts import create_user
from bingan.errors import Conflict, Refusal
from bingan.records import lifecycle
from bingan.records.approvals import engine, inbox
from bingan.records.approvals.flows import flow_matches, format_steps, parse_steps
from bingan.records.approvals.scheduled import remind_and_escalate
from bingan.storage.models import (
    ApprovalFlow,
    ApprovalRequest,
    ApprovalTask,
    AuditEvent,
    Campus,
    Grant,
    Message,
    Record,
    Tag,
    utcnow,
)


def _submit(session, world, kind: str = "test", state: str = "normal", applicant: str = "clinician",
            payload: dict | None = None) -> ApprovalRequest:
    user = world.users[applicant]
    request = engine.submit(session, actor(user), user, kind, world.records[state], "科研需要查阅", payload)
    session.commit()
    return request


def _decide(session, world, role: str, request: ApprovalRequest, decision: str = "approve", opinion: str = "同意",
            to_step: int | None = None) -> ApprovalRequest:
    user = world.users[role]
    engine.decide(session, actor(user), user, request.id, decision, opinion, to_step)
    session.commit()
    return request


def _events(session, request: ApprovalRequest) -> list[str]:
    return list(session.scalars(sa.select(AuditEvent.action).where(
        AuditEvent.object_type == "approval", AuditEvent.object_id == str(request.id)).order_by(AuditEvent.id)))


# --- invariants -----------------------------------------------------------------------------

@pytest.mark.parametrize(("who", "decision", "opinion", "refusal"), [
    ("clinician", "approve", "", "不能审批自己的申请"),
    ("medical_affairs", "approve", "", "您不是该申请当前步骤的审批人"),  # step 2's approver at step 1
    ("archivist", "approve", "", "您不是该申请当前步骤的审批人"),
    ("qc", "reject", "", "驳回或退回时请填写意见"),
    ("qc", "return", " ", "驳回或退回时请填写意见"),
    ("qc", "maybe", "再说", "审批结论应为"),
])
def test_a_decision_is_refused_to_whoever_may_not_make_it(session, world, who, decision, opinion, refusal):
    request = _submit(session, world)
    with pytest.raises(Refusal, match=refusal):
        _decide(session, world, who, request, decision, opinion)
    session.rollback()
    assert request.status == "pending" and request.current_step == 0


def test_nobody_approves_their_own_request_even_when_the_flow_names_them(session, world):
    flow = session.scalars(sa.select(ApprovalFlow).where(ApprovalFlow.kind == "test")).one()
    flow.steps = [{"name": "本人", "mode": "any", "approvers": [{"kind": "user", "value": "u_qc"},
                                                            {"kind": "role", "value": "medical_affairs"}]}]
    session.commit()
    request = _submit(session, world, applicant="qc")
    assert [view.approvers for view in inbox.request_view(session, world.users["qc"], request.id).steps] == [
        [world.users["medical_affairs"].full_name]]
    with pytest.raises(Refusal, match="不能审批自己的申请"):
        _decide(session, world, "qc", request)


def test_an_approver_who_lost_scope_over_the_record_is_refused_by_the_gate(session, world):
    flow = session.scalars(sa.select(ApprovalFlow).where(ApprovalFlow.kind == "test")).one()
    flow.steps = [{"name": "经治医师", "mode": "any", "approvers": [{"kind": "user", "value": "u_nurse"}]}]
    session.commit()
    request = _submit(session, world)
    restricted = session.scalars(sa.select(Tag).where(Tag.name == "VIP")).one()
    world.records["normal"].tags.append(restricted)  # the record became restricted meanwhile
    session.commit()
    with pytest.raises(Refusal, match="您不能审批：病案带有受限标签“VIP”"):
        _decide(session, world, "nurse", request)


def test_a_flow_whose_approvers_cannot_see_the_record_is_refused_at_submission(session, world):
    flow = session.scalars(sa.select(ApprovalFlow).where(ApprovalFlow.kind == "test")).one()
    flow.steps = [{"name": "护士", "mode": "any", "approvers": [{"kind": "role", "value": "nurse"}]}]
    session.commit()
    with pytest.raises(Refusal, match="没有可用的审批人"):
        _submit(session, world, state="other_department")
    session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(ApprovalRequest)) == 0


def test_every_action_writes_an_audit_event_in_its_transaction(session, world):
    request = _submit(session, world)
    _decide(session, world, "qc", request, "return", "请补充科研立项材料", to_step=0)
    user = world.users["clinician"]
    engine.resubmit(session, actor(user), user, request.id, "已补充")
    session.commit()
    _decide(session, world, "qc", request)
    user = world.users["medical_affairs"]
    engine.decide(session, actor(user), user, request.id, "reject", "不符合借阅规定")
    session.rollback()  # the transaction fails after the decision: neither it nor its event stays
    assert _events(session, request) == ["approval.submit", "approval.return", "approval.resubmit", "approval.approve"]
    assert request.status == "pending"


def test_the_kinds_on_approved_hook_runs_in_the_transaction_of_the_last_approval(session, world):
    request = _submit(session, world)
    _decide(session, world, "qc", request)
    assert request.status == "pending" and not request.record.tags
    _decide(session, world, "medical_affairs", request)
    assert request.status == "approved"
    assert [tag.name for tag in request.record.tags] == [f"已批准{request.id}"]


def test_a_rejection_runs_the_kinds_on_rejected_hook_and_tells_the_applicant(session, world):
    request = _submit(session, world)
    _decide(session, world, "qc", request, "reject", "理由不充分")
    assert request.status == "rejected" and request.payload["rejected_hook"] is True
    titles = session.scalars(sa.select(Message.title).where(Message.user_id == world.users["clinician"].id))
    assert list(titles) == ["您的测试申请申请已驳回"]


def test_each_approver_of_a_step_is_told_a_request_waits_for_them(session, world):
    request = _submit(session, world)
    told = {user_id: (title, link) for user_id, title, link in session.execute(
        sa.select(Message.user_id, Message.title, Message.link).where(Message.kind == "approval"))}
    approvers = set(session.scalars(sa.select(ApprovalTask.user_id).where(ApprovalTask.request_id == request.id)))
    assert set(told) == approvers and world.users["clinician"].id not in told
    assert told[world.users["qc"].id] == (f"待审批：测试clinician的测试申请申请（病案 {request.record.record_number}）",
                                          f"/approvals/{request.id}")


def test_an_approved_borrowing_is_a_grant_exactly_when_the_request_says_approved(session, world):
    head = create_user(session, "u_head_resp", PASSWORD, ["medical_affairs"], full_name="呼吸内科主任",
                       department_code="0302", must_change_password=False)  # holds 审批 in the record's ward
    session.commit()
    request = _submit(session, world, kind="borrow", state="other_department", payload={"days": 5})
    clinician = world.users["clinician"]
    grants = sa.select(Grant).where(Grant.user_id == clinician.id, Grant.record_id == request.record_id)
    assert request.steps[0]["name"] == "科室审核"  # the shipped default flow: the department's head first
    engine.decide(session, actor(head), head, request.id, "approve", "同意")
    session.commit()
    assert session.scalars(grants).first() is None
    _decide(session, world, "medical_affairs", request)
    grant = session.scalars(grants).one()
    assert request.status == "approved" and grant.source == "borrowing" and grant.actions == ["view"]


def test_a_request_on_a_record_sealed_meanwhile_is_cancelled_with_a_reason(session, world):
    request = _submit(session, world)
    record = session.get(Record, request.record_id)
    record.sealed = True
    session.commit()
    assert request.status == "cancelled" and request.outcome_note == "病案已封存，申请自动取消"
    assert inbox.todo_count(session, world.users["qc"]) == 0
    assert "approval.cancel" in _events(session, request)


def test_sealing_through_the_record_life_cycle_cancels_open_requests(session, world):
    request = _submit(session, world)
    archivist = world.users["archivist"]
    lifecycle.seal(session, actor(archivist), session.get(Record, request.record_id), "医疗纠纷")
    session.commit()
    assert request.status == "cancelled"
    assert session.scalar(sa.select(Message.kind).where(Message.user_id == world.users["clinician"].id)) == "cancel"


# --- the flow -------------------------------------------------------------------------------

def test_a_return_to_the_applicant_comes_back_to_the_step_that_returned_it(session, world):
    request = _submit(session, world)
    _decide(session, world, "qc", request)
    _decide(session, world, "medical_affairs", request, "return", "请写明借阅用途", to_step=0)
    assert request.status == "returned" and inbox.todo_count(session, world.users["medical_affairs"]) == 0
    user = world.users["clinician"]
    engine.resubmit(session, actor(user), user, request.id, "用途：病例讨论")
    session.commit()
    assert request.status == "pending" and request.current_step == 1
    assert inbox.todo_count(session, world.users["medical_affairs"]) == 1
    assert inbox.todo_count(session, world.users["qc"]) == 0


def test_a_return_to_an_earlier_step_asks_that_step_again(session, world):
    request = _submit(session, world)
    _decide(session, world, "qc", request)
    _decide(session, world, "medical_affairs", request, "return", "请质控再核对", to_step=1)
    assert request.status == "pending" and request.current_step == 0
    assert inbox.todo_count(session, world.users["qc"]) == 1


def test_a_return_cannot_go_forward(session, world):
    request = _submit(session, world)
    with pytest.raises(Refusal, match="只能退回到申请人或当前步骤之前的步骤"):
        _decide(session, world, "qc", request, "return", "退到第二步", to_step=2)


def test_one_approver_suffices_in_or_sign_and_all_must_agree_in_countersign(session, world):
    flow = session.scalars(sa.select(ApprovalFlow).where(ApprovalFlow.kind == "test")).one()
    flow.steps = [{"name": "会签", "mode": "all", "approvers": [{"kind": "role", "value": "qc"},
                                                               {"kind": "role", "value": "archivist"}]}]
    session.commit()
    request = _submit(session, world)
    _decide(session, world, "qc", request)
    assert request.status == "pending"
    _decide(session, world, "archivist", request)
    assert request.status == "approved"


def test_the_first_matching_flow_wins(session, world):
    session.add(ApprovalFlow(kind="test", name="机密病案", position=1, match={"min_confidentiality": 2},
                             steps=[{"name": "医务处", "mode": "any",
                                     "approvers": [{"kind": "role", "value": "medical_affairs"}]}]))
    world.users["medical_affairs"].max_confidentiality = 3  # may read 机密 records
    session.commit()
    assert _submit(session, world, state="confidential", applicant="qc").flow_name == "机密病案"
    assert _submit(session, world, state="normal").flow_name == "两级审批"


def test_only_the_applicant_withdraws_and_only_while_open(session, world):
    request = _submit(session, world)
    with pytest.raises(Refusal, match="只有申请人可以撤回申请"):
        engine.withdraw(session, actor(world.users["qc"]), world.users["qc"], request.id)
    user = world.users["clinician"]
    engine.withdraw(session, actor(user), user, request.id)
    session.commit()
    assert request.status == "withdrawn" and inbox.todo_count(session, world.users["qc"]) == 0
    with pytest.raises(Conflict, match="已撤回"):
        engine.withdraw(session, actor(user), user, request.id)


def test_a_second_open_application_of_the_same_kind_is_a_conflict(session, world):
    _submit(session, world)
    with pytest.raises(Conflict, match="已有未完成的测试申请申请"):
        _submit(session, world)


def test_an_overdue_step_reminds_its_approvers_then_escalates_to_the_named_role(session, world):
    request = _submit(session, world)
    qc, archivist = world.users["qc"], world.users["archivist"]
    assert remind_and_escalate(session, utcnow() + timedelta(hours=25)) == {"reminded": 1, "escalated": 0}
    kinds = session.scalars(sa.select(Message.kind).where(Message.user_id == qc.id).order_by(Message.id)).all()
    assert kinds == ["approval", "reminder"]  # told when the step began, reminded when it ran late
    assert remind_and_escalate(session, utcnow() + timedelta(hours=49)) == {"reminded": 0, "escalated": 1}
    session.commit()
    assert inbox.todo_count(session, archivist) == 1
    _decide(session, world, "archivist", request)
    assert request.current_step == 1
    assert _events(session, request)[1:3] == ["approval.remind", "approval.escalate"]


def test_opinions_at_every_node_are_visible_to_the_applicant_and_every_approver(session, world):
    request = _submit(session, world)
    _decide(session, world, "qc", request, "approve", "资料齐全")
    _decide(session, world, "medical_affairs", request, "approve", "同意借阅")
    for role in ("clinician", "qc", "medical_affairs"):
        opinions = [a.opinion for a in inbox.request_view(session, world.users[role], request.id).opinions]
        assert opinions == ["科研需要查阅", "资料齐全", "同意借阅"]
    with pytest.raises(Refusal, match="不是该申请的申请人或审批人"):
        inbox.request_view(session, world.users["nurse"], request.id)


def test_the_flow_editor_text_reads_back_as_written():
    text = ("科室审核 | 或签 | 科主任, 经治医师 | 24 | medical_affairs\n"
            "医务处审批 | 会签 | 角色:medical_affairs, 用户:u_qc | 8 | archivist")
    assert format_steps(parse_steps(text)) == text


@pytest.mark.parametrize(("line", "refusal"), [
    ("", "流程至少需要一个步骤"),
    ("审核 | 随便签 | 科主任 | 24 |", "签批方式"),
    ("审核 | 或签 |  | 24 |", "至少需要一个审批人"),
    ("审核 | 或签 | 院长 | 24 |", "无法识别审批人“院长”"),
    ("审核 | 或签 | 科主任 | 一天 |", "时限应为整数小时"),
])
def test_a_malformed_step_line_is_refused_with_the_line_number(line, refusal):
    with pytest.raises(Refusal, match=refusal):
        parse_steps(line)


@pytest.mark.parametrize(("payload", "outcome"), [
    (None, 7),  # the default borrowing period
    ({"days": 30}, 30),
    ({"days": 60}, "借阅天数应为 1–30 天"),
    ({"days": "十天"}, "借阅天数应为 1–30 天"),
])
def test_a_borrowing_application_states_its_days(session, world, payload, outcome):
    if isinstance(outcome, str):
        with pytest.raises(Refusal, match=outcome):
            _submit(session, world, kind="borrow", payload=payload)
        return
    assert _submit(session, world, kind="borrow", payload=payload).payload == {"days": outcome}


@pytest.mark.parametrize(("rules", "state", "matches"), [
    ({}, "normal", True),
    ({"min_confidentiality": 2}, "confidential", True),
    ({"min_confidentiality": 2}, "normal", False),
    ({"restricted_tag": True}, "restricted_tag", True),
    ({"restricted_tag": True}, "normal", False),
    ({"other_department": True}, "other_department", True),  # respiratory, the applicant is in cardiology
    ({"other_department": True}, "normal", False),
    ({"record_kind": "death"}, "normal", False),
    ({"record_kind": "normal"}, "normal", True),
    ({"min_confidentiality": 2, "other_department": True}, "confidential", False),  # every rule must hold
])
def test_a_flows_rules_match_the_record_and_the_applicant(session, world, rules, state, matches):
    flow = ApprovalFlow(kind="test", name="规则", match=rules, steps=[])
    assert flow_matches(flow, world.records[state], {"0301"}) is matches


def test_a_flow_for_another_campus_does_not_match(session, world):
    other = Campus(code="east", name="东院区")
    session.add(other)
    session.flush()
    assert not flow_matches(ApprovalFlow(kind="test", name="东院", campus_id=other.id, match={}, steps=[]),
                            world.records["normal"], {"0301"})
    assert flow_matches(ApprovalFlow(kind="test", name="本院", campus_id=world.records["normal"].campus_id,
                                     match={}, steps=[]), world.records["normal"], {"0301"})
