"""What of a record left the archive on paper or as a file (已打印 / 已复印 / 已导出): the one lookup
recall's warning (N2) and the integration status read.

The audit trail is the register of every successful print, export or download of the record;
copying (复印, records/release) keeps its own register, ``copy_prints``, whose rows name the
patient or agency the copy was made for.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.storage.models import AuditEvent, Document
from bingan.storage.models.release import CopyPrint

KINDS = {"print": "打印", "export": "导出", "download": "下载"}


@dataclass(frozen=True)
class PrintedCopy:
    at: datetime
    by: str  # who made it (username)
    for_whom: str  # the person or agency it was made for, when known
    kind: str  # 打印 / 导出 / 下载 / 复印
    document: str  # the document's title; "" = the whole record
    pages: str  # "第3页", "全部" …
    version: int | None


def printed_copies(session: Session, record_id: int) -> list[PrintedCopy]:
    """Every copy of the record that left the system, oldest first."""
    rows = session.execute(
        sa.select(AuditEvent, Document.title)
        .outerjoin(Document, Document.id == AuditEvent.document_id)
        .where(AuditEvent.record_id == record_id, AuditEvent.action.in_(KINDS), AuditEvent.result == "ok")
        .order_by(AuditEvent.at, AuditEvent.id)
    ).all()
    copies = [_copy(event, title) for event, title in rows] + _copied(session, record_id)
    return sorted(copies, key=lambda copy: copy.at)


def _copied(session: Session, record_id: int) -> list[PrintedCopy]:
    rows = session.scalars(sa.select(CopyPrint).where(CopyPrint.record_id == record_id).order_by(CopyPrint.id))
    return [PrintedCopy(at=row.printed_at, by=row.printed_by, for_whom=row.for_whom, kind="复印", document=row.title,
                        pages=f"第{row.pages}页", version=row.version) for row in rows]


def _copy(event: AuditEvent, title: str | None) -> PrintedCopy:
    detail = event.detail or {}
    pages = f"第{event.page}页" if event.page else str(detail.get("页码") or "全部")
    version = detail.get("版本")
    return PrintedCopy(at=event.at, by=event.username, for_whom=str(detail.get("为谁") or detail.get("用途") or ""),
                       kind=KINDS[event.action], document=title or "", pages=pages,
                       version=version if isinstance(version, int) else None)
