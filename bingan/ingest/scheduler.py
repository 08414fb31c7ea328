"""The beat tick: re-kick stuck or due items (sweeper) and start due source runs (schedules are rows)."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from bingan.access.audit_seal import seal_pending
from bingan.ingest.pipeline import Pipeline
from bingan.ingest.reindex import rebuild_if_needed
from bingan.records.approvals.scheduled import remind_and_escalate
from bingan.records.lifecycle import close_collections
from bingan.storage.models import CollectedItem, Source, utcnow
from bingan.storage.models.ingest import ACTIVE_ITEM_STATES

log = logging.getLogger(__name__)
PULL_TRANSPORTS = ("http_pull", "ftp", "soap", "folder", "basic_data")
BEIJING = ZoneInfo("Asia/Shanghai")


def kick(item_ids: list[int], countdown: float = 0) -> None:
    """Send one broker message per item; a lost message costs one sweep interval, nothing more."""
    if not item_ids:
        return
    from bingan.ingest.celery_app import celery_app

    try:
        for item_id in item_ids:
            celery_app.send_task("bingan.ingest.process_item", args=[item_id], countdown=countdown or None)
    except Exception:
        log.warning("could not kick items %s; the sweeper will", item_ids[:10], exc_info=True)


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


def run_source(pipe: Pipeline, source_id: int) -> int:
    from bingan.ingest.runs import run_source as run

    return run(pipe, source_id)


def tick(pipe: Pipeline, *, run_inline: bool = False) -> dict:
    """One beat tick. ``run_inline`` runs due sources here (embedded beat without a worker)."""
    kicked = sweep(pipe)
    sources = due_sources(pipe)
    rebuild = pipe.index.needs_rebuild()
    access_updated = refresh_index_access(pipe)
    with pipe.tx() as session:
        approvals_due = remind_and_escalate(session)  # records/approvals: overdue steps
    with pipe.tx() as session:
        close_collections(session)  # records/lifecycle: 采集中 → 待提交 once collection is complete
    with pipe.tx() as session:
        seal_pending(session)  # access/audit_seal: events a crashed process appended but never chained
    if run_inline:
        for source_id in sources:
            run_source(pipe, source_id)
        if rebuild:
            rebuild_if_needed(pipe)
    else:
        from bingan.ingest.celery_app import celery_app

        for source_id in sources:
            celery_app.send_task("bingan.ingest.run_source", args=[source_id])
        if rebuild:  # the worker owns the index writer; it checks again before starting
            celery_app.send_task("bingan.ingest.rebuild_index")
    return {"kicked": len(kicked), "sources": sources, "rebuild_index": rebuild, "access_updated": access_updated,
            "approvals": approvals_due}


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
