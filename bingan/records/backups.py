"""Scheduled backups (定时备份, V2): the schedule an administrator sets (target directory, daily time
on the hospital's clock or off, how many sets to keep), when a run is due, the background job that
runs ``storage.backup.backup``, and every run's outcome — on the status page, and a failure
through the Notifier to whoever watches the system.

The passphrase is never in the database: the worker reads BINGAN_BACKUP_PASSPHRASE or
BINGAN_BACKUP_PASSPHRASE_FILE (``storage.backup.configured_passphrase``).

When is a run due: the schedule's latest slot is today's HH:MM if that has passed on the hospital's
clock, else yesterday's. A slot is started once (``CLAIMED`` remembers the newest slot started), so
a worker that was down at 02:00 runs the missed backup once when it comes back, not once per missed
day; saving the schedule claims the slots already past, so the first run is at the next HH:MM.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan import clock
from bingan.access.audit import Actor, record_event
from bingan.access.holders import users_holding
from bingan.config import get_settings
from bingan.errors import Refusal
from bingan.records import jobs
from bingan.records.approvals.notifier import notify
from bingan.storage.backup import (
    LAST_RUN,
    BackupError,
    BackupResult,
    backup,
    configured_passphrase,
    list_sets,
    outcome,
)
from bingan.storage.models import SystemSetting, User, utcnow
from bingan.storage.models.jobs import Job
from bingan.storage.system_settings import read_setting, write_setting

SCHEDULE = "backup.schedule"  # system setting: {enabled, target, time, keep}
CLAIMED = "backup.claimed"  # system setting: {slot: the newest slot a run was started for, job_id}
JOB = "backup"
SYSTEM = Actor(None, "系统")
HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
MAX_KEEP = 3650
HEARTBEAT_SECONDS = 30.0  # a running backup renews its job lease this often (jobs.LEASE is 10 minutes)


@dataclass(frozen=True)
class Schedule:
    enabled: bool = False
    target: str = ""
    time: str = "02:00"
    keep: int = 30

    @property
    def at(self) -> time:
        hours, minutes = self.time.split(":")
        return time(int(hours), int(minutes))


def schedule_of(session: Session) -> Schedule:
    stored = read_setting(session, SCHEDULE)
    return Schedule(**{key: stored[key] for key in ("enabled", "target", "time", "keep") if key in stored})


def save_schedule(session: Session, actor: Actor, *, enabled: bool, target: str, at: str, keep: int,
                  now: datetime | None = None) -> Schedule:
    """Check and keep the schedule; the slots already past are claimed (the first run is the next HH:MM)."""
    target, at = target.strip(), at.strip()
    if not HHMM.fullmatch(at):
        raise Refusal("备份时间格式应为 HH:MM（24 小时制），例如 02:00")
    if not 1 <= keep <= MAX_KEEP:
        raise Refusal(f"保留份数应在 1 到 {MAX_KEEP} 之间")
    if enabled or target:
        _check_target(target)
    schedule = Schedule(enabled=enabled, target=target, time=at, keep=keep)
    write_setting(session, SCHEDULE, schedule.__dict__.copy())
    _claimed_row(session)  # exists from now on: concurrent ticks lock it
    write_setting(session, CLAIMED, {**read_setting(session, CLAIMED),
                                     "slot": latest_slot(schedule, now or utcnow()).isoformat()})
    record_event(session, actor, "settings", object_type="backup_schedule",
                 detail={"定时备份": "开" if enabled else "关", "备份目录": target, "时间": at, "保留份数": keep})
    return schedule


def _check_target(target: str) -> None:
    path = Path(target)
    if not target or not path.is_absolute() or "\x00" in target:
        raise Refusal("备份目录须为绝对路径，例如 /mnt/nas/bingan")
    try:
        exists = path.is_dir()
    except OSError:  # a name too long for the file system, a path through a file
        exists = False
    if not exists:
        raise Refusal(f"备份目录 {target} 不存在（NAS 或第二块磁盘是否已挂载？）")
    settings = get_settings()
    if path.resolve().is_relative_to(settings.resolved_home):
        raise Refusal("备份目录不能在数据目录 BINGAN_HOME 之内：请用另一块磁盘或 NAS")


def latest_slot(schedule: Schedule, now: datetime) -> datetime:
    """The newest moment at or before ``now`` at the schedule's HH:MM on the hospital's clock (UTC)."""
    local_now = clock.local(now)
    slot = datetime.combine(local_now.date(), schedule.at, tzinfo=clock.zone())
    if slot > local_now:
        slot = datetime.combine(local_now.date() - timedelta(days=1), schedule.at, tzinfo=clock.zone())
    return slot.astimezone(UTC)


def next_run(schedule: Schedule, now: datetime) -> datetime | None:
    """When the next scheduled run starts (hospital time), or None when the schedule is off."""
    if not schedule.enabled:
        return None
    return clock.local(latest_slot(schedule, now)) + timedelta(days=1)


def overview(session: Session, now: datetime) -> dict:
    """What the backup page and its API show: the schedule, whether the worker can read the
    passphrase, the latest outcome, the next run, the sets in the target and the recent jobs."""
    schedule = schedule_of(session)
    try:
        configured_passphrase(get_settings())
        passphrase_problem = ""
    except BackupError as exc:
        passphrase_problem = str(exc)
    upcoming = next_run(schedule, now)
    try:
        sets = list_sets(Path(schedule.target)) if schedule.target else []
    except OSError:  # the disk unmounted or unreadable: the next run will say why
        sets = []
    recent = session.scalars(sa.select(Job).where(Job.kind == JOB).order_by(Job.id.desc()).limit(10))
    return {"schedule": schedule, "passphrase_problem": passphrase_problem, "last": read_setting(session, LAST_RUN),
            "next_run": upcoming.strftime("%Y-%m-%d %H:%M") if upcoming else "", "sets": sets[::-1][:50],
            "set_count": len(sets), "jobs": list(recent), "state_names": jobs.STATE_NAMES}


def is_due(schedule: Schedule, claimed: str | None, now: datetime) -> bool:
    """True when the schedule is on and its latest slot has not been started yet."""
    if not schedule.enabled:
        return False
    return claimed is None or clock.instant(datetime.fromisoformat(claimed)) < latest_slot(schedule, now)


def start_due_backup(session: Session, now: datetime) -> int | None:
    """The timed job: queue the backup job once per slot; the id of the job queued, if any."""
    schedule = schedule_of(session)
    if not schedule.enabled:
        return None
    row = _claimed_row(session, lock=True)
    if not is_due(schedule, row.value.get("slot"), now):
        return None
    job = start_now(session, SYSTEM, schedule, owner=None)
    write_setting(session, CLAIMED, {"slot": latest_slot(schedule, now).isoformat(), "job_id": job.id})
    return job.id


def start_now(session: Session, actor: Actor, schedule: Schedule, *, owner: User | None) -> jobs.Job:
    """Queue one backup to the schedule's target with its retention (also "立即备份" on the page)."""
    if not schedule.target:
        raise Refusal("请先设置备份目录")
    return jobs.start(session, actor, JOB, {"target": schedule.target, "keep": schedule.keep}, owner=owner)


def _claimed_row(session: Session, *, lock: bool = False) -> SystemSetting:
    row = session.get(SystemSetting, CLAIMED, with_for_update=lock or None)
    if row is None:
        row = SystemSetting(key=CLAIMED, value={})
        session.add(row)
        session.flush()
    return row


def run_backup_job(ctx: jobs.JobContext) -> None:
    """Run ``backup`` on a thread while this one renews the job's lease; the outcome is kept (and a
    failure told) in the job's session, committed before the job is marked failed."""
    target, keep = Path(ctx.params["target"]), int(ctx.params["keep"])
    started = utcnow()
    box: dict[str, object] = {}

    def work() -> None:
        try:
            settings = get_settings()
            box["result"] = backup(settings, target, configured_passphrase(settings), keep=keep, now=started)
        except (BackupError, OSError) as exc:
            box["error"] = str(exc)

    thread = threading.Thread(target=work, name=f"backup-job-{ctx.job.id}", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(HEARTBEAT_SECONDS)
        if thread.is_alive():
            ctx.progress(0, 1, f"正在备份到 {target}")
    result = box.get("result")
    error = str(box.get("error", ""))
    record_outcome(ctx.session, target, result if isinstance(result, BackupResult) else None, error, started)
    if error:
        ctx.session.commit()  # the outcome and the notices stay when the job is marked failed
        raise Refusal(f"备份失败：{error}")
    ctx.progress(1, 1, f"备份完成：{result.set_id}" if isinstance(result, BackupResult) else "备份完成")


def record_outcome(session: Session, target: Path, result: BackupResult | None, error: str,
                   started: datetime) -> None:
    """The run's outcome for the status page; a failure also reaches whoever watches the system."""
    write_setting(session, LAST_RUN, outcome(target, result, error, started))
    if result is not None:
        return
    for user in users_holding(session, "system.status"):
        notify(session, user, "backup_failed", "备份失败", f"{target}：{error}"[:1000], "/admin/status")


BACKUP_JOB = jobs.JobKind(JOB, "数据备份", run_backup_job, permission="system.settings")
