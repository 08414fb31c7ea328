"""The demo record room after loading, made through the real workflows — submission with its
self-checks, archive QC, the approval engine (科主任 then 医务处 or 病案室), the pipeline — and the
same for the same seed. For 20 records of seed 2026 (病案号, 住院次数 order):

- 待提交: 1 (病理报告 marked missing by the head of 呼吸内科), 11.
- 待质控: 3 (the EMR's completion event), 13 (returned once, answered, resubmitted to the same reviewer).
- 质控中: 5 and 15 (taken by 质控科, two unsent comments; 15 marked special 教学病例).
- 已退回: 7 and 17 (a medical comment to the department head), 4 (the demo clinician's own
  肺结核 patient: 退回给我的病案).
- 召回中: 0 (the clinician's ward: recalled, approved by the head and the record room); 6 stays
  archived, printed for the patient, its recall waiting for the head with the printed warning.
- 已归档 through QC pass: the rest; 14 sealed with its reason, 18 under legal hold, 10 and 16 with a
  version collected after archiving waiting for review, 10 and 12 lent to the demo clinician, 19 with
  its missing consultation record collected later (补收, the mark closed by the record room).
"""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from bingan.ingest.demo.accounts import ensure_demo_accounts
from bingan.ingest.demo.states import plan
from bingan.ingest.demo_load import load_demo
from bingan.records.qc.worklist import returned_count
from bingan.storage.models import ApprovalRequest, ApprovalTask, AuditEvent, Grant, PendingChange, Record, User
from bingan.storage.models.completeness import CheckRun, Mark
from bingan.storage.models.qc import QcComment, QcReturn, QcReview
from bingan.storage.models.recall import Recall
from bingan.storage.models.scoring import FinalScore, ScoringTask, ScoringTaskRecord

RECORDS = 20
A, W, S, Q, R = "archived", "awaiting", "submitted", "qc", "returned"
# (status, sealed, legal hold) by position.
EXPECTED = [
    ("recalled", False, False), (W, False, False), (A, False, False), (S, False, False), (R, False, False),
    (Q, False, False), (A, False, False), (R, False, False), (A, False, False), (A, False, False),
    (A, False, False), (W, False, False), (A, False, False), (S, False, False), (A, True, False),
    (Q, False, False), (A, False, False), (R, False, False), (A, False, True), (A, False, False),
]


@pytest.fixture
def loaded(pipe, tmp_path):
    with pipe.tx() as session:
        ensure_demo_accounts(session, tmp_path / "demo-accounts.txt")
    load_demo(pipe, RECORDS)
    return pipe


def _records(session) -> list[Record]:
    return list(session.scalars(sa.select(Record).order_by(Record.record_number, Record.stay_number)))


def _user(session, username: str) -> User:
    return session.scalars(sa.select(User).where(User.username == username)).one()


def test_the_plan_by_position_is_the_expected_table():
    planned = [plan(position, own=position == 4) for position in range(RECORDS)]
    expected = [(A if status == "recalled" else status, sealed, hold) for status, sealed, hold in EXPECTED]
    assert [(p.status, bool(p.sealed), p.legal_hold) for p in planned] == expected
    assert [p.mark for p in planned if p.mark] == ["missing", "special", "collected"]
    assert [position for position, p in enumerate(planned) if p.reworked] == [13]


def test_the_demo_record_room_after_loading_and_after_loading_again(loaded):
    """One load per database (it is the slow part): each concern below reads the same room."""
    with loaded.tx() as session:
        records = _records(session)
        _states_holds_changes_and_loans(session, records)
        _self_checks_and_qc_through_the_reviewer(session, records)
        _returns_reach_their_owners_and_the_resubmission_the_same_reviewer(session, records)
        _marks_recalls_and_the_printed_warning(session, records)
        _a_final_qc_task_with_scored_records(session, records)
        before = [(r.status, r.sealed, r.legal_hold, r.status_changed_at) for r in records]
    load_demo(loaded, RECORDS)
    with loaded.tx() as session:
        assert [(r.status, r.sealed, r.legal_hold, r.status_changed_at) for r in _records(session)] == before
        assert session.scalar(sa.select(sa.func.count()).select_from(ApprovalRequest)
                              .where(ApprovalRequest.kind == "borrow")) == 2
        assert session.scalar(sa.select(sa.func.count()).select_from(ScoringTask)) == 1


def _a_final_qc_task_with_scored_records(session, records: list[Record]) -> None:
    """The month of the record in QC, drawn whole; its archived records scored, the one in QC left
    to score with its unsent comments to propose."""
    task = session.scalars(sa.select(ScoringTask)).one()
    drawn = set(session.scalars(sa.select(ScoringTaskRecord.record_id).where(ScoringTaskRecord.task_id == task.id)))
    assert records[5].id in drawn and task.seed == 2026 and task.rule["percent"] == 100
    finals = session.scalars(sa.select(FinalScore).where(FinalScore.task_id == task.id)).all()
    by_id = {r.id: r for r in records}
    assert all(s.status == "final" and by_id[s.record_id].status == A for s in finals)
    assert records[5].id not in {s.record_id for s in finals}


def _states_holds_changes_and_loans(session, records: list[Record]) -> None:
    assert [(r.status, r.sealed, r.legal_hold) for r in records] == EXPECTED
    assert all(r.archived_at is not None for r in records if r.status in ("archived", "recalled"))
    sealed = records[14]
    assert session.scalar(sa.select(AuditEvent.detail).where(
        AuditEvent.action == "seal", AuditEvent.record_id == sealed.id))["原因"] == "医疗纠纷，患方申请封存"
    changed = set(session.scalars(sa.select(PendingChange.record_id).where(PendingChange.state == "pending")))
    assert changed == {records[10].id, records[16].id}
    clinician = _user(session, "clinician")
    loans = session.scalars(sa.select(ApprovalRequest).where(ApprovalRequest.applicant_id == clinician.id,
                                                             ApprovalRequest.kind == "borrow")).all()
    assert len(loans) == 2 and {loan.status for loan in loans} == {"approved"}
    lent = {loan.record_id for loan in loans}
    assert lent == {records[10].id, records[12].id}  # the showcase patients stay on their wards
    assert set(session.scalars(sa.select(Grant.record_id).where(Grant.user_id == clinician.id))) >= lent
    approvers = {session.get(User, task.user_id).username for task in session.scalars(
        sa.select(ApprovalTask).where(ApprovalTask.request_id.in_([loan.id for loan in loans])))}
    assert approvers >= {"head_zl01", "medaffairs"}  # the record's 科主任, then 医务处


def _self_checks_and_qc_through_the_reviewer(session, records: list[Record]) -> None:
    reviewer = _user(session, "qc")
    checked = set(session.scalars(sa.select(CheckRun.record_id).where(CheckRun.passed)))
    assert checked == {r.id for r in records if r.status != W}
    passed = {review.record_id: review for review in session.scalars(
        sa.select(QcReview).where(QcReview.status == "passed"))}
    archived = {r.id for r in records if r.status in (A, "recalled")}
    assert set(passed) == archived and {review.passed_by_id for review in passed.values()} == {reviewer.id}
    in_qc = session.scalars(sa.select(QcComment).where(QcComment.record_id == records[5].id)).all()
    assert len(in_qc) == 2 and all(c.return_id is None for c in in_qc)
    assert {c.kind for c in in_qc} == {"medical", "nursing"}


def _returns_reach_their_owners_and_the_resubmission_the_same_reviewer(session, records: list[Record]) -> None:
    reviewer, clinician = _user(session, "qc"), _user(session, "clinician")
    assert returned_count(session, clinician) == 1  # 退回给我的病案: his own patient, position 4
    returned = session.scalars(sa.select(QcReturn).where(QcReturn.record_id == records[7].id)).one()
    assert [owner.user.username for owner in returned.owners] == ["head_nk03"]
    reworked = session.scalars(sa.select(QcReturn).where(QcReturn.record_id == records[13].id)).one()
    assert reworked.resubmitted_at is not None and reworked.returned_by_id == reviewer.id
    review = session.get(QcReview, reworked.review_id)
    assert (review.status, review.assigned_to_id) == ("open", reviewer.id)
    answered = session.scalars(sa.select(QcComment).where(QcComment.return_id == reworked.id)).one()
    assert answered.reply.startswith("已补充")


def _marks_recalls_and_the_printed_warning(session, records: list[Record]) -> None:
    marks = {(m.record_id, m.kind, m.state) for m in session.scalars(sa.select(Mark))}
    assert marks == {(records[1].id, "missing", "open"), (records[15].id, "special", "open"),
                     (records[19].id, "missing", "closed")}
    recall = session.scalars(sa.select(Recall)).one()
    assert recall.record_id == records[0].id and recall.state == "recalled"
    waiting = session.scalars(sa.select(ApprovalRequest).where(ApprovalRequest.kind == "recall",
                                                               ApprovalRequest.status == "pending")).one()
    assert waiting.record_id == records[6].id and waiting.payload["printed_copies"]

