"""Submission for archiving and its gate (提交归档, H2).

A record enters QC only through ``submit``: it must be 待提交 (collection over), and its
self-checks must pass — nothing waiting, being collected or failed, no error finding. The check
run is stored either way, so a refused doctor (or the EMR's completion signal) and the record room
see why. The record's own clinicians submit in Bingan (the gate's "submit" action); the EMR's
record-level "complete" event runs the same submission as the system.

Re-collection: the ingest pipeline calls ``after_collection`` when it stores a new version, so a
record already submitted (or in QC, returned, recalled) is checked again with its new content.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.access.audit import Actor, record_event
from bingan.errors import Conflict, NotFound
from bingan.records import lifecycle
from bingan.records.completeness.checks import CheckReport, run_checks, unfinished_items
from bingan.storage.models import Record

# Statuses in which new content makes the stored checks stale: the record is on its way to the
# archive. (Collecting records are checked when submitted; archived ones hold new content as a
# pending change.)
RECHECKED = frozenset({"awaiting", "submitted", "qc", "returned", "recalled"})
EMR = Actor(None, "电子病历系统")


class SubmissionRefused(Conflict):
    """The self-checks found errors: the record stays 待提交; ``report`` holds the findings. The run
    and the refusal's audit event are in the session: a caller that wants them kept (the API, the
    EMR event) catches this and commits; left to the web's Refusal handler they roll back."""

    def __init__(self, message: str, report: CheckReport) -> None:
        super().__init__(message)
        self.report = report


def submit(session: Session, actor: Actor, record: Record, trigger: str = "submit") -> CheckReport:
    """待提交 → 待质控 after the self-checks pass; refused (record unchanged, run stored) otherwise."""
    _require_awaiting(record)
    report = run_checks(session, record, trigger)
    if not report.passed:
        reasons = "；".join(f.message for f in report.errors)
        record_event(session, actor, "submit", object_type="record", object_id=record.id, record_id=record.id,
                     result="refused", detail={"原因": reasons})
        raise SubmissionRefused(f"不能提交归档：系统自检发现 {len(report.errors)} 项问题：{reasons}", report)
    why = "系统自检通过" if trigger == "submit" else "电子病历系统通知病历已完成，系统自检通过"
    lifecycle.move(session, actor, record, "submitted", why)
    return report


def _require_awaiting(record: Record) -> None:
    if record.status == "collecting":
        raise Conflict("病案仍在采集中（出院后采集期未结束或仍有文书在采集），暂不能提交归档")
    if record.status != "awaiting":
        raise Conflict(f"病案当前状态为“{lifecycle.state_name(record.status)}”，只有待提交的病案可以提交归档")


def record_by_stay(session: Session, record_number: str, stay: int) -> Record:
    record = session.scalars(sa.select(Record).where(
        Record.record_number == record_number, Record.stay_number == stay, Record.visit_type == "inpatient")
    ).one_or_none()
    if record is None:
        raise NotFound(f"找不到病案号 {record_number} 第 {stay} 次住院的病案")
    return record


def complete_from_emr(session: Session, record: Record) -> CheckReport:
    """The EMR says the record is complete (a record-level "complete" event): close its collection
    if nothing is still arriving, then submit as the system. Checks that fail leave the record
    待提交 with the findings stored and shown; the caller commits either way."""
    if record.status == "collecting" and not unfinished_items(session, record):
        lifecycle.move(session, EMR, record, "awaiting", "电子病历系统通知病历已完成")
    if record.status == "collecting":
        return run_checks(session, record, "emr")
    try:
        return submit(session, EMR, record, "emr")
    except SubmissionRefused as refused:  # nothing moved; the run and the refusal stay stored
        return refused.report


def after_collection(session: Session, record: Record) -> CheckReport | None:
    """A new version was stored for the record: check it again when it is on its way to the archive."""
    if record.status not in RECHECKED:
        return None
    return run_checks(session, record, "recollect")
