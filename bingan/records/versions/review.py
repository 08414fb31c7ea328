"""Keep or reject a version collected after archiving (归档后变更审核).

A version collected for a frozen record waits as a pending change (bingan/records/changes.py).
The reviewer compares it with the archived version and keeps it (it becomes current, audited) or
rejects it with a reason: the archived version stays current, the reason is kept on the change,
the push API's status query of the collected item returns it, and the people who run the
interfaces (system.status) get a message to take up with the source system.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from bingan.access.audit import Actor
from bingan.access.holders import users_holding
from bingan.errors import NotFound
from bingan.records import changes
from bingan.records.approvals.notifier import notify
from bingan.storage.models import Document, PendingChange, Record, Version

INTERFACE_PERMISSION = "system.status"  # 采集监控: who talks to the source systems' vendors
MAX_LISTED = 500


def change_of_version(session: Session, version_id: int) -> PendingChange:
    change = session.scalars(sa.select(PendingChange).where(PendingChange.version_id == version_id)).one_or_none()
    if change is None:
        raise NotFound("该版本不是归档后采集的待审核变更")
    return change


def keep(session: Session, actor: Actor, change: PendingChange, reason: str = "") -> PendingChange:
    """The collected version becomes current (保留新版本)."""
    changes.accept_change(session, actor, change, reason.strip())
    return change


def reject(session: Session, actor: Actor, change: PendingChange, reason: str) -> PendingChange:
    """The archived version stays current (保留归档版本); the source is told why."""
    changes.reject_change(session, actor, change, reason.strip())
    document, version = change.document, change.version
    record = session.get(Record, change.record_id)
    title = (f"归档后变更被驳回：{record.record_number} 第{record.stay_number}次 "
             f"{document.title or '文书'} 第{version.number}版")
    body = (f"来源系统 {version.source_system or document.source_system or '未知'} 在归档后送来的新版本未被采纳，"
            f"病案仍以归档版本为准。原因：{reason.strip()}")
    for user in users_holding(session, INTERFACE_PERMISSION):
        if user.id == actor.user_id:
            continue
        notify(session, user, "pending_change", title, body, f"/documents/{document.id}/compare?a="
               f"{_archived_number(document, version)}&b={version.number}")
    return change


def _archived_number(document: Document, version: Version) -> int:
    return document.current_version.number if document.current_version else version.number


@dataclass(frozen=True)
class PendingRow:
    change: PendingChange
    record: Record
    document: Document
    version: Version
    archived_number: int | None  # the version the record shows now

    @property
    def collected_at(self) -> datetime:
        return self.change.collected_at


def pending_rows(session: Session, state: str = "pending") -> list[PendingRow]:
    """归档后变更待审核 (or decided, newest first), with what the list page shows."""
    query = (sa.select(PendingChange).where(PendingChange.state == state)
             .options(selectinload(PendingChange.document).selectinload(Document.current_version),
                      selectinload(PendingChange.version))
             .order_by(PendingChange.id if state == "pending" else PendingChange.decided_at.desc())
             .limit(MAX_LISTED))
    rows = list(session.scalars(query))
    records = {record.id: record for record in session.scalars(
        sa.select(Record).where(Record.id.in_({row.record_id for row in rows})))}
    return [PendingRow(row, records[row.record_id], row.document, row.version,
                       row.document.current_version.number if row.document.current_version else None)
            for row in rows]


def pending_count(session: Session) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(PendingChange)
                          .where(PendingChange.state == "pending")) or 0


def as_json(change: PendingChange) -> dict:
    document = change.document
    return {"version_id": change.version_id, "document_id": change.document_id, "record_id": change.record_id,
            "version": change.version.number, "state": change.state, "reason": change.reason,
            "new_document": change.new_document,
            "current_version": document.current_version.number if document.current_version else None,
            "decided_at": change.decided_at.isoformat() if change.decided_at else None}


