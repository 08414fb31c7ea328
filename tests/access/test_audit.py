"""The audit trail: chained events, tamper detection, retention-respecting purge (keyed chain: test_audit_keyed)."""
from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
import sqlalchemy as sa

from bingan.access.audit import Actor, RetentionError, purge_before, record_event, verify_chain
from bingan.storage.models import AuditEvent, utcnow


def _events(session, count: int = 5) -> list[AuditEvent]:
    actor = Actor(7, "u_archivist", "10.1.2.3")
    return [record_event(session, actor, "view", object_type="record", object_id=i, record_id=i,
                         detail={"页": i}) for i in range(1, count + 1)]


def test_events_chain_by_hash(session):
    events = _events(session)
    session.commit()
    assert events[0].prev_hash == ""
    assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(events))
    assert verify_chain(session) == []


def test_an_edited_event_is_detected(session):
    events = _events(session)
    session.commit()
    session.execute(sa.update(AuditEvent).where(AuditEvent.id == events[2].id).values(username="someone"))
    session.commit()
    problems = verify_chain(session)
    assert problems == [f"审计事件 #{events[2].id} 的内容被修改（哈希不符）"]


def test_a_deleted_event_is_detected(session):
    events = _events(session)
    session.commit()
    session.execute(sa.delete(AuditEvent).where(AuditEvent.id == events[1].id))
    session.commit()
    assert any("链断开" in problem for problem in verify_chain(session))


def test_purge_refuses_inside_the_retention_period(session):
    _events(session)
    with pytest.raises(RetentionError, match="180"):
        purge_before(session, utcnow() - timedelta(days=179), Actor(1, "u_auditor"))


def test_purge_reanchors_the_chain(session):
    from bingan.access.audit import sign

    events = _events(session, 6)
    session.flush()
    old = utcnow() - timedelta(days=400)
    for event in events[:3]:
        event.at = old
        sign(event)  # as if the system had written them 400 days ago
    session.commit()
    assert verify_chain(session) == []
    removed = purge_before(session, utcnow() - timedelta(days=200), Actor(1, "u_auditor"))
    session.commit()
    assert removed == 3
    assert verify_chain(session) == []
    assert session.scalar(sa.select(AuditEvent.action).order_by(AuditEvent.id.desc()).limit(1)) == "audit_purge"


def test_deleting_the_newest_events_is_detected(session):
    events = _events(session)
    session.commit()
    assert verify_chain(session) == []
    session.execute(sa.delete(AuditEvent).where(AuditEvent.id >= events[3].id))
    session.commit()
    problems = verify_chain(session)
    assert f"审计日志末尾的事件被删除：最后写入的是 #{events[4].id}，现存最新为 #{events[2].id}" in problems
    assert f"审计日志被截断：检查点记录已写入事件 #{events[4].id}，现存最新为 #{events[2].id}" in problems


def test_truncation_hidden_by_rewriting_the_head_row_still_shows_in_the_checkpoint_log(session):
    from bingan.storage.models import SystemSetting

    events = _events(session)
    session.commit()
    session.execute(sa.delete(AuditEvent).where(AuditEvent.id == events[4].id))
    session.get(SystemSetting, "audit_head").value = {"id": events[3].id, "hash": events[3].hash,
                                                      "pos": events[3].chain_seq}
    session.commit()
    truncated = f"审计日志被截断：检查点记录已写入事件 #{events[4].id}，现存最新为 #{events[3].id}"
    assert verify_chain(session) == [truncated]


def test_an_edited_checkpoint_is_detected(session):
    import json

    from bingan.access.audit_head import checkpoint_log

    events = _events(session)
    session.commit()
    path = checkpoint_log()
    body = json.loads(path.read_text())
    assert body["id"] == events[4].id
    path.write_text(json.dumps({**body, "id": events[2].id, "hash": events[2].hash}) + "\n")
    assert verify_chain(session) == ["审计检查点日志 audit-checkpoints.log 第1行无效（被修改、删除或插入）",
                                     f"审计检查点日志 {path} 缺失或无有效记录"]


def test_an_event_inserted_behind_the_systems_back_is_detected(session):
    events = _events(session)
    session.commit()
    forged = AuditEvent(at=utcnow(), username="x", action="view", prev_hash=events[4].hash, detail={})
    session.add(forged)
    session.flush()
    from bingan.access.audit import event_hash

    forged.hash = event_hash(forged.prev_hash, forged)
    session.commit()
    assert verify_chain(session) == [f"审计事件 #{forged.id} 不是由系统写入的（签名不符）"]
