"""Re-collection asked for by the record room's workflows (recall, 召回): a record's sources run
again on a short period while the request is open, so what clinicians correct in the EMR arrives
by itself as new versions. Recall writes the request row (records never imports ingest); this
timed job reads it and makes each source of the record due now. The source's ordinary run then
collects what changed (runs.py), and ``plan`` accepts it past the re-collection window because
the record is 召回中."""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.ingest.scheduler import PULL_TRANSPORTS
from bingan.storage.models import Document, Source
from bingan.storage.models.recall import RecollectionRequest


def recollect_due(session: Session, now: datetime) -> int:
    """Make the sources of every due request due now; returns how many sources were moved up."""
    due = session.scalars(sa.select(RecollectionRequest).where(
        RecollectionRequest.closed_at.is_(None), RecollectionRequest.next_at <= now)
        .order_by(RecollectionRequest.id)).all()
    sources: set[int] = set()
    for request in due:
        sources |= _sources_of(session, request.record_id)
        request.last_at, request.runs = now, request.runs + 1
        request.next_at = now + timedelta(minutes=max(1, request.every_minutes))
    if sources:
        session.execute(sa.update(Source).where(Source.id.in_(sources)).values(next_run_at=now)
                        .execution_options(synchronize_session=False))
    return len(sources)


def _sources_of(session: Session, record_id: int) -> set[int]:
    """The enabled pull sources that delivered documents of the record (push sources send by themselves)."""
    names = sa.select(Document.source_system).where(Document.record_id == record_id)
    return set(session.scalars(sa.select(Source.id).where(
        Source.enabled, Source.transport.in_(PULL_TRANSPORTS), Source.name.in_(names))))
