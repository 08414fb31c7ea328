"""The audit sealer (封链): chains appended events in the order they were committed.

Requests append their events signed (``row_mac``, keyed) but unchained, in their own transaction
and without any lock shared by the hospital. One sealer at a time (PostgreSQL: a transaction-level
advisory lock; SQLite: the write lock) takes the committed, unsealed events, checks each one's
signature, and chains them after the newest sealed event: place (``chain_seq``), ``prev_hash``,
keyed ``hash``, the head row and — after its commit — the checkpoint log. An event whose signature
does not verify (inserted by SQL) is never chained; ``bingan verify`` reports it, and reports any
event left unsealed longer than SEAL_GRACE_SECONDS.

Who seals: a process that started ``start_sealer`` (the web server) has a background thread,
woken by every commit that appended events; elsewhere (worker, CLI, tests) the events are sealed
right after the commit that appended them. The worker's tick also seals whatever a crashed
process left behind.
"""
from __future__ import annotations

import logging
import threading
import weakref

import sqlalchemy as sa
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from bingan.storage.db import session_factory, take_write_lock
from bingan.storage.models import AuditEvent

log = logging.getLogger(__name__)
ADVISORY_LOCK_KEY = 0x6269_6E67_6175_6469  # "bingaudi"; shared by every sealer and by verify
SEAL_GRACE_SECONDS = 60  # an event unsealed for longer means no sealer runs: verify reports it
SEAL_BATCH = 2000
SAFETY_POLL_SECONDS = 30  # the background sealer also looks by itself (events of crashed processes)
_APPENDED = "bingan_audit_appended"
_sealers: weakref.WeakKeyDictionary[Engine, _Sealer] = weakref.WeakKeyDictionary()
_sealers_lock = threading.Lock()


def lock_chain(session: Session) -> None:
    """Hold the chain still for this transaction: sealers (and verify) take turns."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    else:
        take_write_lock(session)


def seal_pending(session: Session) -> int:
    """Chain the committed unsealed events in id order after the newest sealed one; how many were chained.

    Call on a fresh session; the caller commits.
    """
    from bingan.access.audit import chain_tail, seal_event, signature_ok

    lock_chain(session)
    pending = session.scalars(sa.select(AuditEvent).where(AuditEvent.chain_seq.is_(None))
                              .order_by(AuditEvent.id).limit(SEAL_BATCH)).all()
    if not pending:
        return 0
    position, prev_hash = chain_tail(session)
    sealed = None
    for row in pending:
        if not signature_ok(row):
            continue  # not written by the system: left out of the chain, verify reports it
        position += 1
        seal_event(row, position, prev_hash)
        prev_hash, sealed = row.hash, row
    if sealed is None:
        return 0
    from bingan.access.audit_head import note_head

    note_head(session, sealed.id, sealed.hash, sealed.chain_seq)
    session.flush()
    return sum(1 for row in pending if row.chain_seq is not None)


def seal_all(engine: Engine) -> int:
    """Seal until nothing is pending; how many events were chained."""
    total = 0
    while True:
        with session_factory(engine)() as session, session.begin():
            count = seal_pending(session)
        total += count
        if count < SEAL_BATCH:
            return total


def appended(session: Session, row: AuditEvent) -> None:
    """Called by record_event: seal this transaction's events once it commits."""
    if not event.contains(session, "after_commit", _after_commit):
        event.listen(session, "after_commit", _after_commit)
        event.listen(session, "after_rollback", _forget)
    session.info.setdefault(_APPENDED, []).append(row)


def _forget(session: Session) -> None:
    if session.in_nested_transaction():  # a SAVEPOINT rolled back: the outer transaction's events stay
        return
    session.info.pop(_APPENDED, None)


def _after_commit(session: Session) -> None:
    # SQLAlchemy fires after_commit when a SAVEPOINT is released too: the outer transaction is
    # still open, its events are not committed, and sealing now would wait for the write lock
    # this very transaction holds (SQLite). The outer commit seals them.
    if session.in_nested_transaction():
        return
    rows = session.info.pop(_APPENDED, None)
    if not rows:
        return
    engine = session.get_bind()
    sealer = _sealers.get(engine)
    if sealer is not None:
        sealer.wake()
        return
    seal_all(engine)
    for row in rows:  # the caller's copies learn their place in the chain on next access
        if sa.inspect(row).persistent:  # not one a rolled-back SAVEPOINT took away
            session.expire(row, ["chain_seq", "prev_hash", "hash"])


class _Sealer:
    """One background thread per engine in a process that asked for it."""

    def __init__(self, engine: Engine) -> None:
        self._engine = weakref.ref(engine)
        self._woken = threading.Event()
        self._stopped = threading.Event()
        self._woken.set()  # the first round seals what a previous run left behind
        self.thread = threading.Thread(target=self._run, name="bingan-audit-sealer", daemon=True)
        self.thread.start()

    def wake(self) -> None:
        self._woken.set()

    def stop(self) -> None:
        self._stopped.set()
        self._woken.set()

    def _run(self) -> None:
        while True:
            self._woken.wait(SAFETY_POLL_SECONDS)
            self._woken.clear()
            engine = self._engine()
            if engine is None or self._stopped.is_set():
                return  # the engine is gone or disposed (an app torn down, a test database dropped)
            try:
                seal_all(engine)
            except Exception:  # the next wake tries again; verify reports events left too long
                log.exception("audit sealer: sealing failed")
            del engine


def start_sealer(engine: Engine) -> None:
    """Seal this engine's events in a background thread from now on (idempotent)."""
    if engine in _sealers:
        return
    with _sealers_lock:
        if engine not in _sealers:
            _sealers[engine] = _Sealer(engine)
            if not event.contains(engine, "engine_disposed", stop_sealer):
                event.listen(engine, "engine_disposed", stop_sealer)


def stop_sealer(engine: Engine) -> None:
    """End this engine's background sealer (called when the engine is disposed); a later
    start_sealer on the same engine starts a new one. Events still unsealed are sealed by the
    next sealer or the worker's tick."""
    with _sealers_lock:
        sealer = _sealers.pop(engine, None)
    if sealer is not None:
        sealer.stop()
