"""Real-time sync on completion (完成触发, A3/T3): the EMR reports a record complete, and a collection
round for that record starts across its pull sources, each after its own delay.

``plan_round`` writes one ``CollectionRound`` per source (due after the source's collection delay,
counted from discharge when the record has one, else from the report); the beat tick's
``start_due_rounds`` makes each source due when its round is, so the source's ordinary run —
cursor, mappings, rate limit, the item's own ``plan`` — collects what the record still lacks.
Push sources send by themselves and get no round.

The EMR says so either by the push API's ``record_complete`` event or, on the pull contract, by
``record_status: "complete"`` on the entries of its listing (``complete_reported``): the same round
and the same submission, once per record however many listings repeat it.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.ingest.items import Report
from bingan.ingest.scheduler import PULL_TRANSPORTS
from bingan.records.completeness import service as completeness
from bingan.records.patients import canonical_record_number, find_record
from bingan.storage.models import CollectionRound, Record, Source, utcnow

COMPLETE = "complete"  # the pull listing's record_status when the EMR has finished the record
PULL_REASON = "pull_status"


def plan_round(session: Session, record: Record, now: datetime | None = None) -> list[CollectionRound]:
    """One round per enabled pull source of the record's campus (or of every campus); a source
    already waiting for this record keeps its round."""
    now = now or utcnow()
    waiting = set(session.scalars(sa.select(CollectionRound.source_id).where(
        CollectionRound.record_id == record.id, CollectionRound.started_at.is_(None))))
    rounds = []
    for source in _sources_for(session, record):
        if source.id in waiting:
            continue
        rounds.append(CollectionRound(source_id=source.id, record_id=record.id, due_at=_due(source, record, now)))
    session.add_all(rounds)
    session.flush()
    return rounds


def _sources_for(session: Session, record: Record) -> list[Source]:
    campus = sa.or_(Source.campus_id.is_(None), Source.campus_id == record.campus_id)
    return list(session.scalars(sa.select(Source).where(
        Source.enabled, Source.transport.in_(PULL_TRANSPORTS), Source.transport != "basic_data", campus,
    ).order_by(Source.id)))


def _due(source: Source, record: Record, now: datetime) -> datetime:
    start = record.discharged_at or now
    if start.tzinfo is None:
        start = start.replace(tzinfo=now.tzinfo)
    return max(now, start + timedelta(hours=source.collection_delay_hours))


def start_due_rounds(session: Session, now: datetime | None = None) -> list[int]:
    """Make the sources of due rounds due now (the same tick's ``due_sources`` claims them);
    returns the sources moved up."""
    now = now or utcnow()
    due = session.scalars(sa.select(CollectionRound).where(
        CollectionRound.started_at.is_(None), CollectionRound.due_at <= now).order_by(CollectionRound.id)
        .with_for_update(skip_locked=True)).all()
    sources = sorted({row.source_id for row in due})
    for row in due:
        row.started_at = now
    if sources:
        session.execute(sa.update(Source).where(Source.id.in_(sources)).values(next_run_at=now)
                        .execution_options(synchronize_session=False))
    return sources


def round_json(session: Session, rounds: list[CollectionRound]) -> list[dict]:
    ids = [r.source_id for r in rounds]
    names = dict(session.execute(sa.select(Source.id, Source.name).where(Source.id.in_(ids))).tuples().all())
    return [{"source": names.get(r.source_id, ""), "due_at": r.due_at.isoformat()} for r in rounds]


def complete_reported(session: Session, reporter: Source, reports: list[Report],
                      now: datetime | None = None) -> list[int]:
    """The records a pull listing says complete (``record_status: "complete"``) that exist already:
    each gets what the push event gives (``complete_once``). Returns their ids; a record not yet
    known is completed when its first document is stored (the status travels in the item)."""
    keys = sorted({(r.record_number.strip(), r.stay, r.visit_type) for r in reports
                   if r.metadata.get("record_status") == COMPLETE and not r.removed and r.record_number.strip()})
    done = []
    for number, stay, visit_type in keys:
        record = find_record(session, canonical_record_number(session, number), stay, visit_type)
        if record is not None and complete_once(session, reporter, record, now):
            done.append(record.id)
    return done


def complete_once(session: Session, reporter: Source, record: Record, now: datetime | None = None) -> bool:
    """The EMR's completion of this record, reported by ``reporter``, acted on once: a collection round
    across its pull sources and the system's submission (as the push event). ``False`` when the
    record already had a round from the EMR's completion (pushed or listed)."""
    if session.scalar(sa.select(sa.exists().where(CollectionRound.record_id == record.id))):
        return False
    rounds = plan_round(session, record, now)
    for row in rounds:
        row.reason = PULL_REASON
    if not rounds:  # no source to wait on (all disabled): a started round marks it done
        session.add(CollectionRound(source_id=reporter.id, record_id=record.id, reason=PULL_REASON,
                                    due_at=now or utcnow(), started_at=now or utcnow()))
    completeness.complete_from_emr(session, record)
    session.flush()
    return True
