"""The paper-records specification on SQLite and PostgreSQL (病案数字化加工): the review queues
(初审 → 通过 / 退回 → 返工 → 重拍 → 复审 → 通过), a rejection needs its reason, boxes on shelves
with every move logged, where a paper record is, what a label carries, and "拍摄完成" refused
while a required paper category is missing (G4), with the optional one-click archive."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from completeness_support import ORDINARY, make_record

from bingan.access.audit import Actor
from bingan.errors import Conflict, NotFound, Refusal
from bingan.records.digitisation import labels, paper, service
from bingan.storage.models import AuditEvent, CollectedItem, Record, Source
from bingan.storage.models.digitisation import PaperMove, ScanReview

ADMISSION = "C02"  # 入院记录
WITHOUT_ADMISSION = tuple(name for name in ORDINARY if name != "入院记录")


@pytest.fixture
def operator(world) -> Actor:
    return Actor.of(world.users["archivist"], "10.0.0.9")


@pytest.fixture
def record(session, world):
    found = make_record(session, "0200001", documents=WITHOUT_ADMISSION)
    session.commit()
    return found


def capture(session, operator, record, shot, count=1, code=ADMISSION):
    pages = service.capture(session, operator, record, service.category_by_code(session, code), [shot] * count)
    session.commit()
    return pages


def review(session, operator, page, decision, reason=""):
    service.review(session, operator, page, decision, reason)
    session.commit()
    return page


def queue_ids(session, name) -> list[int]:
    return [page.id for page in service.queue(session, name)]


def events(session, action) -> list[dict]:
    return list(session.scalars(sa.select(AuditEvent.detail).where(AuditEvent.action == action)
                                .order_by(AuditEvent.id)))


# --- review queues ----------------------------------------------------------------------------

def test_captured_pages_wait_in_first_review_in_filing_position(session, operator, record, shot):
    pages = capture(session, operator, record, shot, count=2)
    more = capture(session, operator, record, shot)
    assert [p.position for p in pages + more] == [1, 2, 3]
    assert queue_ids(session, "first") == [p.id for p in pages + more]
    assert service.review_summary(session, record.id) == {"first": 3, "re": 0, "rework": 0, "passed": 0}


def test_a_page_passed_in_first_review_leaves_every_queue(session, operator, record, shot):
    [page] = capture(session, operator, record, shot)
    review(session, operator, page, "pass")
    assert page.state == "passed" and page.reviewed_by_id == operator.user_id
    assert all(queue_ids(session, name) == [] for name in service.QUEUES)


def test_rejected_reshot_and_passed_on_re_review(session, operator, record, shot):
    [page] = capture(session, operator, record, shot)
    review(session, operator, page, "reject", "模糊，看不清主诉")
    assert (page.state, page.reject_reason) == ("rework", "模糊，看不清主诉")
    assert queue_ids(session, "rework") == [page.id] and queue_ids(session, "first") == []
    service.reshoot(session, operator, page, shot)
    session.commit()
    assert (page.state, page.reshoots) == ("re", 1) and queue_ids(session, "re") == [page.id]
    review(session, operator, page, "pass")
    decisions = session.execute(sa.select(ScanReview.queue, ScanReview.decision).order_by(ScanReview.id)).all()
    assert page.state == "passed" and [tuple(d) for d in decisions] == [("first", "reject"), ("re", "pass")]
    assert events(session, "scan.reshoot")[0]["原因"] == "模糊，看不清主诉"


def test_a_page_rejected_again_on_re_review_goes_back_to_rework(session, operator, record, shot):
    [page] = capture(session, operator, record, shot)
    review(session, operator, page, "reject", "倾斜")
    service.reshoot(session, operator, page, shot)
    review(session, operator, page, "reject", "仍然倾斜")
    assert (page.state, page.reject_reason) == ("rework", "仍然倾斜")


def test_a_page_reshot_before_anyone_reviewed_it_stays_in_first_review(session, operator, record, shot):
    [page] = capture(session, operator, record, shot)
    service.reshoot(session, operator, page, shot)
    session.commit()
    assert page.state == "first" and queue_ids(session, "re") == []


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_rejection_without_a_reason_is_refused_and_changes_nothing(session, operator, record, shot, reason):
    [page] = capture(session, operator, record, shot)
    with pytest.raises(Refusal, match="必须填写原因"):
        service.review(session, operator, page, "reject", reason)
    session.rollback()
    assert page.state == "first" and session.scalar(sa.select(sa.func.count()).select_from(ScanReview)) == 0


def test_only_pages_in_a_review_queue_can_be_reviewed(session, operator, record, shot):
    [page] = capture(session, operator, record, shot)
    review(session, operator, page, "reject", "过暗")
    with pytest.raises(Conflict, match="待重拍"):
        service.review(session, operator, page, "pass")


# --- boxes, shelves, moves ----------------------------------------------------------------------

def test_a_box_without_a_barcode_is_numbered_and_a_taken_barcode_is_refused(session, operator):
    box = paper.create_box(session, operator, "2026年3月 心内科", paper.Place("一号库房", "A", 3, 5))
    session.commit()
    assert box.barcode == f"HX{box.id:06d}" and paper.place_text(box) == "一号库房 A架 3层 5位"
    paper.create_box(session, operator, "", paper.Place(), "B-0001")
    with pytest.raises(Conflict, match="B-0001"):
        paper.create_box(session, operator, "", paper.Place(), "B-0001")


def test_moving_a_box_logs_where_it_was_and_where_it_went(session, operator):
    box = paper.create_box(session, operator, "", paper.Place("一号库房", "A", 1, 1))
    paper.move_box(session, operator, box, paper.Place("二号库房", "C", 2, 4))
    session.commit()
    move = session.scalars(sa.select(PaperMove)).one()
    assert (move.kind, move.place_from, move.place_to) == ("box_moved", "一号库房 A架 1层 1位", "二号库房 C架 2层 4位")
    assert events(session, "paper.move")[0]["新位置"] == "二号库房 C架 2层 4位"


def test_where_a_paper_record_is_with_its_moves_newest_first(session, operator, record):
    first = paper.create_box(session, operator, "", paper.Place("一号库房", "A", 1, 1))
    second = paper.create_box(session, operator, "", paper.Place("一号库房", "B", 2, 2))
    paper.put_into_box(session, operator, first, paper.record_by_label(session, "0200001-1"))
    paper.put_into_box(session, operator, second, paper.record_by_label(session, "0200001"))
    session.commit()
    [found] = paper.locations(session, "0200001")
    assert found["location"] == "一号库房 B架 2层 2位" and found["box"]["barcode"] == second.barcode
    assert [m["kind"] for m in found["moves"]] == ["into_box", "out_of_box", "into_box"]
    assert found["moves"][1]["from"] == "一号库房 A架 1层 1位"


def test_putting_a_record_into_the_box_it_is_in_is_refused(session, operator, record):
    box = paper.create_box(session, operator, "", paper.Place())
    paper.put_into_box(session, operator, box, record)
    with pytest.raises(Conflict, match="已在盒"):
        paper.put_into_box(session, operator, box, record)


def test_a_label_must_name_the_stay_when_the_number_has_several(session, operator, record):
    session.add(Record(patient=record.patient, record_number="0200001", stay_number=2))
    session.commit()
    with pytest.raises(Refusal, match="2 次住院"):
        paper.record_by_label(session, "0200001")
    assert paper.record_by_label(session, "0200001-2").stay_number == 2
    with pytest.raises(NotFound):
        paper.record_by_label(session, "0299999-1")


def test_a_record_never_boxed_is_said_to_be_unboxed(session, record):
    assert paper.locations(session, "0200001")[0]["location"] == "未装盒"


# --- labels ---------------------------------------------------------------------------------------

def test_a_record_label_carries_its_barcode_and_the_chosen_fields_in_order(session, record):
    label = labels.record_label(record, labels.parse_fields("name,record_number,department"))
    assert label.code == "0200001-1"
    assert label.lines == ("姓名：王建国", "病案号：0200001", "科室：心内科")
    assert labels.record_label(record, labels.DEFAULT_FIELDS).lines[3] == "出院日期：2026-03-08"


def test_a_label_field_nobody_knows_is_refused():
    with pytest.raises(Refusal, match="bed"):
        labels.parse_fields("record_number,bed")


def test_a_box_label_carries_the_box_barcode_and_its_place(session, operator):
    box = paper.create_box(session, operator, "心内科 3月", paper.Place("一号库房", "A", 3, 5))
    label = labels.box_label(box, paper.place_text(box))
    assert label.code == box.barcode and label.lines == (f"病案盒：{box.barcode}", "心内科 3月", "一号库房 A架 3层 5位")


# --- 拍摄完成 (G4) and one-click archive -----------------------------------------------------------

def test_capture_finished_is_refused_while_a_required_paper_category_is_missing(session, operator, record, shot):
    capture(session, operator, record, shot, code="C01")
    with pytest.raises(Refusal, match="入院记录"):
        service.finish(session, operator, record)
    assert events(session, "scan.finish") == []


def test_capture_finished_once_the_missing_category_is_captured(session, operator, record, shot):
    capture(session, operator, record, shot, count=2)
    done = service.finish(session, operator, record)
    session.commit()
    assert not done.archived and record.status == "awaiting"
    assert events(session, "scan.finish") == [{"页数": 2, "待初审": 2}]


def test_capture_finished_is_refused_with_nothing_captured_or_a_page_awaiting_its_reshot(
        session, operator, record, shot):
    with pytest.raises(Refusal, match="还没有拍摄"):
        service.finish(session, operator, record)
    [page] = capture(session, operator, record, shot)
    review(session, operator, page, "reject", "缺角")
    with pytest.raises(Refusal, match="1 页被退回待重拍"):
        service.finish(session, operator, record)


def test_one_click_archive_walks_the_life_cycle_once_every_page_passed(session, operator, record, shot):
    pages = capture(session, operator, record, shot, count=2)
    review(session, operator, pages[0], "pass")
    with pytest.raises(Conflict, match="1 页未审核通过"):
        service.finish(session, operator, record, archive=True)
    session.rollback()
    review(session, operator, pages[1], "pass")
    assert service.finish(session, operator, record, archive=True).archived
    session.commit()
    assert record.status == "archived" and record.archived_at is not None
    steps = [d["操作"] for d in events(session, "status")]
    assert steps[-3:] == ["提交归档", "开始质控", "质控通过归档"]


@pytest.mark.parametrize("status", ["collecting", "qc", "returned"])
def test_one_click_archive_is_refused_outside_awaiting_and_submitted(session, operator, world, shot, status):
    record = make_record(session, "0200002", status="collecting" if status == "collecting" else "awaiting")
    record.status = status  # the state under test, set directly: reaching it is not this test's business
    [page] = capture(session, operator, record, shot)
    review(session, operator, page, "pass")
    with pytest.raises(Conflict, match="一键归档只适用于"):
        service.finish(session, operator, record, archive=True)


def test_one_click_archive_waits_for_the_scans_to_be_stored(session, operator, record, shot):
    [page] = capture(session, operator, record, shot)
    review(session, operator, page, "pass")
    source = Source(name="scanner", title="数字化拍摄", kind="manual", transport="manual", enabled=True)
    session.add(CollectedItem(source=source, source_document_id="scan-1-C02", record_id=record.id,
                              record_number=record.record_number, origin="scanned", state="fetched"))
    session.commit()
    with pytest.raises(Conflict, match="仍在处理"):
        service.finish(session, operator, record, archive=True)
    assert record.status == "awaiting"
