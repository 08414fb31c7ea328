"""The record life cycle on SQLite and PostgreSQL: the move table, audit in the same transaction,
holds across states, the collection timer, and archived content that never changes silently."""
from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ingest"))

from ingest_support import ADMISSION, pdf

from bingan.access.audit import Actor
from bingan.config import get_settings, reset_settings
from bingan.errors import Conflict, Refusal
from bingan.formats import guard
from bingan.ingest.items import Report, enqueue, manual_source
from bingan.ingest.options import reset_options
from bingan.ingest.pipeline import Pipeline, run_until_settled
from bingan.records import changes, lifecycle
from bingan.search.port import Scope
from bingan.storage.models import (
    AuditEvent,
    CollectedItem,
    Department,
    Document,
    Patient,
    PendingChange,
    Record,
    Source,
    Version,
)
from bingan.worker.tick import tick

STATES = ("collecting", "awaiting", "submitted", "qc", "returned", "archived", "recalled")
# The specification: every allowed move, and nothing else.
ALLOWED = {
    ("collecting", "awaiting"), ("awaiting", "submitted"), ("submitted", "qc"), ("qc", "returned"),
    ("qc", "archived"), ("returned", "submitted"), ("archived", "recalled"), ("recalled", "submitted"),
}
PATH = {  # how the real moves reach each state from 采集中
    "collecting": [], "awaiting": ["awaiting"], "submitted": ["awaiting", "submitted"],
    "qc": ["awaiting", "submitted", "qc"], "returned": ["awaiting", "submitted", "qc", "returned"],
    "archived": ["awaiting", "submitted", "qc", "archived"],
    "recalled": ["awaiting", "submitted", "qc", "archived", "recalled"],
}
CLERK = Actor(None, "u_archivist", "10.0.0.5")
DISCHARGED = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


@pytest.fixture(scope="module", autouse=True)
def _no_pool_children_left():
    yield
    guard.close_shared_pool()


@pytest.fixture
def pipe(engine, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("BINGAN_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("BINGAN_INGEST_RETRY_BASE_SECONDS", "0.05")
    reset_settings()
    reset_options()
    pipeline = Pipeline(settings=get_settings(), engine=engine)
    yield pipeline
    pipeline.close()
    reset_options()


def new_record(session, number: str = "0012345", *, discharged_at: datetime | None = DISCHARGED) -> Record:
    department = session.scalars(sa.select(Department).where(Department.code == "HX")).one_or_none()
    department = department or Department(code="HX", name="呼吸内科")
    patient = Patient(record_number=number, name="张三", sex="M")
    record = Record(patient=patient, record_number=number, stay_number=1, discharge_department=department,
                    discharged_at=discharged_at)
    session.add(record)
    session.flush()
    return record


def bring_to(session, record: Record, state: str) -> None:
    for step in PATH[state]:
        lifecycle.move(session, lifecycle.SYSTEM, record, step, "准备")


def status_events(session, record: Record) -> list[AuditEvent]:
    return list(session.scalars(sa.select(AuditEvent).where(
        AuditEvent.record_id == record.id, AuditEvent.action == "status").order_by(AuditEvent.id)))


def test_the_move_table_is_the_specification():
    assert set(lifecycle.MOVES) == ALLOWED
    assert set(lifecycle.STATE_NAMES) == set(STATES)


@pytest.mark.parametrize(("before", "after"), sorted(ALLOWED))
def test_an_allowed_move_changes_the_status_and_is_audited_with_who_from_to_and_why(session, before, after):
    record = new_record(session)
    bring_to(session, record, before)
    lifecycle.move(session, CLERK, record, after, "质控意见已处理")
    assert record.status == after and record.status_changed_at is not None
    event = status_events(session, record)[-1]
    assert (event.username, event.client_ip) == ("u_archivist", "10.0.0.5")
    assert event.detail["原状态"] == lifecycle.STATE_NAMES[before]
    assert event.detail["新状态"] == lifecycle.STATE_NAMES[after]
    assert event.detail["原因"] == "质控意见已处理" and event.detail["操作"] == lifecycle.MOVES[(before, after)]


def test_every_other_move_is_a_conflict_naming_the_current_state_and_changes_nothing(session):
    record = new_record(session)
    refused = [(a, b) for a in STATES for b in STATES if (a, b) not in ALLOWED]
    for before, after in refused:
        savepoint = session.begin_nested()
        bring_to(session, record, before)
        events = len(status_events(session, record))
        with pytest.raises(Conflict) as refusal:
            lifecycle.move(session, CLERK, record, after, "")
        assert f"“{lifecycle.STATE_NAMES[before]}”" in refusal.value.message, (before, after)
        assert record.status == before and len(status_events(session, record)) == events
        savepoint.rollback()  # back to 采集中 for the next pair


def test_archiving_stamps_the_submission_and_archive_times(session):
    record = new_record(session)
    bring_to(session, record, "archived")
    assert record.submitted_at is not None and record.archived_at is not None


def test_a_move_and_its_audit_event_are_one_transaction(engine):
    from bingan.storage.db import session_factory

    Session = session_factory(engine)
    with Session() as session, session.begin():
        record_id = new_record(session).id
    with Session() as session:
        session.begin()
        lifecycle.move(session, CLERK, session.get(Record, record_id), "awaiting", "采集完成")
        session.rollback()
    with Session() as session:
        record = session.get(Record, record_id)
        assert record.status == "collecting" and status_events(session, record) == []


def test_sealing_is_a_hold_across_states_with_a_required_reason(session):
    record = new_record(session)
    bring_to(session, record, "qc")
    with pytest.raises(Refusal):
        lifecycle.seal(session, CLERK, record, " ")
    lifecycle.seal(session, CLERK, record, "医疗纠纷")
    assert record.sealed and record.status == "qc"
    with pytest.raises(Conflict, match="已封存"):
        lifecycle.seal(session, CLERK, record, "再次封存")
    lifecycle.move(session, CLERK, record, "archived", "质控通过")  # the hold does not stop the life cycle
    lifecycle.unseal(session, CLERK, record, "纠纷已了结")
    assert not record.sealed and record.status == "archived"
    actions = [e.action for e in session.scalars(sa.select(AuditEvent).where(AuditEvent.record_id == record.id))]
    assert actions.count("seal") == 1 and actions.count("unseal") == 1


def test_legal_hold_is_placed_and_released_once_each(session):
    record = new_record(session)
    lifecycle.place_legal_hold(session, CLERK, record, "法院调取")
    assert record.legal_hold and lifecycle.content_frozen(record)
    with pytest.raises(Conflict):
        lifecycle.place_legal_hold(session, CLERK, record, "法院调取")
    lifecycle.release_legal_hold(session, CLERK, record, "案件审结")
    assert not record.legal_hold and not lifecycle.content_frozen(record)


# --- 采集中 → 待提交 -----------------------------------------------------------------------

def test_collection_closes_after_the_longest_source_window_since_discharge(session):
    session.add(Source(name="EMR", collection_delay_hours=24, recollect_days=3))
    session.add(Source(name="OLD", collection_delay_hours=24 * 30, enabled=False))  # disabled: not waited for
    record = new_record(session)
    assert lifecycle.close_collections(session, now=DISCHARGED + timedelta(days=2)) == []
    assert lifecycle.close_collections(session, now=DISCHARGED + timedelta(days=3, minutes=1)) == [record.id]
    assert record.status == "awaiting"
    assert status_events(session, record)[-1].username == "系统"


def test_a_stay_not_discharged_or_with_documents_in_the_pipeline_keeps_collecting(session):
    source = Source(name="EMR")
    session.add(source)
    open_stay = new_record(session, "0000001", discharged_at=None)
    busy = new_record(session, "0000002")
    session.add(CollectedItem(source=source, source_document_id="d1", record_number="0000002", stay=1,
                              state="stored"))
    done = new_record(session, "0000003")
    session.add(CollectedItem(source=source, source_document_id="d2", record_number="0000003", stay=1,
                              state="indexed"))
    session.flush()
    assert lifecycle.close_collections(session, now=DISCHARGED + timedelta(days=1)) == [done.id]
    assert (open_stay.status, busy.status) == ("collecting", "collecting")


def test_the_worker_tick_closes_finished_collections(pipe):
    with pipe.tx() as session:
        record_id = new_record(session).id
    tick(pipe, run_inline=True)
    with pipe.tx() as session:
        assert session.get(Record, record_id).status == "awaiting"


# --- archived content never changes silently --------------------------------------------------

REVISED = [ADMISSION[0], ["体格检查：双肺可闻及湿啰音。", "初步诊断：重症肺炎。"]]


def ingest(pipe, data: bytes, doc_id: str = "EMR-1") -> CollectedItem:
    staged = pipe.staging / f"t-{doc_id}-{hash(data)}"
    staged.write_bytes(data)
    with pipe.tx() as session:
        item, _ = enqueue(session, manual_source(session), Report(
            source_document_id=doc_id, record_number="0012345", stay=1, document_type_code="C0201",
            revision=str(hash(data)), filename="入院记录.pdf"), staged_path=str(staged))
        item_id = item.id
    run_until_settled(pipe, [item_id], timeout=60)
    with pipe.tx() as session:
        found = session.get(CollectedItem, item_id)
        session.expunge(found)
        return found


@pytest.fixture
def archived(pipe) -> CollectedItem:
    """Record 0012345 with its 入院记录 collected, then archived."""
    with pipe.tx() as session:
        new_record(session)
    first = ingest(pipe, pdf(ADMISSION))
    with pipe.tx() as session:
        bring_to(session, session.get(Record, first.record_id), "archived")
    return first


def test_a_new_version_for_an_archived_record_is_held_and_the_archived_one_stays_current(pipe, archived):
    second = ingest(pipe, pdf(REVISED))
    assert second.state == "indexed" and second.version_id != archived.version_id
    with pipe.tx() as session:
        document = session.get(Document, archived.document_id)
        assert document.current_version_id == archived.version_id
        held = changes.pending_changes(session, archived.record_id)
        assert [(c.version_id, c.new_document) for c in held] == [(second.version_id, False)]
    assert pipe.index.search("重症肺炎", Scope.everything()).total == 0
    assert pipe.index.search("社区获得性肺炎", Scope.everything()).total == 1


def test_an_accepted_change_becomes_current_and_searchable(pipe, archived):
    second = ingest(pipe, pdf(REVISED))
    with pipe.tx() as session:
        change = changes.pending_changes(session, archived.record_id)[0]
        changes.accept_change(session, CLERK, change, "补充诊断")
    tick(pipe, run_inline=True)
    run_until_settled(pipe, [second.id], timeout=60)
    with pipe.tx() as session:
        assert session.get(Document, archived.document_id).current_version_id == second.version_id
        assert changes.pending_changes(session, archived.record_id) == []
        event = session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "pending_change")).one()
        assert event.detail["决定"] == "接受" and event.username == "u_archivist"
    assert pipe.index.search("重症肺炎", Scope.everything()).total == 1


def test_a_rejected_change_needs_a_reason_and_stays_out_of_the_record(pipe, archived):
    second = ingest(pipe, pdf(REVISED))
    with pipe.tx() as session:
        change = changes.pending_changes(session, archived.record_id)[0]
        with pytest.raises(Refusal):
            changes.reject_change(session, CLERK, change, "")
        changes.reject_change(session, CLERK, change, "与归档内容不符")
        with pytest.raises(Conflict):
            changes.accept_change(session, CLERK, change)
    with pipe.tx() as session:
        assert session.get(Document, archived.document_id).current_version_id == archived.version_id
        assert session.get(PendingChange, change.id).state == "rejected"
        assert session.get(Version, second.version_id) is not None  # kept in the history


def test_a_document_first_collected_after_archiving_stays_hidden_until_accepted(pipe, archived):
    late = ingest(pipe, pdf([["出院记录", "出院诊断：社区获得性肺炎，好转出院。"]]), doc_id="EMR-2")
    with pipe.tx() as session:
        document = session.get(Document, late.document_id)
        assert document.removed
        change = changes.pending_changes(session, archived.record_id)[0]
        assert change.new_document and change.version_id == late.version_id
        changes.accept_change(session, CLERK, change, "补采出院记录")
    with pipe.tx() as session:
        assert not session.get(Document, late.document_id).removed


def test_a_sealed_record_in_collection_holds_new_content_too(pipe):
    with pipe.tx() as session:
        record = new_record(session)
        lifecycle.seal(session, CLERK, record, "医疗纠纷")
    item = ingest(pipe, pdf(ADMISSION))
    with pipe.tx() as session:
        assert session.get(Document, item.document_id).removed
        assert len(changes.pending_changes(session, item.record_id)) == 1
