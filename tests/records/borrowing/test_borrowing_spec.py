"""The borrowing specification, on SQLite and PostgreSQL: applying (limits, purposes, parts),
the flows, the grant, renewal, return, revocation, expiry, sealed records, the lists, the views
tracked during a borrowing and the reminder before the end."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from bingan.access.audit import Actor, record_event
from bingan.access.policy import aware, decide, scope_for
from bingan.errors import Conflict, Refusal
from bingan.records import lifecycle
from bingan.records.approvals import engine
from bingan.records.borrowing import scheduled, service
from bingan.storage.models import ApprovalRequest, AuditEvent, Grant, Message, utcnow


def actor(user) -> Actor:
    return Actor.of(user, "10.0.0.8")


def _apply(session, world, states=("other_department",), days=7, purpose="科研", reason="课题需要",
           categories=None, who="clinician"):
    user = world.users[who]
    made = service.apply(session, actor(user), user, [world.records[s].id for s in states], days, purpose, reason,
                         categories)
    session.commit()
    return made


def _approve_all(session, world, borrowing_id: int) -> ApprovalRequest:
    """Each step's first approver approves until the request is decided."""
    request = session.get(ApprovalRequest, borrowing_id)
    while request.status == "pending":
        approver = next(user for user in world.users.values()
                        if engine._open_task(session, request, user) is not None)
        engine.decide(session, actor(approver), approver, request.id, "approve", "同意")
        session.commit()
    return request


def _lent(session, world, **kwargs):
    borrowing = _apply(session, world, **kwargs)[0]
    _approve_all(session, world, borrowing.id)
    return borrowing


# --- applying -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("days", "purpose", "reason", "categories", "refusal"), [
    (31, "科研", "课题需要", None, "借阅天数应为 1–30 天"),  # the clinician's maximum
    (0, "科研", "课题需要", None, "借阅天数应为 1–30 天"),
    ("七", "科研", "课题需要", None, "借阅天数应为"),
    (7, "炒股", "课题需要", None, "借阅用途应为"),
    (7, "科研", "  ", None, "请填写借阅理由"),
    (7, "科研", "课题需要", ["NO_SUCH"], "未知的病案分类"),
])
def test_an_application_outside_the_rules_is_refused_and_changes_nothing(session, world, days, purpose, reason,
                                                                           categories, refusal):
    with pytest.raises(Refusal, match=refusal):
        _apply(session, world, days=days, purpose=purpose, reason=reason, categories=categories)
    session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(ApprovalRequest)) == 0


@pytest.mark.parametrize(("state", "refusal"), [
    ("sealed", "病案已封存"),
    ("normal", "您已可以查阅"),  # the clinician's own ward: nothing to borrow
    ("granted", "您已可以查阅"),
])
def test_a_record_that_cannot_or_need_not_be_borrowed_refuses_the_whole_application(session, world, state,
                                                                                     refusal):
    with pytest.raises(Refusal, match=refusal):
        _apply(session, world, states=("other_department", state))
    session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(ApprovalRequest)) == 0


def test_a_role_s_maximum_is_a_setting_of_the_record_room(session, world):
    service.save_max_days(session, actor(world.users["archivist"]), {"clinician": 60})
    assert _apply(session, world, days=60)[0].days == 60


def test_one_application_for_several_records_gives_each_record_the_flow_chosen_for_it(session, world):
    confidential_record = world.records["confidential"]
    confidential_record.admission_department = confidential_record.discharge_department = world.respiratory
    for role in ("head_resp", "medical_affairs", "archivist"):  # approvers cleared for 机密
        world.users[role].max_confidentiality = 3
    made = _apply(session, world, states=("other_department", "confidential"))
    flows = [session.get(ApprovalRequest, b.id).flow_name for b in made]
    assert flows == ["借阅：外科室病案", "借阅：机密病案"]
    assert [step["name"] for step in session.get(ApprovalRequest, made[1].id).steps] == [
        "科室审核", "医务处审批", "病案室主任审批"]
    assert {b.batch_id for b in made} == {made[0].id}


# --- the grant ----------------------------------------------------------------------------------

def test_the_last_approval_grants_exactly_that_record_for_those_days(session, world):
    borrowing = _apply(session, world, days=5)[0]
    request = session.get(ApprovalRequest, borrowing.id)
    head = world.users["head_resp"]
    engine.decide(session, actor(head), head, request.id, "approve", "同意")
    session.commit()
    assert borrowing.grant_id is None and service.state_of(borrowing) == "pending"
    _approve_all(session, world, borrowing.id)
    grant = session.get(Grant, borrowing.grant_id)
    assert (grant.user_id, grant.record_id, grant.actions, grant.categories) == (
        world.users["clinician"].id, world.records["other_department"].id, ["view"], None)
    assert timedelta(days=4, hours=23) < grant.valid_until - grant.valid_from <= timedelta(days=5, minutes=1)
    assert service.state_of(borrowing) == "lent"
    assert decide(session, world.users["clinician"], "view", world.records["other_department"])


def test_a_grant_of_chosen_parts_opens_only_documents_of_those_categories(session, world):
    admission, discharge = world.documents["other_department"]
    code = admission.document_type.category.code
    borrowing = _lent(session, world, categories=[code])
    clinician, record = world.users["clinician"], world.records["other_department"]
    assert session.get(Grant, borrowing.grant_id).categories == [code]
    assert decide(session, clinician, "view", record)  # the record's page, listing what it may show
    assert decide(session, clinician, "view", record, document=admission)
    refused = decide(session, clinician, "view", record, document=discharge)
    assert not refused and "科室数据范围" in refused.reason_zh
    assert record.id not in scope_for(session, clinician).granted_record_ids  # no search hits or snippets


def test_expiry_closes_viewing_by_itself(session, world):
    borrowing = _lent(session, world)
    session.get(Grant, borrowing.grant_id).valid_until = utcnow() - timedelta(minutes=1)
    session.commit()
    assert service.state_of(borrowing) == "expired"
    assert not decide(session, world.users["clinician"], "view", world.records["other_department"])
    assert [b.id for b in service.box(session, world.users["clinician"], "mine", service.Filters("expired"))] == [
        borrowing.id]


# --- renewal, return, revocation ----------------------------------------------------------------

def test_an_approved_renewal_extends_the_same_grant(session, world):
    borrowing = _lent(session, world, days=5)
    until = session.get(Grant, borrowing.grant_id).valid_until
    clinician = world.users["clinician"]
    renewal = service.renew(session, actor(clinician), clinician, borrowing.id, 10, "课题延期")
    session.commit()
    assert session.get(ApprovalRequest, renewal.id).kind == "renew"
    _approve_all(session, world, renewal.id)
    grant = session.get(Grant, borrowing.grant_id)
    assert aware(grant.valid_until) - aware(until) == timedelta(days=10) and borrowing.days == 15
    assert session.scalar(sa.select(sa.func.count()).select_from(Grant).where(
        Grant.user_id == clinician.id, Grant.record_id == borrowing.record_id)) == 1


@pytest.mark.parametrize(("who", "days", "refusal"), [
    ("nurse", 5, "只有借阅人可以申请续借"),
    ("clinician", 45, "借阅天数应为"),
])
def test_a_renewal_is_refused_to_others_and_beyond_the_maximum(session, world, who, days, refusal):
    borrowing = _lent(session, world)
    with pytest.raises(Refusal, match=refusal):
        service.renew(session, actor(world.users[who]), world.users[who], borrowing.id, days, "延期")


def test_an_early_return_ends_the_grant(session, world):
    borrowing = _lent(session, world)
    clinician = world.users["clinician"]
    service.return_early(session, actor(clinician), clinician, borrowing.id)
    session.commit()
    assert service.state_of(borrowing) == "returned" and session.get(Grant, borrowing.grant_id).revoked_at
    assert not decide(session, clinician, "view", world.records["other_department"])
    with pytest.raises(Conflict, match="已归还"):
        service.renew(session, actor(clinician), clinician, borrowing.id, 3, "再借")


def test_the_record_room_revokes_with_a_reason_the_borrower_reads(session, world):
    borrowing = _lent(session, world)
    archivist, clinician = world.users["archivist"], world.users["clinician"]
    with pytest.raises(Refusal, match="须填写原因"):
        service.revoke(session, actor(archivist), archivist, borrowing.id, " ")
    with pytest.raises(Refusal, match="没有借阅管理权限"):
        service.revoke(session, actor(clinician), clinician, borrowing.id, "自己收回")
    service.revoke(session, actor(archivist), archivist, borrowing.id, "患方投诉，暂停借阅")
    session.commit()
    assert service.state_of(borrowing) == "revoked"
    assert not decide(session, clinician, "view", world.records["other_department"])
    message = session.scalars(sa.select(Message).where(Message.user_id == clinician.id)
                              .order_by(Message.id.desc())).first()
    assert message.body == "患方投诉，暂停借阅"


# --- sealed records -----------------------------------------------------------------------------

def test_sealing_a_record_cancels_its_open_borrowing_with_the_reason(session, world):
    borrowing = _apply(session, world)[0]
    lifecycle.seal(session, lifecycle.SYSTEM, world.records["other_department"], "医疗纠纷")
    session.commit()
    assert service.state_of(borrowing) == "refused"
    assert service.summary(borrowing)["outcome_note"] == "病案已封存，申请自动取消"


def test_a_sealed_record_is_not_found_by_the_borrowing_search(session, world):
    clinician = world.users["clinician"]
    found = service.search(session, actor(clinician), clinician, service.Criteria(discharged_from=None,
                                                                                   department="0302"))
    assert [c.record_number for c in found] == [world.records["granted"].record_number,
                                                world.records["other_department"].record_number]
    sealed_number = world.records["sealed"].record_number
    assert service.search(session, actor(clinician), clinician, service.Criteria(record_number=sealed_number)) == []


# --- the search ---------------------------------------------------------------------------------

def test_the_search_reveals_only_what_identifies_a_record_and_is_audited(session, world):
    clinician = world.users["clinician"]
    record = world.records["other_department"]
    [found] = service.search(session, actor(clinician), clinician,
                             service.Criteria(patient_name=record.patient.name))
    assert (found.record_number, found.masked_name, found.department, found.can_view) == (
        record.record_number, record.patient.name[0] + "*", "呼吸内科", False)
    assert not hasattr(found, "diagnoses")
    session.commit()
    event = session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "borrow.search")).one()
    assert event.detail["patient_name"] == record.patient.name and event.detail["结果数"] == 1


def test_a_search_without_a_criterion_is_refused(session, world):
    with pytest.raises(Refusal, match="至少填写一个查找条件"):
        service.search(session, actor(world.users["clinician"]), world.users["clinician"], service.Criteria())


# --- the lists, the views, the reminder ---------------------------------------------------------

def test_the_lists_show_mine_what_waits_for_me_and_all_to_the_record_room(session, world):
    borrowing = _apply(session, world)[0]
    ids = {name: [b.id for b in service.box(session, world.users[role], name)]
           for name, role in (("mine", "clinician"), ("todo", "head_resp"), ("all", "archivist"))}
    assert ids == {"mine": [borrowing.id], "todo": [borrowing.id], "all": [borrowing.id]}
    assert service.box(session, world.users["head_resp"], "todo", service.Filters(department="0301")) == []
    with pytest.raises(Refusal, match="没有借阅管理权限"):
        service.box(session, world.users["clinician"], "all")


def test_views_during_the_borrowing_are_tracked_with_documents_pages_and_address(session, world):
    borrowing = _lent(session, world)
    clinician, record = world.users["clinician"], world.records["other_department"]
    admission = world.documents["other_department"][0]
    record_event(session, Actor.of(clinician, "10.1.2.3"), "page_view", object_type="document",
                 object_id=admission.id, record_id=record.id, document_id=admission.id, page=2)
    record_event(session, Actor.of(world.users["archivist"], "10.9.9.9"), "view", object_type="record",
                 object_id=record.id, record_id=record.id)  # someone else's view is not the borrowing's
    session.commit()
    [view] = service.views_during(session, borrowing)
    assert (view.action, view.document, view.page, view.client_ip) == ("浏览页面", "入院记录", 2, "10.1.2.3")


def test_the_borrower_is_reminded_once_two_days_before_the_end(session, world):
    borrowing = _lent(session, world, days=7)
    assert scheduled.remind_expiring(session, utcnow()) == 0
    in_six_days = utcnow() + timedelta(days=6)
    assert scheduled.remind_expiring(session, in_six_days) == 1
    assert scheduled.remind_expiring(session, in_six_days) == 0
    session.commit()
    titles = list(session.scalars(sa.select(Message.title).where(Message.user_id == world.users["clinician"].id)))
    assert any("即将到期" in title for title in titles) and borrowing.expiry_reminded
