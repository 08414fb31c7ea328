"""The one list of workflows whose kinds the approval engine and the background-job service run;
installed at start-up (web app, worker). Neither imports a workflow."""
from __future__ import annotations

import bingan.records.approvals.engine  # noqa: F401  (cancels open requests when a record is sealed)
from bingan.records.approvals.kinds import Kind, register
from bingan.records.approvals.notifier import NOTIFIERS
from bingan.records.archive_signature.service import SIGN_JOB, queue_signature
from bingan.records.backups import BACKUP_JOB
from bingan.records.borrowing.kind import BORROW, RENEW
from bingan.records.jobs import JobKind
from bingan.records.jobs import register as register_job
from bingan.records.lifecycle import ON_ARCHIVED
from bingan.records.notices.service import OutboxNotifier
from bingan.records.recall.kind import RECALL
from bingan.records.release.exports import EXPORT_KIND
from bingan.records.release.output import COPY_JOB
from bingan.records.retention.kind import DESTROY
from bingan.records.sealing.kind import SEAL, UNSEAL
from bingan.records.sealing.package import PACKAGE_JOB
from bingan.records.statistics.exports import EXPORT_JOB as STATISTICS_EXPORT_JOB
from bingan.records.tiers.kind import MOVE_KIND, PREFETCH_KIND

INSTALLED: tuple[Kind, ...] = (BORROW, RENEW, SEAL, UNSEAL, RECALL, DESTROY)
JOBS: tuple[JobKind, ...] = (PACKAGE_JOB, COPY_JOB, EXPORT_KIND, SIGN_JOB, MOVE_KIND, PREFETCH_KIND, BACKUP_JOB,
                             STATISTICS_EXPORT_JOB)


def install() -> None:
    for kind in INSTALLED:
        register(kind)
    for job_kind in JOBS:
        register_job(job_kind)
    if queue_signature not in ON_ARCHIVED:
        ON_ARCHIVED.append(queue_signature)  # every archived record is signed (归档签章)
    if not any(isinstance(adapter, OutboxNotifier) for adapter in NOTIFIERS):
        NOTIFIERS.append(OutboxNotifier())  # WeCom, DingTalk and webhooks beside the in-app message
