"""Background jobs (后台任务): long work — a seal package, a copy job, an export — run by the worker
with progress the page shows and a result file kept in the blob store.

A domain hands this module a ``JobKind`` whose ``run(ctx)`` does the work; one explicit list
(bingan/records/workflows.py) installs the kinds at start-up. ``start`` adds the job row in the
caller's transaction and sends the worker a kick once that transaction commits; the worker's
sweeper kicks again whatever a lost message or a dead worker left behind (the database is the
truth, the broker only carries kicks).

Each ``ctx.progress`` call is a checkpoint: it commits what the job wrote so far with its progress
and renews its lease. A job should therefore make its final change (the seal row, the copy's
status) after its last progress call, and be safe to run again from the start: a worker that
dies mid-job leaves it to the sweeper, which runs it again after the lease (at most
``MAX_ATTEMPTS`` times).
"""
from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bingan.access.audit import Actor, record_event
from bingan.broker import send, send_after_commit
from bingan.errors import NotFound, Refusal
from bingan.storage.blobs.port import BlobStore, Placement
from bingan.storage.db import session_factory
from bingan.storage.models import User, utcnow
from bingan.storage.models.jobs import Job

log = logging.getLogger(__name__)
TASK = "bingan.worker.run_job"
LEASE = timedelta(minutes=10)
MAX_ATTEMPTS = 3
KICK_AGAIN_AFTER = timedelta(seconds=30)
PROGRESS_EVERY = 0.5  # seconds between progress checkpoints
STATE_NAMES = {"queued": "排队中", "running": "进行中", "done": "已完成", "failed": "失败"}


@dataclass(frozen=True)
class JobKind:
    """``run(ctx)`` does the work; ``permission``: who besides the job's owner may follow it and
    fetch its result (e.g. seal.manage for seal packages); empty = the owner only."""

    code: str
    name: str
    run: Callable[[JobContext], None]
    permission: str = ""


_KINDS: dict[str, JobKind] = {}


def register(kind: JobKind) -> None:
    _KINDS[kind.code] = kind


def unregister(code: str) -> None:
    _KINDS.pop(code, None)


def kind_of(code: str) -> JobKind:
    kind = _KINDS.get(code)
    if kind is None:
        raise Refusal(f"后台任务种类“{code}”尚未启用")
    return kind


@dataclass
class JobContext:
    """What a running job sees: its own session (committed at each progress checkpoint), its row,
    its parameters and the blob store."""

    session: Session
    job: Job
    blobs: BlobStore
    _last_checkpoint: float = field(default=0.0)

    @property
    def params(self) -> dict:
        return self.job.params

    def progress(self, done: int, total: int, note: str = "") -> None:
        """Record progress; commits at most every PROGRESS_EVERY seconds (and at the end)."""
        self.job.done, self.job.total = done, total
        if note:
            self.job.note = note[:255]
        now = time.monotonic()
        if done < total and now - self._last_checkpoint < PROGRESS_EVERY:
            return
        self._last_checkpoint = now
        self.job.locked_until = utcnow() + LEASE
        self.session.commit()

    def store_result(self, data: bytes | Path, filename: str, media_type: str) -> str:
        """Keep the result file (encrypted) in the blob store; returns its SHA-256."""
        record = self.job.record if self.job.record_id else None
        placement = Placement(
            campus=record.campus.code if record is not None and record.campus else "jobs",
            record_number=record.record_number if record is not None else f"job-{self.job.id}",
            stay=record.stay_number if record is not None else None, when=utcnow().date(), filename=filename)
        stream: BinaryIO = io.BytesIO(data) if isinstance(data, bytes) else data.open("rb")
        with stream:
            info = self.blobs.put(stream, placement)
        job = self.job
        job.result_sha256, job.result_name, job.result_type = info.sha256, filename[:255], media_type[:100]
        job.result_size = info.size
        return info.sha256


def start(session: Session, actor: Actor, code: str, params: dict, *, owner: User | None,
          record_id: int | None = None) -> Job:
    """Queue a job in the caller's transaction; the worker is kicked when that transaction commits."""
    kind = kind_of(code)
    job = Job(kind=kind.code, params=params, owner_id=owner.id if owner else None, record_id=record_id)
    session.add(job)
    session.flush()
    record_event(session, actor, "job.start", object_type="job", object_id=job.id, record_id=record_id,
                 detail={"任务": kind.name})
    send_after_commit(session, TASK, [job.id])
    return job


def run_job(engine: Engine, blobs: BlobStore, job_id: int) -> str:
    """Run one job if it can be claimed (queued, or running with its lease passed); its final state."""
    if not _claim(engine, job_id):
        return "not claimed"
    with session_factory(engine)() as session:
        job = session.get(Job, job_id)
        try:
            kind_of(job.kind).run(JobContext(session, job, blobs))
        except Exception as exc:
            session.rollback()
            return _fail(engine, job_id, exc)
        job.state, job.finished_at, job.locked_until = "done", utcnow(), None
        job.done = max(job.done, job.total)
        session.commit()
        return "done"


def sweep_jobs(session: Session, now: datetime) -> int:
    """A timed job: kick queued jobs nobody took and running ones whose worker died; fail those
    that have used all their attempts."""
    stale = session.scalars(sa.select(Job).where(
        sa.or_(sa.and_(Job.state == "queued", Job.created_at < now - KICK_AGAIN_AFTER),
               sa.and_(Job.state == "running", Job.locked_until < now)))).all()
    kicked = 0
    for job in stale:
        if job.attempts >= MAX_ATTEMPTS:
            job.state, job.error, job.finished_at = "failed", "任务多次中断，已停止重试", now
            continue
        send(TASK, [job.id])
        kicked += 1
    return kicked


def visible_job(session: Session, user: User, permissions: frozenset[str] | set[str], job_id: int) -> Job:
    """The job if this user may follow it (its owner, or a holder of its kind's permission)."""
    job = session.get(Job, job_id)
    kind = _KINDS.get(job.kind) if job is not None else None
    if job is None or kind is None:
        raise NotFound("后台任务不存在")
    if job.owner_id != user.id and not (kind.permission and kind.permission in permissions):
        raise NotFound("后台任务不存在")
    return job


def job_view(job: Job) -> dict:
    """The JSON shape of ``GET /api/v1/jobs/{job_id}``."""
    return {
        "id": job.id, "kind": job.kind, "kind_name": _KINDS[job.kind].name if job.kind in _KINDS else job.kind,
        "state": job.state, "state_name": STATE_NAMES.get(job.state, job.state),
        "progress": round(100 * job.done / job.total) if job.total else (100 if job.state == "done" else 0),
        "done": job.done, "total": job.total, "note": job.note, "error": job.error,
        "record_id": job.record_id,
        "result_url": f"/jobs/{job.id}/result" if job.state == "done" and job.result_sha256 else None,
        "result_name": job.result_name or None,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


def _claim(engine: Engine, job_id: int) -> bool:
    now = utcnow()
    with engine.begin() as connection:
        claimed = connection.execute(
            sa.update(Job).where(
                Job.id == job_id, Job.attempts < MAX_ATTEMPTS,
                sa.or_(Job.state == "queued", sa.and_(Job.state == "running", Job.locked_until < now)))
            .values(state="running", attempts=Job.attempts + 1, locked_until=now + LEASE,
                    started_at=sa.func.coalesce(Job.started_at, now)))
    return claimed.rowcount == 1


def _fail(engine: Engine, job_id: int, exc: Exception) -> str:
    if isinstance(exc, Refusal):
        message = str(exc)
    else:
        log.exception("background job %s failed", job_id)
        message = f"任务出错：{type(exc).__name__}"
    with session_factory(engine).begin() as session:
        job = session.get(Job, job_id)
        job.state, job.error, job.finished_at, job.locked_until = "failed", message[:2000], utcnow(), None
    return "failed"
