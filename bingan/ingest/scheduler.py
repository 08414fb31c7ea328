"""Collection's timing: re-kick stuck or due items (sweeper) and start due source runs (schedules are rows).
The beat tick itself is bingan/worker/tick.py."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from bingan.broker import send
from bingan.ingest.pipeline import Pipeline
from bingan.ingest.reindex import rebuild_if_needed
from bingan.storage.models import CollectedItem, Source, utcnow
from bingan.storage.models.ingest import ACTIVE_ITEM_STATES

log = logging.getLogger(__name__)
PULL_TRANSPORTS = ("http_pull", "ftp", "soap", "folder", "basic_data")
BEIJING = ZoneInfo("Asia/Shanghai")


def kick(item_ids: list[int], countdown: float = 0) -> None:
    """Send one broker message per item; a lost message costs one sweep interval, nothing more."""
    for item_id in item_ids:
        if not send("bingan.ingest.process_item", [item_id], countdown):
            return


def kick_later(item_id: int) -> None:
    """A transient failure: the sweeper kicks it when due; nothing to send now."""


def sweep(pipe: Pipeline, limit: int = 1000) -> list[int]:
    """Items nobody holds that are due and were not kicked within a lease: kick them again."""
    now = utcnow()
    stale = now - timedelta(seconds=pipe.options.lease_seconds)
    with pipe.tx() as session:
        items = session.scalars(
            sa.select(CollectedItem).where(
                CollectedItem.state.in_(ACTIVE_ITEM_STATES),
                sa.or_(CollectedItem.locked_until.is_(None), CollectedItem.locked_until < now),
                sa.or_(CollectedItem.next_attempt_at.is_(None), CollectedItem.next_attempt_at <= now),
                sa.or_(CollectedItem.kicked_at.is_(None), CollectedItem.kicked_at < stale),
            ).order_by(CollectedItem.id).limit(limit)
        ).all()
        for item in items:
            item.kicked_at = now
        ids = [item.id for item in items]
    kick(ids)
    return ids


def in_period(source: Source, moment: datetime) -> bool:
    """Periods are Beijing-time windows: [{"days": [1..7], "start": "22:00", "end": "06:00"}]."""
    if not source.periods:
        return True
    local = moment.astimezone(BEIJING)
    clock = local.strftime("%H:%M")
    for period in source.periods:
        if local.isoweekday() not in period.get("days", range(1, 8)):
            continue
        start, end = period.get("start", "00:00"), period.get("end", "24:00")
        if (start <= clock < end) if start <= end else (clock >= start or clock < end):
            return True
    return False


def due_sources(pipe: Pipeline, now: datetime | None = None) -> list[int]:
    """Claim each due source by moving its next run forward in the same statement (no double runs)."""
    now = now or utcnow()
    started: list[int] = []
    with pipe.tx() as session:
        candidates = session.scalars(
            sa.select(Source).where(
                Source.enabled, Source.transport.in_(PULL_TRANSPORTS),
                sa.or_(Source.next_run_at.is_(None), Source.next_run_at <= now),
            )
        ).all()
        for source in candidates:
            if not in_period(source, now):
                continue
            claimed = session.execute(
                sa.update(Source).where(Source.id == source.id, sa.or_(Source.next_run_at.is_(None),
                                                                       Source.next_run_at <= now))
                .values(next_run_at=now + timedelta(minutes=max(1, source.interval_minutes)))
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount:
                started.append(source.id)
    return started


def start_rounds(pipe: Pipeline) -> list[int]:
    """Sources whose completion round (completion.py) is due become due now."""
    from bingan.ingest.completion import start_due_rounds

    with pipe.tx() as session:
        return start_due_rounds(session)


def run_source(pipe: Pipeline, source_id: int) -> int:
    from bingan.ingest.runs import run_source as run

    return run(pipe, source_id)


def collection_tick(pipe: Pipeline, *, run_inline: bool = False) -> dict:
    """Collection's part of a beat tick: re-kick stuck items, start due sources, apply queued index
    access changes, rebuild an index of an older schema. ``run_inline`` runs due sources here
    (embedded beat without a worker)."""
    kicked = sweep(pipe)
    start_rounds(pipe)
    sources = due_sources(pipe)
    rebuild = pipe.index.needs_rebuild()
    access_updated = refresh_index_access(pipe)
    if run_inline:
        for source_id in sources:
            run_source(pipe, source_id)
        if rebuild:
            rebuild_if_needed(pipe)
    else:
        for source_id in sources:
            send("bingan.ingest.run_source", [source_id])
        if rebuild:  # the worker owns the index writer; it checks again before starting
            send("bingan.ingest.rebuild_index", [])
    return {"kicked": len(kicked), "sources": sources, "rebuild_index": rebuild, "access_updated": access_updated}


def refresh_index_access(pipe: Pipeline) -> int:
    """Apply queued access changes of records to the index (bingan/ingest/access_refresh.py);
    while another process holds the index writer they wait for the next tick."""
    from bingan.ingest.access_refresh import drain_access_outbox

    try:
        with pipe.tx() as session:
            return drain_access_outbox(session, pipe.index)
    except Exception as exc:
        if type(exc).__name__ != "IndexBusyError":
            raise
        log.info("search index busy: access changes wait for the next tick")
        return 0
