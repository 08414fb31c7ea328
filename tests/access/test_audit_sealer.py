"""Audit events are appended without a hospital-wide lock and chained by the sealer (issue 12 item 6)."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import sqlalchemy as sa

from bingan.access.audit import Actor, record_event, verify_chain
from bingan.access.audit_seal import SEAL_GRACE_SECONDS, seal_all
from bingan.storage.db import session_factory
from bingan.storage.models import AuditEvent, utcnow

ACTOR = Actor(7, "u_clinician", "10.1.2.3")


def _chain(engine) -> list[tuple[int, int]]:
    with session_factory(engine)() as session:
        return [tuple(row) for row in session.execute(
            sa.select(AuditEvent.chain_seq, AuditEvent.id).order_by(AuditEvent.chain_seq))]


def test_events_are_chained_in_the_order_their_transactions_commit(engine):
    early, late = session_factory(engine)(), session_factory(engine)()
    first = record_event(early, ACTOR, "view", record_id=1).id
    early.flush()
    if engine.dialect.name == "sqlite":  # one writer at a time: the first transaction commits first
        early.commit()
        second = record_event(late, ACTOR, "view", record_id=2).id
        late.commit()
        order = [first, second]
    else:  # the lower id commits last and is still chained, after the higher one
        late.execute(sa.text("SET LOCAL lock_timeout = '2s'"))  # before: blocked on the audit lock
        second = record_event(late, ACTOR, "view", record_id=2).id
        late.commit()
        early.commit()
        order = [second, first]
    early.close(), late.close()
    assert [event_id for _, event_id in _chain(engine)] == order
    with session_factory(engine)() as session:
        assert verify_chain(session) == []


def test_an_appended_event_waits_for_no_other_writers_audit(engine):
    if engine.dialect.name == "sqlite":
        return  # SQLite has one writer at a time whatever the audit does
    holding, other = session_factory(engine)(), session_factory(engine)()
    record_event(holding, ACTOR, "view", record_id=1)
    holding.flush()  # an open transaction with an appended event
    other.execute(sa.text("SET LOCAL lock_timeout = '2s'"))
    record_event(other, ACTOR, "view", record_id=2)
    other.commit()  # before: blocked on the audit lock until ``holding`` ended
    holding.commit()
    holding.close(), other.close()
    with session_factory(engine)() as session:
        assert verify_chain(session) == []


def _crash_after_commit(engine) -> None:
    """A process that appends an event and dies right after the commit, before any sealer ran."""
    script = (
        "import os, sys; from sqlalchemy import event; "
        "from bingan.access.audit import Actor, record_event; "
        "from bingan.storage.db import make_engine, session_factory; "
        "session = session_factory(make_engine(sys.argv[1]))(); "
        "event.listen(session, 'after_commit', lambda s: os._exit(0)); "
        "record_event(session, Actor(7, 'u_clinician'), 'view', record_id=3); session.commit()"
    )
    url = engine.url.render_as_string(hide_password=False)
    subprocess.run([sys.executable, "-c", script, url], env=os.environ.copy(), check=True, timeout=120)


def test_a_crash_between_append_and_seal_leaves_a_verifiable_archive(session, engine):
    record_event(session, ACTOR, "view", record_id=1)
    session.commit()
    _crash_after_commit(engine)
    assert session.scalar(sa.select(sa.func.count()).where(AuditEvent.chain_seq.is_(None))) == 1
    assert verify_chain(session) == []  # young and signed: on its way into the chain
    session.rollback()
    assert seal_all(engine) == 1  # the next sealer (web server, worker tick) chains it
    assert verify_chain(session) == []


def test_an_event_left_unsealed_too_long_is_reported(session, engine):
    _crash_after_commit(engine)
    crashed = session.scalar(sa.select(AuditEvent.id))
    later = utcnow() + timedelta(seconds=SEAL_GRACE_SECONDS + 1)
    assert verify_chain(session, now=later) == [
        f"审计事件 #{crashed} 写入超过{SEAL_GRACE_SECONDS}秒仍未封链（封链程序未运行？）"]


def test_the_sealer_never_chains_an_event_inserted_by_sql(session, engine):
    record_event(session, ACTOR, "view", record_id=1)
    session.commit()
    forged = session.execute(sa.insert(AuditEvent.__table__).values(
        at=utcnow(), username="u_clinician", action="view", detail={}, chain_version=2, row_mac="0" * 64,
    ).returning(AuditEvent.id)).scalar_one()
    session.commit()
    assert seal_all(engine) == 0
    assert session.scalar(sa.select(AuditEvent.chain_seq).where(AuditEvent.id == forged)) is None
    assert verify_chain(session) == [f"审计事件 #{forged} 不是由系统写入的（签名不符）"]


def test_an_edited_unsealed_event_is_not_chained(session, engine):
    _crash_after_commit(engine)
    session.execute(sa.update(AuditEvent).values(username="someone"))
    session.commit()
    assert seal_all(engine) == 0
    edited = session.scalar(sa.select(AuditEvent.id))
    assert verify_chain(session) == [f"审计事件 #{edited} 不是由系统写入的（签名不符）"]


def _sealed(engine) -> list[bool]:
    with session_factory(engine)() as session:
        return [seq is not None for seq in session.scalars(sa.select(AuditEvent.chain_seq).order_by(AuditEvent.id))]


def test_a_released_savepoint_seals_nothing_until_the_outer_transaction_commits(engine):
    with session_factory(engine)() as session:
        session.begin()
        record_event(session, ACTOR, "view", record_id=1)
        with session.begin_nested():  # released here: SQLAlchemy fires after_commit for it
            record_event(session, ACTOR, "view", record_id=2)
        assert session.in_transaction()  # before: sealing here waited for this transaction's own lock
        session.commit()
    assert _sealed(engine) == [True, True]


def test_a_rolled_back_savepoint_keeps_the_outer_transactions_events_for_sealing(engine):
    with session_factory(engine)() as session:
        session.begin()
        outer = record_event(session, ACTOR, "view", record_id=1)
        nested = session.begin_nested()
        record_event(session, ACTOR, "view", record_id=2)
        nested.rollback()
        session.commit()
        assert outer.chain_seq == 1  # expired at the commit and read back sealed
    assert _sealed(engine) == [True]


def test_a_disposed_engines_background_sealer_stops(sqlite_engine):
    from bingan.access import audit_seal

    audit_seal.start_sealer(sqlite_engine)
    sealer = audit_seal._sealers[sqlite_engine]
    sqlite_engine.dispose()  # a test database about to be dropped: no more retries against it
    sealer.thread.join(timeout=10)
    assert not sealer.thread.is_alive() and sqlite_engine not in audit_seal._sealers
