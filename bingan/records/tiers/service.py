"""Tiers (冷热分层, V4, V6–V8): which blobs go cold, moving them safely, bringing them back.

A blob goes cold when every record pointing at it belongs to a patient last seen (discharge,
else admission) more than BINGAN_TIER_COLD_AFTER_YEARS ago, and it was not brought back to hot
in the last BINGAN_TIER_KEEP_PROMOTED_DAYS; a blob shared with a younger record stays hot.
Each batch: copy and verify on the target tier (storage/blobs/tiering), switch the rows in one
transaction, remove the old copies after the commit, mark the rows settled. A rerun first
finishes unsettled rows and removes what an interrupted run left, so a SIGKILL anywhere costs
nothing but the rerun.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.access.audit import Actor, record_event
from bingan.config import get_settings
from bingan.storage.blobs.port import BlobCorrupt, BlobMissing, BlobStore
from bingan.storage.blobs.tiering import (
    TierError,
    clean_debris,
    committed_on,
    copy_to,
    drop_from,
    require_local,
    tier_lock,
)
from bingan.storage.models import Document, Record, Version
from bingan.storage.models.tiers import BlobTier

SYSTEM = Actor(None, "系统")
BATCH = 50  # blobs copied per database commit
OTHER = {"hot": "cold", "cold": "hot"}

Progress = Callable[[int, int], None]


@dataclass
class Moved:
    moved: list[str] = field(default_factory=list)
    bytes: int = 0
    failed: list[str] = field(default_factory=list)  # "sha: reason" (missing, corrupt, read-only)
    finished: int = 0  # rows an interrupted run had switched, completed now
    debris: int = 0  # temp files of interrupted runs removed


def last_seen() -> sa.ColumnElement:
    return sa.func.coalesce(Record.discharged_at, Record.admitted_at)


def cutoff_of(now: datetime, years: int) -> datetime:
    return now - timedelta(days=round(365.25 * years))


def _references() -> sa.Subquery:
    """(sha, record_id) for every version's file and its playable copy."""
    by_version = sa.select(Version.sha256.label("sha"), Document.record_id.label("record_id")).join(
        Document, Document.id == Version.document_id)
    playable = sa.select(Version.playable_sha256.label("sha"), Document.record_id.label("record_id")).join(
        Document, Document.id == Version.document_id).where(Version.playable_sha256.is_not(None))
    return sa.union_all(by_version, playable).subquery("refs")


def due_shas(session: Session, now: datetime, *, years: int, keep_days: int, limit: int) -> list[str]:
    """Blobs every record of which belongs to a patient not seen for ``years``; hot ones only."""
    cutoff = cutoff_of(now, years)
    refs = _references()
    young_patients = sa.select(Record.patient_id).where(last_seen() >= cutoff)
    young_records = sa.select(Record.id).where(sa.or_(
        last_seen().is_(None), last_seen() >= cutoff, Record.patient_id.in_(young_patients)))
    young_shas = sa.select(refs.c.sha).where(refs.c.record_id.in_(young_records))
    settled_elsewhere = sa.select(BlobTier.sha256).where(sa.or_(
        BlobTier.tier == "cold", BlobTier.promoted_at >= now - timedelta(days=keep_days)))
    query = (sa.select(refs.c.sha).distinct()
             .where(refs.c.sha.not_in(young_shas), refs.c.sha.not_in(settled_elsewhere))
             .order_by(refs.c.sha).limit(limit))
    return list(session.scalars(query))


def move_due(session: Session, store: BlobStore, now: datetime, *, years: int | None = None,
             limit: int | None = None, actor: Actor = SYSTEM, progress: Progress | None = None,
             batch: int = BATCH) -> Moved:
    """The tier policy: finish what an interrupted run left, then move due blobs to cold.
    Commits the session after each batch (the caller must not hold other changes in it)."""
    settings = get_settings()
    local = require_local(store)
    if not any(v.cold and not v.read_only for v in local.volumes):
        raise TierError("没有配置冷存储卷：在 BINGAN_BLOB_VOLUMES 中给冷存储卷加上 :cold")
    years = years if years is not None else settings.tier_cold_after_years
    result = Moved()
    result.finished, result.debris = finish_unsettled(session, store)
    shas = due_shas(session, now, years=years, keep_days=settings.tier_keep_promoted_days,
                    limit=limit or settings.tier_move_limit)
    relocate(session, store, shas, "cold", "age", now, result, progress, batch)
    record_event(session, actor, "tier.move", object_type="tier", detail={
        "迁入冷存储": len(result.moved), "字节": result.bytes, "失败": len(result.failed),
        "补完": result.finished, "年限": years})
    session.commit()
    return result


def relocate(session: Session, store: BlobStore, shas: Sequence[str], tier: str, reason: str,
             now: datetime, result: Moved | None = None, progress: Progress | None = None,
             batch_size: int = BATCH) -> Moved:
    """Move ``shas`` to ``tier`` in batches; each blob readable throughout (see the module doc)."""
    local = require_local(store)
    result = result or Moved()
    done = 0
    for start in range(0, len(shas), batch_size):
        batch = shas[start:start + batch_size]
        with tier_lock(local):
            result.debris += clean_debris(local)
            placed: dict[str, str] = {}
            for sha in batch:
                try:
                    _refuse_read_only(local, sha, OTHER[tier])
                    volume = copy_to(local, sha, tier)
                except (BlobMissing, BlobCorrupt, TierError) as exc:
                    if isinstance(exc, TierError) and "只读" not in str(exc):
                        raise  # no volume of that tier, or no room: nothing else will fit either
                    result.failed.append(f"{sha}: {exc}")
                    continue
                placed[sha] = str(volume.path)
                result.bytes += (volume.path / (committed_on(volume, sha) or "")).stat().st_size
            rows = [_switch(session, sha, tier, volume, reason, now) for sha, volume in placed.items()]
            session.commit()  # the rows say the new tier; the old copies are still there
            for sha in placed:
                drop_from(local, sha, OTHER[tier])
            for row in rows:
                row.settled = True
            session.commit()
        result.moved += list(placed)
        done += len(batch)
        if progress:
            progress(done, len(shas))
    return result


def finish_unsettled(session: Session, store: BlobStore) -> tuple[int, int]:
    """Rows switched by a run that died before removing the old copies: remove them now.
    Returns (rows finished, debris files removed)."""
    local = require_local(store)
    rows = list(session.scalars(sa.select(BlobTier).where(BlobTier.settled.is_(False))))
    with tier_lock(local):
        debris = clean_debris(local)
        for row in rows:
            if any(v.tier == row.tier and committed_on(v, row.sha256) for v in local.volumes):
                drop_from(local, row.sha256, OTHER[row.tier])
                row.settled = True
        session.commit()
    return sum(1 for row in rows if row.settled), debris


def promote(session: Session, store: BlobStore, shas: Sequence[str], now: datetime,
            reason: str = "read") -> Moved:
    """Bring blobs back to hot (a cold read, a prefetch); hot ones are left alone."""
    local = require_local(store)
    cold = [sha for sha in dict.fromkeys(shas) if local.tier_of(sha) == "cold"]
    return relocate(session, store, cold, "hot", reason, now)


def cold_shas_of_patient(session: Session, patient_id: int) -> list[str]:
    refs = _references()
    query = (sa.select(BlobTier.sha256).distinct()
             .join(refs, refs.c.sha == BlobTier.sha256)
             .join(Record, Record.id == refs.c.record_id)
             .where(Record.patient_id == patient_id, BlobTier.tier == "cold")
             .order_by(BlobTier.sha256))
    return list(session.scalars(query))


def tier_problems(session: Session, store: BlobStore) -> list[str]:
    """For `bingan verify`: rows whose tier holds no copy, switches never finished."""
    if not hasattr(store, "tier_of"):
        return []
    local = require_local(store)
    problems = []
    for row in session.scalars(sa.select(BlobTier)):
        holding = {v.tier for v in local.volumes if committed_on(v, row.sha256)}
        if not holding:
            continue  # the file is gone: verify reports it as missing if a row still points at it
        if row.tier not in holding:
            problems.append(f"文件 {row.sha256} 记录在{_name(row.tier)}存储，但只在{_name(OTHER[row.tier])}存储上找到")
        elif not row.settled:
            problems.append(f"文件 {row.sha256} 的分层迁移未完成（运行 bingan tier-move 补完）")
    return problems


def _switch(session: Session, sha: str, tier: str, volume: str, reason: str, now: datetime) -> BlobTier:
    row = session.get(BlobTier, sha)
    if row is None:
        row = BlobTier(sha256=sha)
        session.add(row)
    row.tier, row.volume, row.reason, row.changed_at, row.settled = tier, volume, reason, now, False
    if tier == "hot":
        row.promoted_at = now
    return row


def _refuse_read_only(store, sha: str, tier: str) -> None:
    for volume in store.volumes:
        if volume.tier == tier and volume.read_only and committed_on(volume, sha):
            raise TierError(f"文件在只读卷 {volume.path} 上，不移动")


def _name(tier: str) -> str:
    return {"hot": "热", "cold": "冷"}.get(tier, tier)


@dataclass
class Prefetched:
    promoted: int = 0
    pages: int = 0
    failed: list[str] = field(default_factory=list)


def prefetch_patient(session: Session, store: BlobStore, renderer, patient_id: int, now: datetime,
                     pages: int | None = None, progress: Progress | None = None) -> Prefetched:
    """A returning patient (admitted, or an appointment booked): the files of their older records
    back to hot, and the first pages of those documents rendered into the page cache."""
    from bingan.formats.base import FormatError

    pages = get_settings().tier_prefetch_pages if pages is None else pages
    shas = cold_shas_of_patient(session, patient_id)
    moved = promote(session, store, shas, now, reason="prefetch")
    result = Prefetched(promoted=len(moved.moved), failed=list(moved.failed))
    brought = set(moved.moved)
    current = session.execute(
        sa.select(Version.sha256, Version.media_type, Version.page_count)
        .join(Document, Document.current_version_id == Version.id)
        .join(Record, Record.id == Document.record_id)
        .where(Record.patient_id == patient_id, Document.removed.is_(False), Version.page_count > 0)
        .order_by(Record.id, Document.id)).all()
    todo = [(sha, media, n) for sha, media, count in current if sha in brought
            for n in range(1, min(pages, count) + 1)]
    for done, (sha, media, number) in enumerate(todo, start=1):
        try:
            renderer.base(sha, media, number)
            result.pages += 1
        except (FormatError, BlobMissing, BlobCorrupt) as exc:
            result.failed.append(f"{sha} 第 {number} 页: {exc}")
        if progress:
            progress(done, len(todo))
    record_event(session, SYSTEM, "tier.prefetch", object_type="patient", object_id=patient_id,
                 detail={"调回热存储": result.promoted, "预先生成页面": result.pages})
    session.commit()
    return result


def request_prefetch(session: Session, patient_ids: Sequence[int], actor: Actor = SYSTEM) -> list[int]:
    """Queue a prefetch job for each patient who has files on cold volumes; returns the job ids.
    Called after the basic-data sync's transaction, in a transaction of its own."""
    from bingan.records import jobs

    started = []
    for patient_id in sorted(set(patient_ids)):
        if not cold_shas_of_patient(session, patient_id):
            continue
        if _prefetch_queued(session, patient_id):
            continue
        job = jobs.start(session, actor, PREFETCH_JOB, {"patient_id": patient_id}, owner=None)
        started.append(job.id)
    return started


PREFETCH_JOB = "tier.prefetch"
MOVE_JOB = "tier.move"


def _prefetch_queued(session: Session, patient_id: int) -> bool:
    from bingan.storage.models.jobs import Job

    waiting = session.scalars(sa.select(Job).where(Job.kind == PREFETCH_JOB, Job.state.in_(("queued", "running"))))
    return any(job.params.get("patient_id") == patient_id for job in waiting)
