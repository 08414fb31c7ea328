"""Retention (保存期限与到期销毁, V5) as a specification, on SQLite and PostgreSQL: when a record is
due (the patient's last stay or visit + the years of its rule, the anniversary included), what is
never due (sealed, held), and what destroying does after the last approval — page text and files
gone, the document list and every version's SHA-256 kept in the register."""
from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "access"))

from world import PASSWORD, World, add_pdf_document, build_world, pdf_bytes, store_pdf

from bingan.access.accounts import create_user
from bingan.access.audit import Actor
from bingan.config import get_settings
from bingan.errors import Conflict
from bingan.records import lifecycle
from bingan.records.approvals import engine
from bingan.records.retention import service
from bingan.records.workflows import install
from bingan.storage.blobs.port import open_blob_store
from bingan.storage.models import AuditEvent, Document, Page, Patient, Record, Version
from bingan.storage.models.retention import Destruction
from bingan.storage.models.search import IndexAccessOutbox

TODAY = date(2026, 12, 7)


@pytest.fixture(autouse=True)
def kinds():
    install()


@pytest.fixture
def world(session) -> World:
    built = build_world(session)
    built.users["archivist2"] = create_user(session, "u_archivist2", PASSWORD, ["archivist"], full_name="复核员",
                                            department_code="0301", must_change_password=False)
    session.commit()
    return built


def _discharged(record: Record, day: date, visit_type: str = "inpatient") -> Record:
    record.discharged_at = datetime(day.year, day.month, day.day, 2, 0, tzinfo=UTC)  # 10:00 in Beijing
    record.visit_type = visit_type
    return record


def _due_numbers(session) -> list[str]:
    return [row.record.record_number for row in service.due_records(session, TODAY)]


@pytest.mark.parametrize(("last_day", "visit_type", "due"), [
    (date(1996, 12, 6), "inpatient", True),  # 30 years and a day
    (date(1996, 12, 7), "inpatient", True),  # the anniversary itself
    (date(1996, 12, 8), "inpatient", False),  # one day short
    (date(2011, 12, 7), "outpatient", True),  # outpatient: 15 years
    (date(2011, 12, 8), "outpatient", False),
])
def test_a_record_is_due_once_its_years_have_passed_since_the_last_visit(session, world, last_day, visit_type, due):
    _discharged(world.records["normal"], last_day, visit_type)
    session.flush()
    assert (world.records["normal"].record_number in _due_numbers(session)) is due


def test_the_patients_last_stay_counts_not_the_records_own(session, world):
    old = _discharged(world.records["normal"], date(1980, 1, 5))
    later = Record(patient=old.patient, record_number=old.record_number, stay_number=2,
                   discharged_at=datetime(2005, 3, 1, tzinfo=UTC))
    session.add(later)
    session.flush()
    assert old.record_number not in _due_numbers(session)


def test_sealed_and_held_records_are_never_due(session, world):
    for state in ("normal", "sealed"):
        _discharged(world.records[state], date(1980, 1, 5))
    lifecycle.place_legal_hold(session, lifecycle.SYSTEM, world.records["normal"], "诉讼")
    session.flush()
    assert _due_numbers(session) == []


def test_a_rule_for_a_kind_overrides_the_visit_types_rule(session, world):
    record = _discharged(world.records["normal"], date(1990, 1, 5))
    record.kind = "death"
    service.save_rule(session, Actor(None, "测试"), "inpatient", "death", 50)
    session.flush()
    assert record.record_number not in _due_numbers(session)
    record.kind = "normal"
    assert record.record_number in _due_numbers(session)


def _destroy(session, world: World, record: Record) -> None:
    archivist, second, affairs = (world.users[name] for name in ("archivist", "archivist2", "medical_affairs"))
    request, = service.apply_destroy(session, Actor.of(archivist), archivist, [record.id], "保存期满")
    engine.decide(session, Actor.of(second), second, request.id, "approve", "已复核")
    engine.decide(session, Actor.of(affairs), affairs, request.id, "approve", "同意销毁")
    session.commit()


def test_the_last_approval_destroys_the_content_and_keeps_a_tombstone(session, world):
    record = _discharged(world.records["normal"], date(1990, 1, 5))
    session.commit()
    version = world.documents["normal"][0].current_version
    _destroy(session, world, record)
    tombstone = session.scalars(sa.select(Destruction).where(Destruction.record_id == record.id)).one()
    assert tombstone.last_visit_on == date(1990, 1, 5) and tombstone.due_on == date(2020, 1, 5)
    assert tombstone.documents[0]["versions"][0]["sha256"] == version.sha256
    assert session.scalar(sa.select(sa.func.count()).select_from(Page).where(Page.version_id == version.id)) == 0
    assert session.get(Document, version.document_id).removed
    assert session.scalar(sa.select(IndexAccessOutbox.id).where(IndexAccessOutbox.record_id == record.id))
    assert session.scalars(sa.select(AuditEvent.action).where(AuditEvent.record_id == record.id,
                                                               AuditEvent.action == "record.destroy")).one()
    assert record.record_number not in _due_numbers(session)


def test_files_leave_the_volumes_after_the_commit_unless_another_record_uses_them(session, world):
    record = _discharged(world.records["normal"], date(1990, 1, 5))
    kept = world.documents["normal"][0]
    other = add_pdf_document(session, world.records["other_department"], "会诊记录")
    shared = Version(document=other, number=2, sha256=kept.current_version.sha256, size=1, filename="copy.pdf")
    session.add(shared)
    lone = store_pdf(pdf_bytes("只属于这份病案"), record.record_number)
    session.add(Version(document=kept, number=2, sha256=lone, size=1, filename="v2.pdf"))
    session.commit()
    _destroy(session, world, record)
    store = open_blob_store(get_settings())
    assert service.remove_destroyed_files(session, store, datetime.now(UTC)) == 1
    assert store.exists(kept.current_version.sha256) and not store.exists(lone)
    assert service.remove_destroyed_files(session, store, datetime.now(UTC)) == 0  # once


def test_applying_for_a_record_not_yet_due_says_when_it_will_be(session, world):
    archivist = world.users["archivist"]
    with pytest.raises(Conflict, match="才届满"):
        service.apply_destroy(session, Actor.of(archivist), archivist, [world.records["normal"].id], "清理")


def test_a_hold_placed_during_the_approval_stops_the_destruction(session, world):
    record = _discharged(world.records["normal"], date(1990, 1, 5))
    session.commit()
    archivist, second, affairs = (world.users[name] for name in ("archivist", "archivist2", "medical_affairs"))
    request, = service.apply_destroy(session, Actor.of(archivist), archivist, [record.id], "保存期满")
    engine.decide(session, Actor.of(second), second, request.id, "approve", "已复核")
    lifecycle.place_legal_hold(session, lifecycle.SYSTEM, record, "患者家属起诉")
    session.commit()
    with pytest.raises(Conflict, match="法律保全"):
        engine.decide(session, Actor.of(affairs), affairs, request.id, "approve", "同意")
    session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(Destruction)) == 0
    assert session.scalar(sa.select(sa.func.count()).select_from(Patient)) > 0
