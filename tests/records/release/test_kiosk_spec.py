"""The self-service copy kiosk (issue 15 item 4) on a real database: the patient is known by ID
number and name, sees their own records only, each refused record with the window's reason (sealed,
unarchived without stage copying) or the kiosk's own (HIV: to the window); the packages offer what
art. 19 lets a patient have; the request is the window's, with the window's fee; the kiosk takes no
cash, and the card payment starts the same copy job."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from release_support import run_queued_jobs

from bingan.access.accounts import create_user
from bingan.access.audit import Actor
from bingan.errors import NotFound, Refusal
from bingan.records import lifecycle
from bingan.records.release import kiosk, rules, service
from bingan.storage.models import Category, Diagnosis
from bingan.storage.models.jobs import Job
from bingan.storage.models.release import CopyRequest

ADMISSION_AND_DISCHARGE = 6 * 50 + 500  # 入院记录 and 出院记录, 3 pages each, the reimbursement package


@pytest.fixture
def machine(session, world):
    """The kiosk PC's service account, in the built-in role 自助机."""
    user = create_user(session, "kiosk01", "Xk7#mPq2$wLz9", ["kiosk"], full_name="门诊大厅自助机",
                       must_change_password=False)
    session.commit()
    return user


def _visitor(world, state="normal") -> kiosk.Visitor:
    patient = world.records[state].patient
    return kiosk.Visitor(patient.id_number, patient.name, {"name": patient.name})


def _apply(session, machine, world, state="normal", package="reimbursement", copies=1) -> CopyRequest:
    request = kiosk.apply(session, Actor.of(machine), machine, _visitor(world, state), world.records[state],
                          package, copies)
    session.commit()
    return request


def _stage_copying(session, allowed: bool) -> None:
    current = rules.copy_rules(session)
    rules.save_copy_rules(session, lifecycle.SYSTEM, rules.CopyRules(current.fees, allowed, current.card_reader_url))


def test_the_built_in_kiosk_role_holds_only_copy_kiosk(machine):
    assert [role.code for role in machine.roles] == ["kiosk"]
    assert machine.roles[0].permissions == ["copy.kiosk"] and machine.roles[0].builtin


def test_a_patient_is_known_by_id_number_and_name(session, world):
    patient = world.records["normal"].patient
    visitor = kiosk.identify(session, patient.id_number.lower(), f" {patient.name} ", {"name": patient.name})
    assert (visitor.id_number, visitor.name) == (patient.id_number, patient.name)
    assert visitor.masked == f"{patient.id_number[:6]}********{patient.id_number[-4:]}"


@pytest.mark.parametrize(("id_number", "name", "error", "message"), [
    ("110105198001010017", "王建国", Refusal, "校验位错误"),
    ("", "王建国", Refusal, "应为18位"),
    (None, "李秀英", NotFound, "未找到您在本院的病案"),  # another patient's name with this number
    (None, "", Refusal, "请填写姓名"),
])
def test_a_wrong_number_or_name_is_refused(session, world, id_number, name, error, message):
    with pytest.raises(error, match=message):
        kiosk.identify(session, world.records["normal"].patient.id_number if id_number is None else id_number, name)


def test_the_patient_sees_their_own_records_only(session, world):
    own = kiosk.own_records(session, _visitor(world))
    assert [item.record.id for item in own] == [world.records["normal"].id]
    assert own[0].reason == "" and not own[0].stage


def test_another_patients_record_is_not_found(session, world):
    with pytest.raises(NotFound, match="病案不存在"):
        kiosk.own_record(session, _visitor(world), world.records["other_department"].id)
    assert kiosk.own_record(session, _visitor(world), world.records["normal"].id) == world.records["normal"]


def test_a_sealed_record_is_listed_with_the_windows_reason_and_never_copied(session, machine, world):
    own = kiosk.own_records(session, _visitor(world, "sealed"))
    assert [item.reason for item in own] == ["病案已封存，一律不予复印"]
    with pytest.raises(Refusal, match="封存"):
        _apply(session, machine, world, "sealed")


def test_an_unarchived_record_is_refused_unless_the_hospital_copies_in_stages(session, machine, world):
    record = world.records["normal"]
    lifecycle.move(session, lifecycle.SYSTEM, record, "recalled", "召回修改")
    assert kiosk.own_records(session, _visitor(world))[0].reason.startswith("尚未归档，不予复印")
    with pytest.raises(Refusal, match="尚未归档"):
        _apply(session, machine, world)
    _stage_copying(session, True)
    own = kiosk.own_records(session, _visitor(world))[0]
    assert own.reason == "" and own.stage
    assert _apply(session, machine, world).stage


def test_a_record_with_an_hiv_diagnosis_is_sent_to_the_window(session, machine, world):
    record = world.records["normal"]
    record.diagnoses.append(Diagnosis(seq=1, code="B20.0", name="HIV病"))
    session.flush()
    assert kiosk.own_records(session, _visitor(world))[0].reason == kiosk.TO_WINDOW
    with pytest.raises(Refusal, match="病案复印窗口"):
        _apply(session, machine, world)


def test_packages_offer_only_what_a_patient_may_have_copied(session, world):
    front_page = session.scalars(sa.select(Category.code).where(Category.copyable.is_(False))).first()
    rules.save_package(session, lifecycle.SYSTEM, "front_only", "仅病案首页", [front_page], 1)
    offered = {package["code"]: package for package in kiosk.choosable_packages(session)}
    assert "front_only" not in offered and {"reimbursement", "follow_up", "all"} <= set(offered)
    assert offered["reimbursement"]["categories"][0] == "入院记录"
    assert all(name != "住院病案首页" for package in offered.values() for name in package["categories"])


def test_the_kiosk_makes_the_windows_request_for_the_patient_themself(session, machine, world):
    request = _apply(session, machine, world, copies=2)
    assert (request.channel, request.status, request.applicant_type) == ("kiosk", "registered", "patient")
    assert request.applicant_id_number == world.records["normal"].patient.id_number and request.card
    assert [item["title"] for item in request.items] == ["入院记录", "出院记录"]  # never 住院病案首页
    assert request.fee_fen == 12 * 50 + 500 and request.watermark == "仅供患者本人王建国使用"


@pytest.mark.parametrize(("package", "copies", "message"), [
    ("no_such", 1, "请选择复印套餐"), ("reimbursement", kiosk.MAX_COPIES + 1, "病案复印窗口")])
def test_an_unknown_package_or_too_many_copies_is_refused(session, machine, world, package, copies, message):
    with pytest.raises(Refusal, match=message):
        _apply(session, machine, world, package=package, copies=copies)


def test_the_kiosk_takes_no_cash_and_a_card_payment_needs_its_reference(session, machine, world):
    request = _apply(session, machine, world)
    with pytest.raises(Refusal, match="现金请到病案复印窗口"):
        kiosk.pay(session, Actor.of(machine), machine, request, "cash", "")
    with pytest.raises(Refusal, match="凭证号"):
        kiosk.pay(session, Actor.of(machine), machine, request, "card", " ")


def test_the_card_payment_starts_the_windows_copy_job(session, machine, world):
    request = _apply(session, machine, world)
    job = kiosk.pay(session, Actor.of(machine), machine, request, "card", "POS-20260310-0001")
    session.commit()
    assert request.status == "paid" and request.fee_fen == ADMISSION_AND_DISCHARGE and job.state == "queued"
    assert run_queued_jobs(session.get_bind()) == ["done"]
    session.expire_all()
    printed = session.get(CopyRequest, request.id)
    assert printed.status == "printed" and session.get(Job, printed.job_id).result_type == "application/pdf"


def test_a_free_copy_goes_to_print_at_once(session, machine, world):
    _fees = rules.FeeRules(page_fen=0, retrieval_fen=0)
    current = rules.copy_rules(session)
    rules.save_copy_rules(session, lifecycle.SYSTEM, rules.CopyRules(_fees, False, current.card_reader_url))
    request = _apply(session, machine, world)
    assert request.fee_fen == 0 and request.job_id and not service.payable(request)


def test_a_request_and_its_job_belong_to_their_patient_only(session, machine, world):
    request = _apply(session, machine, world)
    kiosk.pay(session, Actor.of(machine), machine, request, "online", "WX-0001")
    session.commit()
    assert kiosk.own_request(session, machine, _visitor(world), request.id) == request
    with pytest.raises(NotFound):
        kiosk.own_request(session, machine, _visitor(world, "other_department"), request.id)
    with pytest.raises(NotFound):
        kiosk.own_request(session, world.users["copy_clerk"], _visitor(world), request.id)
    assert kiosk.visitor_job(session, _visitor(world).id_number, request.job_id)
    assert not kiosk.visitor_job(session, _visitor(world, "other_department").id_number, request.job_id)
