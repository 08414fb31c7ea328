"""The one list of timed jobs (定时任务): plain functions ``job(session, now)`` of the domains, each
run in its own transaction on every beat tick, so one failing job never holds back the others.
A domain adds its function here; it never schedules itself."""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bingan.access.audit_seal import seal_pending
from bingan.ingest.monitoring import watch_sources
from bingan.ingest.recollect import recollect_due
from bingan.ingest.scan_folder import file_watched_folder
from bingan.records.approvals.scheduled import remind_and_escalate
from bingan.records.backups import start_due_backup
from bingan.records.borrowing.scheduled import remind_expiring
from bingan.records.grant_expiry import remind_expiring_grants
from bingan.records.jobs import sweep_jobs
from bingan.records.lifecycle import close_collections
from bingan.records.notices.scheduled import deliver_due
from bingan.records.qc.scheduled import remind_overdue
from bingan.records.recall.scheduled import mark_overdue, remind_before_deadline
from bingan.records.retention.scheduled import remove_files
from bingan.records.sealing.scheduled import remind_unclaimed_seals
from bingan.records.statistics.facts import refresh_job as refresh_record_facts
from bingan.records.tiers.scheduled import start_nightly_move
from bingan.storage.db import session_factory
from bingan.storage.models import utcnow
from bingan.worker.capacity import sample_capacity

log = logging.getLogger(__name__)

TIMED_JOBS: dict[str, Callable[[Session, datetime], object]] = {
    "approvals": remind_and_escalate,  # records/approvals: reminders and escalation of overdue steps
    "borrowings_reminded": remind_expiring,  # records/borrowing: two days before a borrowing ends
    "collections_closed": close_collections,  # records/lifecycle: 采集中 → 待提交 once collection is complete
    "audit_sealed": lambda session, _now: seal_pending(session),  # events a crashed process never chained
    "recall_recollected": recollect_due,  # ingest: a recalled record's sources run again on a short period
    "recall_reminded": remind_before_deadline,  # records/recall: the deadline to resubmit is near
    "recall_overdue": mark_overdue,  # records/recall: recalls not resubmitted in time
    "seals_reminded": remind_unclaimed_seals,  # records/sealing: three years without a claim (art. 27)
    "jobs_kicked": sweep_jobs,  # records/jobs: background jobs a lost message or a dead worker left
    "notices_delivered": deliver_due,  # records/notices: WeCom/DingTalk/webhook notices due or retried
    "destroyed_files_removed": remove_files,  # records/retention: files of destroyed records, after the commit
    "tier_move_started": start_nightly_move,  # records/tiers: the nightly move of old records to cold volumes
    "capacity_sampled": sample_capacity,  # storage: each volume's use once a day, alerts at 80 % and 90 %
    "sources_watched": watch_sources,  # ingest/monitoring: sources probed every minute, alerts once per episode
    "qc_overdue_reminded": remind_overdue,  # records/qc: records past their archive deadline, once a day
    "grants_reminded": remind_expiring_grants,  # records: two days before a temporary grant ends
    "backup_started": start_due_backup,  # records/backups: the administrator's daily backup, once per slot
    "scan_folder_filed": file_watched_folder,  # ingest/scan_folder: the watched scanner folder's complete files filed
    "record_facts_refreshed": refresh_record_facts,  # records/statistics: facts of changed records
}


def run_timed_jobs(engine: Engine, now: datetime | None = None) -> dict[str, object]:
    """Run every timed job once; a failure is logged and reported, the others still run."""
    now = now or utcnow()
    results: dict[str, object] = {}
    for name, job in TIMED_JOBS.items():
        try:
            with session_factory(engine).begin() as session:
                results[name] = job(session, now)
        except Exception:
            log.exception("timed job %s failed", name)
            results[name] = "failed"
    return results
