"""Copy requests at the copy window (issue 15 items 1–5) on a real database: what may be copied
by whom, refusals with their reason, warnings, the exact fee, papers, payment and refund, and
the copy job's PDF feeding the printed-copies register."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from release_support import AGENT, PATIENT, POLICE, run_queued_jobs

from bingan.access.audit import Actor
from bingan.config import get_settings
from bingan.errors import Conflict, Refusal
from bingan.records import lifecycle
from bingan.records.prints import printed_copies
from bingan.records.release import output, rules, service
from bingan.storage.blobs.port import open_blob_store
from bingan.storage.models import Diagnosis, Record
from bingan.storage.models.completeness import Mark
from bingan.storage.models.jobs import Job

# Hand-checked: pages × copies × page fee + records × retrieval (+ binding, stage) in fen.
FEE_CASES = [
    # fees, [(pages, free pages, stage)], copies, free applicant, expected fen
    (rules.FeeRules(), [(6, 0, False)], 1, "", 6 * 50 + 500),
    (rules.FeeRules(), [(6, 0, False)], 3, "", 18 * 50 + 500),
    (rules.FeeRules(), [(6, 0, False), (10, 0, False)], 2, "", 32 * 50 + 2 * 500),
    (rules.FeeRules(page_fen=30, copy_fen=200), [(7, 0, False)], 2, "", 14 * 30 + 500 + 2 * 200),
    (rules.FeeRules(stage_fen=1000), [(5, 0, True), (5, 0, False)], 1, "", 10 * 50 + 2 * 500 + 1000),
    (rules.FeeRules(free_categories=("C14",)), [(6, 3, False)], 2, "", 6 * 50 + 500),
    (rules.FeeRules(), [(100, 0, False)], 1, "公安机关", 0),
    (rules.FeeRules(page_fen=0, retrieval_fen=0), [(9, 0, False)], 1, "", 0),
]


@pytest.mark.parametrize(("fees", "records", "copies", "free", "expected"), FEE_CASES)
def test_the_fee_is_exact_on_hand_checked_cases(fees, records, copies, free, expected):
    fen, lines = rules.compute_fee(fees, [rules.RecordPages(*r) for r in records], copies, free)
    assert fen == expected == sum(line["amount_fen"] for line in lines)


def _actor(world, role="copy_clerk") -> Actor:
    return Actor.of(world.users[role], "127.0.0.1")


def _apply(session, world, applicant=PATIENT, records=None, **what) -> service.CopyRequest:
    form = service.CopyForm(applicant=service.Applicant(**applicant),
                            record_ids=[r.id for r in records or [world.records["normal"]]], **what)
    request = service.create_request(session, _actor(world), world.users["copy_clerk"],
                                     records or [world.records["normal"]], form)
    session.commit()
    return request


def test_a_package_copies_its_categories_at_the_exact_page_count(session, world):
    request = _apply(session, world, package="reimbursement")
    assert [item["title"] for item in request.items] == ["入院记录", "出院记录"]
    assert request.pages == 6 and request.fee_fen == 6 * 50 + 500 and not request.stage


def test_outside_applicants_get_only_the_copyable_categories(session, world):
    everything = _apply(session, world, package="all")
    assert "住院病案首页" not in [item["title"] for item in everything.items]
    with pytest.raises(Refusal, match="不可复印：住院病案首页"):
        _apply(session, world, categories=["住院病案首页"])


def test_the_police_may_copy_the_front_page_and_pay_nothing(session, world):
    request = _apply(session, world, applicant=POLICE, categories=["住院病案首页"])
    assert request.pages == 3 and request.fee_fen == 0


def test_single_pages_are_copied_as_chosen(session, world):
    document = world.documents["normal"][1]
    request = _apply(session, world, pages=[{"document_id": document.id, "pages": [1, 3]}], copies=2)
    assert request.pages == 2 and request.fee_fen == 2 * 2 * 50 + 500
    with pytest.raises(Refusal, match="没有第 9 页"):
        _apply(session, world, pages=[{"document_id": document.id, "pages": [9]}])


def test_a_sealed_record_is_never_copied(session, world):
    with pytest.raises(Refusal, match="封存的病案一律不予复印"):
        _apply(session, world, records=[world.records["sealed"]], package="all")


def test_an_unarchived_record_is_refused_unless_stage_copying_is_allowed(session, world):
    record = world.records["normal"]
    lifecycle.move(session, lifecycle.SYSTEM, record, "recalled", "召回修改")
    session.commit()
    with pytest.raises(Refusal, match="尚未归档"):
        _apply(session, world, package="reimbursement")
    current = rules.copy_rules(session)
    rules.save_copy_rules(session, _actor(world, "archivist"), rules.CopyRules(
        fees=rules.FeeRules(stage_fen=1000), stage_copying=True, card_reader_url=current.card_reader_url))
    request = _apply(session, world, package="reimbursement")
    assert request.stage and request.fee_fen == 6 * 50 + 500 + 1000
    assert any("阶段复印" in warning for warning in request.warnings)


def test_hiv_diagnoses_and_open_missing_marks_are_warned_of(session, world):
    record = world.records["normal"]
    record.diagnoses.append(Diagnosis(seq=1, code="B20.0", name="HIV病伴分枝杆菌感染"))
    session.add(Mark(record_id=record.id, kind="missing", reason="病理报告未回"))  # marked before archiving
    session.commit()
    warnings = _apply(session, world, package="all").warnings
    assert any("HIV" in w for w in warnings) and any("缺项未补" in w for w in warnings)


@pytest.mark.parametrize(("applicant", "message"), [
    ({**PATIENT, "id_number": "110105194912310021"}, "校验位错误"),
    ({**PATIENT, "name": ""}, "请填写申请人姓名"),
    ({**PATIENT, "type": "neighbour"}, "申请人类型应为"),
])
def test_bad_applicants_are_refused_and_nothing_is_written(session, world, applicant, message):
    with pytest.raises(Refusal, match=message):
        _apply(session, world, applicant=applicant, package="all")
    assert service.requests(session) == []


def test_an_agent_must_show_the_power_of_attorney_and_the_list_says_what_is_missing(session, world):
    request = _apply(session, world, applicant=AGENT, package="reimbursement")
    assert "授权委托书" in [paper["name"] for paper in service.missing_papers(session, request)]
    photo = io.BytesIO()
    Image.new("RGB", (40, 30), "white").save(photo, "JPEG")
    service.add_paper(session, _actor(world), world.users["copy_clerk"], open_blob_store(get_settings()), request,
                      "power_of_attorney", photo.getvalue(), "image/jpeg")
    assert "授权委托书" not in [paper["name"] for paper in service.missing_papers(session, request)]
    with pytest.raises(Refusal, match="JPEG、PNG"):
        service.add_paper(session, _actor(world), world.users["copy_clerk"], open_blob_store(get_settings()),
                          request, "agency_proof", b"not an image", "image/jpeg")


def test_printing_waits_for_payment_and_a_refund_needs_a_reason(session, world):
    clerk, actor = world.users["copy_clerk"], _actor(world)
    request = _apply(session, world, package="reimbursement")
    with pytest.raises(Conflict, match=r"请先缴费（应收 8\.00 元）"):
        service.start_print(session, actor, clerk, request)
    with pytest.raises(Refusal, match="凭证号"):
        service.pay(session, actor, clerk, request, "card")
    service.pay(session, actor, clerk, request, "cash")
    with pytest.raises(Conflict):
        service.pay(session, actor, clerk, request, "cash")
    with pytest.raises(Refusal, match="退费原因"):
        service.refund(session, actor, clerk, request, " ")
    assert service.refund(session, actor, clerk, request, "患者改期复印").status == "refunded"


def test_the_copy_job_makes_one_certified_pdf_and_registers_what_was_printed(session, world):
    clerk = world.users["copy_clerk"]
    request = _apply(session, world, applicant=AGENT, package="reimbursement", copies=2)
    service.pay(session, _actor(world), clerk, request, "online", "WX20260401001")
    job = service.start_print(session, _actor(world), clerk, request)
    session.commit()
    assert run_queued_jobs(session.get_bind()) == ["done"]
    session.expire_all()
    job = session.get(Job, job.id)
    with open_blob_store(get_settings()).open(job.result_sha256) as stream:
        pdf = stream.read()
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ") >= 6
    assert session.get(service.CopyRequest, request.id).status == "printed"
    copies = [copy for copy in printed_copies(session, world.records["normal"].id) if copy.kind == "复印"]
    assert [(copy.document, copy.pages) for copy in copies] == [("入院记录", "第1-3页"), ("出院记录", "第1-3页")]
    assert copies[0].for_whom == "王小明（患者代理人）" and copies[0].version == 1


def test_every_copied_page_carries_the_certifying_mark_in_red():
    page = Image.new("RGB", (1000, 1414), "white")
    stamped = output.certify(page, "示例医院", "2026年04月01日", "复印申请 1", ("示例医院 病案复印件", "仅供测试"))
    corner = np.asarray(stamped.crop((600, 1100, 1000, 1414)), dtype=int)
    assert ((corner[..., 0] > 150) & (corner[..., 1] < 90) & (corner[..., 2] < 90)).sum() > 500


def test_a_record_sealed_after_payment_is_not_printed(session, world):
    clerk = world.users["copy_clerk"]
    request = _apply(session, world, package="reimbursement")
    service.pay(session, _actor(world), clerk, request, "cash")
    lifecycle.seal(session, lifecycle.SYSTEM, session.get(Record, world.records["normal"].id), "纠纷")
    with pytest.raises(Refusal, match="封存"):
        service.start_print(session, _actor(world), clerk, request)


@pytest.mark.parametrize(("typed", "pages"), [
    ("1-3,5", [1, 2, 3, 5]), ("2", [2]), ("3，1、2", [1, 2, 3]), ("1－2", [1, 2]), ("全部", None), ("all", None),
])
def test_typed_page_numbers_are_read_as_a_clerk_writes_them(typed, pages):
    assert service.parse_pages(typed, "出院记录") == pages


@pytest.mark.parametrize(("typed", "message"), [("一", "格式不正确"), ("3-1", "起页不大于止页"), ("0", "页码从 1 开始"),
                                                ("1-", "格式不正确")])
def test_bad_page_numbers_are_refused_naming_the_document(typed, message):
    with pytest.raises(Refusal, match=f"“出院记录”.*{message}"):
        service.parse_pages(typed, "出院记录")


def test_the_documents_to_choose_pages_from_say_their_pages_and_whether_outsiders_may_have_them(session, world):
    documents = service.documents_to_choose(session, world.records["normal"])
    assert [(d["title"], d["pages"], d["copyable"]) for d in documents] == [
        ("住院病案首页", 3, False), ("入院记录", 3, True), ("出院记录", 3, True)]
