"""The demo record room after loading: records in every life-cycle state, sealed ones with their
reason, one under legal hold, versions collected after archiving waiting as pending changes, and
records of other departments lent to the demo clinician by an approved borrowing request — the
same for the same seed, made through the life cycle, the approval engine and the pipeline."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from bingan.ingest.demo.accounts import ensure_demo_accounts
from bingan.ingest.demo.states import plan
from bingan.ingest.demo_load import load_demo
from bingan.storage.models import ApprovalRequest, AuditEvent, Grant, PendingChange, Record, User

RECORDS = 20
A, W, S, Q, R = "archived", "awaiting", "submitted", "qc", "returned"
# (status, sealed, legal hold) by position in (病案号, 住院次数) order, for 20 records of seed 2026.
EXPECTED = [
    (A, False, False), (W, False, False), (A, False, False), (S, False, False), (A, False, False),
    (Q, False, False), (A, False, False), (R, False, False), (A, False, False), (A, False, False),
    (A, False, False), (W, False, False), ("recalled", False, False), (S, False, False), (A, True, False),
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


def test_the_plan_is_the_expected_table():
    assert [(p.status, bool(p.sealed), p.legal_hold) for p in map(plan, range(RECORDS))] == EXPECTED


def test_every_state_hold_change_and_loan_is_there_after_loading(loaded):
    with loaded.tx() as session:
        records = _records(session)
        assert [(r.status, r.sealed, r.legal_hold) for r in records] == EXPECTED
        assert all(r.archived_at is not None for r in records if r.status in ("archived", "recalled"))
        sealed = records[14]
        assert session.scalar(sa.select(AuditEvent.detail).where(
            AuditEvent.action == "seal", AuditEvent.record_id == sealed.id))["原因"] == "医疗纠纷，患方申请封存"
        changed = set(session.scalars(sa.select(PendingChange.record_id).where(PendingChange.state == "pending")))
        assert changed == {records[10].id, records[16].id}
        clinician = session.scalars(sa.select(User).where(User.username == "clinician")).one()
        loans = session.scalars(sa.select(ApprovalRequest).where(ApprovalRequest.applicant_id == clinician.id)).all()
        assert len(loans) == 2 and {loan.status for loan in loans} == {"approved"}
        lent = {loan.record_id for loan in loans}
        assert set(session.scalars(sa.select(Grant.record_id).where(Grant.user_id == clinician.id))) == lent
        assert all(session.get(Record, record_id).discharge_department.code != clinician.department.code
                   for record_id in lent)
        positions = {record.id: position for position, record in enumerate(records)}
        assert min(positions[record_id] for record_id in lent) >= 10  # the showcase patients stay on their wards


def test_loading_again_changes_no_state(loaded):
    with loaded.tx() as session:
        before = [(r.status, r.sealed, r.legal_hold, r.status_changed_at) for r in _records(session)]
    load_demo(loaded, RECORDS)
    with loaded.tx() as session:
        assert [(r.status, r.sealed, r.legal_hold, r.status_changed_at) for r in _records(session)] == before
        assert session.scalar(sa.select(sa.func.count()).select_from(ApprovalRequest)) == 2
