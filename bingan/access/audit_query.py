"""Reading the audit trail: filters for the viewer and a streaming xlsx export."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan import clock
from bingan.access.audit_names import ACTION_NAMES
from bingan.formats.spreadsheet import Spreadsheet
from bingan.storage.models import AuditEvent, Document, DocumentType, Record, User

RESULT_NAMES = {"ok": "成功", "denied": "拒绝", "failed": "失败"}


@dataclass
class AuditFilter:
    username: str = ""
    action: str = ""
    result: str = ""
    record_id: int | None = None
    client_ip: str = ""
    date_from: date | None = None
    date_to: date | None = None

    def clauses(self) -> list[sa.ColumnElement[bool]]:
        clauses = []
        if self.username:
            clauses.append(AuditEvent.username == self.username)
        if self.action:
            clauses.append(AuditEvent.action == self.action)
        if self.result:
            clauses.append(AuditEvent.result == self.result)
        if self.record_id is not None:
            clauses.append(AuditEvent.record_id == self.record_id)
        if self.client_ip:
            clauses.append(AuditEvent.client_ip == self.client_ip)
        if self.date_from:
            clauses.append(AuditEvent.at >= clock.day_start(self.date_from))
        if self.date_to:
            clauses.append(AuditEvent.at < clock.day_start(self.date_to + timedelta(days=1)))
        return clauses


def search_events(
    session: Session, flt: AuditFilter, limit: int = 100, offset: int = 0
) -> tuple[int, list[AuditEvent]]:
    clauses = flt.clauses()
    total = session.scalar(sa.select(sa.func.count(AuditEvent.id)).where(*clauses)) or 0
    rows = session.scalars(
        sa.select(AuditEvent).where(*clauses).order_by(AuditEvent.id.desc()).limit(limit).offset(offset)
    ).all()
    return total, list(rows)


def _batches(session: Session, flt: AuditFilter, batch: int = 2000) -> Iterator[list[AuditEvent]]:
    last_id = 0
    while True:
        rows = session.scalars(
            sa.select(AuditEvent).where(*flt.clauses(), AuditEvent.id > last_id).order_by(AuditEvent.id).limit(batch)
        ).all()
        if not rows:
            return
        yield list(rows)
        last_id = rows[-1].id
        session.expunge_all()


HEADERS = ["编号", "时间", "用户", "操作", "对象", "病案ID", "文书ID", "页码", "客户端地址", "结果",
           "详情", "哈希"]


def export_xlsx(session: Session, flt: AuditFilter) -> bytes:
    """Rows are flushed as written, so the peak stays small even for 100k rows (measured 22 MB);
    user names, addresses and details stay text (a formula typed at the login form stays inert)."""
    book = Spreadsheet()
    sheet = book.sheet("审计日志", HEADERS)
    for events in _batches(session, flt):
        for shown in describe(session, events):
            sheet.append(_cells(shown))
    return book.close()


def _cells(shown: ShownEvent) -> list[object]:
    event = shown.event
    return [
        event.id, clock.local(event.at).strftime("%Y-%m-%d %H:%M:%S"), event.username,
        ACTION_NAMES.get(event.action, event.action), shown.object,
        event.record_id or "", event.document_id or "", event.page or "", event.client_ip,
        RESULT_NAMES.get(event.result, event.result), shown.detail, event.hash,
    ]


# ---------------------------------------------------------------- readable events (审计日志的中文呈现)

OBJECT_NAMES = {
    "record": "病案", "document": "文书", "version": "文书版本", "session": "会话", "user": "用户",
    "search": "检索", "lookup": "批量查询", "audit": "审计日志", "announcement": "公告", "appearance": "界面外观",
    "logo": "医院标志", "approval": "审批申请", "approval_flow": "审批流程", "security": "安全设置",
    "tag": "标签", "thumbnail": "缩略图", "video": "视频", "route": "页面", "synonym_group": "检索词典",
}
# Detail keys some events carry in English (a filter's or a settings form's field names).
DETAIL_NAMES = {
    "username": "用户名", "action": "操作", "result": "结果", "record_id": "病案ID", "client_ip": "客户端地址",
    "date_from": "起始日期", "date_to": "截止日期", "lockout_attempts": "锁定前允许失败次数",
    "lockout_minutes": "锁定分钟数", "idle_minutes": "空闲退出分钟数", "session_max_hours": "会话最长小时数",
    "address_failures": "同一地址允许失败次数", "address_minutes": "地址失败统计分钟数",
    "password_max_age_days": "密码有效天数", "password_history": "不得重复的历史密码数",
    "audit_retention_days": "审计日志保留天数",
}
VALUE_NAMES = {"True": "是", "False": "否", "None": "无", "": "无", "play": "播放"}


@dataclass(frozen=True)
class ShownEvent:
    """An event as the viewer and its export show it: 病案 0100051 · 入院记录, 检索式：肺炎；命中病案：3."""

    event: AuditEvent
    object: str
    detail: str
    detail_data: object = None  # the event's detail as stored; None while its record is sealed


SEALED_RECORD = "（已封存）"
SEALED_DETAIL = "（病案已封存，详情不显示）"


def describe(session: Session, events: list[AuditEvent]) -> list[ShownEvent]:
    """Readable object and details for a page of events (three look-ups per page, not per event)."""
    document_ids = {e.document_id for e in events if e.document_id}
    document_ids |= {int(e.object_id) for e in events if e.object_type == "document" and e.object_id.isdigit()}
    record_ids = {e.record_id for e in events if e.record_id}
    record_ids |= {int(e.object_id) for e in events if e.object_type == "record" and e.object_id.isdigit()}
    user_ids = {int(e.object_id) for e in events if e.object_type == "user" and e.object_id.isdigit()}
    rows = session.execute(sa.select(Record.id, Record.record_number, Record.sealed)
                           .where(Record.id.in_(record_ids))).all() if record_ids else []
    # A sealed record is read by nobody, auditors included (M3): its events keep who, when and
    # what was done, not its number, its documents' titles or the details.
    sealed = {row.id for row in rows if row.sealed}
    records = {row.id: SEALED_RECORD if row.sealed else row.record_number for row in rows}
    documents = dict(session.execute(
        sa.select(Document.id, sa.func.coalesce(sa.func.nullif(Document.title, ""), DocumentType.name))
        .join(DocumentType, Document.document_type_id == DocumentType.id).join(Record, Document.record_id == Record.id)
        .where(Document.id.in_(document_ids), Record.sealed.is_(False))
    ).all()) if document_ids else {}
    users = dict(session.execute(
        sa.select(User.id, User.username).where(User.id.in_(user_ids))).all()) if user_ids else {}
    return [ShownEvent(e, _object(e, records, documents, users), SEALED_DETAIL, None)
            if _record_of(e) in sealed else
            ShownEvent(e, _object(e, records, documents, users), detail_text(e.detail), e.detail) for e in events]


def _record_of(event: AuditEvent) -> int | None:
    if event.record_id:
        return event.record_id
    return int(event.object_id) if event.object_type == "record" and event.object_id.isdigit() else None


def _object(event: AuditEvent, records: dict, documents: dict, users: dict) -> str:
    object_id = int(event.object_id) if event.object_id.isdigit() else None
    record_id = event.record_id or (object_id if event.object_type == "record" else None)
    document_id = event.document_id or (object_id if event.object_type == "document" else None)
    if record_id is None:
        if event.object_type == "user" and object_id in users:
            return f"用户 {users[object_id]}"
        name = OBJECT_NAMES.get(event.object_type, event.object_type)
        return f"{name} {event.object_id}".strip()
    parts = [f"病案 {records.get(record_id, record_id)}"]
    if document_id is not None:
        parts.append(documents.get(document_id, f"文书 {document_id}"))
    if event.page:
        parts.append(f"第{event.page}页")
    return " · ".join(parts)


def detail_text(detail: object) -> str:
    """Details as Chinese key：value text; no True/False, no Python lists or dicts."""
    if isinstance(detail, dict):
        return "；".join(f"{DETAIL_NAMES.get(str(k), k)}：{_value(k, v)}" for k, v in detail.items())
    return _value("", detail)


def _value(key: object, value: object) -> str:
    if isinstance(value, dict):
        return "（" + "，".join(f"{DETAIL_NAMES.get(str(k), k)}：{_value(k, v)}" for k, v in value.items()) + "）"
    if isinstance(value, list | tuple | set):
        return "、".join(_value(key, v) for v in value) or "无"
    text = "" if value is None else str(value)
    if key == "action":
        return ACTION_NAMES.get(text, text)
    if key == "result":
        return RESULT_NAMES.get(text, text)
    return VALUE_NAMES.get(text, text)
