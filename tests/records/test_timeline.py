"""A record's timeline in the record room's words (records/timeline.py, K2)."""
from __future__ import annotations

from bingan.access.audit import Actor, record_event
from bingan.records import lifecycle
from bingan.records.timeline import timeline
from bingan.storage.models import Patient, Record


def _record(session) -> Record:
    record = Record(patient=Patient(record_number="ZY8001", name="孙八"), record_number="ZY8001", stay_number=1,
                    visit_type="inpatient", status="awaiting")
    session.add(record)
    session.flush()
    return record


def test_submission_return_and_archiving_are_named_with_their_states_and_reason(session):
    record, doctor, qc = _record(session), Actor(None, "u_doctor"), Actor(None, "u_qc")
    lifecycle.move(session, doctor, record, "submitted")
    lifecycle.move(session, qc, record, "qc")
    lifecycle.move(session, qc, record, "returned", reason="首次病程记录缺上级医师签名")
    entries = timeline(session, record.id, with_readers=False)
    assert [e.label for e in entries] == ["质控退回", "开始质控", "提交归档"]
    assert "质控中 → 已退回" in entries[0].note and "缺上级医师签名" in entries[0].note
    assert entries[2].username == "u_doctor"


def test_who_read_the_record_is_left_out_without_readers(session):
    record = _record(session)
    record_event(session, Actor(None, "u_nurse"), "view", object_type="record", object_id=record.id,
                 record_id=record.id)
    record_event(session, Actor(None, "u_qc"), "qc.comment", object_type="record", object_id=record.id,
                 record_id=record.id, detail={"意见": "缺手术记录"})
    assert [e.label for e in timeline(session, record.id, with_readers=False)] == ["质控意见"]
    assert [e.label for e in timeline(session, record.id, with_readers=True)] == ["质控意见", "查阅"]
