"""A record's timeline (病案时间线, K2): its audit events in the record room's words.

Life-cycle moves (提交归档, 质控退回, 质控通过归档, 召回…) come from lifecycle.py's "status"
events, holds from its seal / legal-hold events, workflow steps from their domains' events
("qc.return", "seal.sealed"…). Who merely read the record is shown only to those who may see it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.access.audit_names import ACTION_NAMES
from bingan.storage.models import AuditEvent

# Reading, not changing: shown only with ``with_readers`` (病案室与审计人员).
READING = frozenset({"view", "page_view", "download", "print", "export", "denied", "favourite", "checks_view",
                     "seal.view", "seal.package_download", "approval.attachment_view", "job.result_download",
                     "leak_trace", "share_link.open", "share_link.page", "share_link.refused"})



@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    username: str
    client_ip: str
    action: str
    label: str  # 中文: what happened
    note: str  # 中文: from → to, why, which page
    page: int | None
    result: str


def timeline(session: Session, record_id: int, *, with_readers: bool, limit: int = 50) -> list[TimelineEntry]:
    """The record's newest events; without ``with_readers`` only what changed it, not who read it."""
    query = sa.select(AuditEvent).where(AuditEvent.record_id == record_id)
    if not with_readers:
        query = query.where(AuditEvent.action.not_in(READING))
    events = session.scalars(query.order_by(AuditEvent.id.desc()).limit(limit))
    return [_entry(event) for event in events]


def _entry(event: AuditEvent) -> TimelineEntry:
    detail = event.detail or {}
    label = ACTION_NAMES.get(event.action, event.action)
    if event.action == "status" and detail.get("操作"):
        label = str(detail["操作"])  # the move's own name: 提交归档, 质控退回, 质控通过归档…
    return TimelineEntry(at=event.at, username=event.username, client_ip=event.client_ip, action=event.action,
                         label=label, note=_note(event.action, detail), page=event.page, result=event.result)


def _note(action: str, detail: dict) -> str:
    parts = []
    if action == "status" and detail.get("原状态") and detail.get("新状态"):
        parts.append(f"{detail['原状态']} → {detail['新状态']}")
    for key in ("来源", "结果", "标签", "操作" if action == "tag" else "", "原因", "意见"):
        if key and detail.get(key):
            parts.append(f"{key}：{detail[key]}" if key not in ("标签", "操作") else str(detail[key]))
    return "；".join(parts)
