"""Recall (召回, N1–N4): an archived record goes back to its doctors for correction (返修).

Applying runs through the approval engine (kind "recall"). In the transaction of the last
approval the archived state is frozen as 召回前版本 (every document's current version pinned),
the record moves 已归档 → 召回中, its sources are asked to re-collect it on a short period (a row
the ingest tick reads), its doctors are told and each source system gets a notice. When the
record is resubmitted (召回中 → 待质控, by archive QC) the recall closes by itself.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session, object_session

from bingan import clock
from bingan.access.audit import Actor, record_event
from bingan.config import get_settings
from bingan.errors import Conflict, NotFound, Refusal
from bingan.records import lifecycle
from bingan.records.approvals import engine
from bingan.records.approvals.notifier import notify
from bingan.records.prints import PrintedCopy, printed_copies
from bingan.storage.models import ApprovalRequest, Document, Record, User, Version, utcnow
from bingan.storage.models.approvals import OPEN_STATUSES
from bingan.storage.models.recall import Recall, RecallBackup, RecollectionRequest, SourceNotice

KIND = "recall"
MAX_DEADLINE_DAYS = 30
MAX_DOCUMENTS = 500
MAX_ID = 2**31 - 1  # integer columns are 32-bit on PostgreSQL
STATE_NAMES = {"recalled": "召回中", "resubmitted": "已重新提交"}


# --- applying ----------------------------------------------------------------------------------

def apply(session: Session, actor: Actor, applicant: User, record: Record, reason: str,
          deadline_days: int, document_ids: list[int] | None = None) -> ApprovalRequest:
    """申请召回: the request runs through the recall flow (head of department, then the record room)."""
    payload = {"deadline_days": deadline_days, "document_ids": list(document_ids or [])}
    return engine.submit(session, actor, applicant, KIND, record, reason, payload)


def check_apply(session: Session, _applicant: User, record: Record, payload: dict) -> None:
    """Only an archived record is recalled, one recall at a time; the payload gets the documents'
    titles and the printed copies as they stand, so every reviewer sees the same warning (N2)."""
    _require_recallable(session, record)
    days = payload.get("deadline_days")
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_DEADLINE_DAYS:
        raise Refusal(f"重新提交期限应为 1–{MAX_DEADLINE_DAYS} 天")
    payload["document_ids"] = _chosen_documents(session, record, payload.get("document_ids") or [])
    payload["documents"] = [title for _id, title in _titles(session, payload["document_ids"])]
    payload["printed_copies"] = [copy_json(copy) for copy in printed_copies(session, record.id)]


def _require_recallable(session: Session, record: Record) -> None:
    if record.status != "archived":
        raise Conflict(f"只有已归档的病案可以召回，该病案当前为“{lifecycle.state_name(record.status)}”")
    if record.legal_hold:
        raise Conflict("病案处于法律保全，不能召回修改")
    pending = session.scalar(sa.select(ApprovalRequest.id).where(
        ApprovalRequest.kind == KIND, ApprovalRequest.record_id == record.id,
        ApprovalRequest.status.in_(OPEN_STATUSES)))
    if pending:
        raise Conflict(f"该病案已有召回申请在审批中（编号 {pending}）")


def _chosen_documents(session: Session, record: Record, ids: list) -> list[int]:
    if not isinstance(ids, list) or len(ids) > MAX_DOCUMENTS:
        raise Refusal(f"召回文书应为文书编号列表（最多 {MAX_DOCUMENTS} 份）")
    if any(not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_ID for value in ids):
        raise Refusal("召回文书编号无效")
    wanted = sorted(set(ids))
    found = set(session.scalars(sa.select(Document.id).where(
        Document.id.in_(wanted or [-1]), Document.record_id == record.id, Document.removed.is_(False))))
    if missing := [value for value in wanted if value not in found]:
        raise Refusal(f"文书 {', '.join(map(str, missing))} 不属于该病案")
    return wanted


def current_documents(session: Session, record_id: int) -> list[Document]:
    """The record's documents as they stand (not withdrawn, with a version), for choosing what to correct."""
    return list(session.scalars(sa.select(Document).where(
        Document.record_id == record_id, Document.removed.is_(False), Document.current_version_id.is_not(None))
        .order_by(Document.id)))


def _titles(session: Session, document_ids: list[int]) -> list[tuple[int, str]]:
    if not document_ids:
        return []
    return [(row.id, row.title) for row in session.execute(
        sa.select(Document.id, Document.title).where(Document.id.in_(document_ids)).order_by(Document.id))]


def copy_json(copy: PrintedCopy) -> dict:
    return {"at": clock.iso(copy.at), "by": copy.by, "for_whom": copy.for_whom, "kind": copy.kind,
            "document": copy.document, "pages": copy.pages, "version": copy.version}


# --- approval: freeze, move, re-collect, tell ----------------------------------------------------

def on_approved(session: Session, request: ApprovalRequest, actor: Actor) -> None:
    """In the transaction of the last approval: the recall exists exactly when the request says approved."""
    record = request.record
    if record.status != "archived" or record.legal_hold:
        raise Conflict(f"病案当前为“{lifecycle.state_name(record.status)}”，不能召回")
    now = utcnow()
    days = int(request.payload.get("deadline_days") or 7)
    recall = Recall(record=record, request=request, applicant_id=request.applicant_id, reason=request.reason,
                    document_ids=list(request.payload.get("document_ids") or []), deadline_days=days,
                    state="recalled", recalled_at=now, deadline=deadline_after(now, days))
    session.add(recall)
    session.flush()
    pinned = _pin_current_versions(session, recall)
    lifecycle.move(session, actor, record, "recalled", f"召回申请 {request.id}：{request.reason}"[:500])
    session.add(RecollectionRequest(record_id=record.id, recall_id=recall.id, next_at=now,
                                    every_minutes=get_settings().recall_recollect_minutes))
    _tell(session, recall, "recalled",
          f"病案 {record.record_number} 已召回，请于 {last_day(recall):%Y-%m-%d} 前修改并重新提交")
    record_event(session, actor, "recall", object_type="recall", object_id=recall.id, record_id=record.id,
                 detail={"申请": request.id, "召回前版本": pinned, "期限天数": days,
                         "截止": clock.iso(recall.deadline)})


def deadline_after(moment: datetime, days: int) -> datetime:
    """The end of the hospital's day ``days`` days after ``moment``."""
    return clock.day_start(clock.local_date(moment) + timedelta(days=days + 1))


def last_day(recall: Recall) -> date:
    """The last day to resubmit, on the hospital's calendar."""
    return clock.local_date(recall.deadline - timedelta(seconds=1))


def _pin_current_versions(session: Session, recall: Recall) -> int:
    """召回前版本: every document's version as it stood archived, whatever was chosen for correction."""
    rows = session.execute(sa.select(Document.id, Document.current_version_id).where(
        Document.record_id == recall.record_id, Document.removed.is_(False),
        Document.current_version_id.is_not(None))).all()
    session.add_all(RecallBackup(recall_id=recall.id, document_id=document_id, version_id=version_id)
                    for document_id, version_id in rows)
    return len(rows)


def _tell(session: Session, recall: Recall, event_name: str, title: str) -> None:
    """The record's doctors and the applicant in their inbox; each source system by a notice row."""
    link = f"/records/{recall.record_id}/recall"
    for user in doctors_of(session, recall):
        notify(session, user, "recall", title, body=recall.reason, link=link)
    status = record_status(session, recall.record)
    for source in sources_of(session, recall.record_id):
        session.add(SourceNotice(source_name=source, record_id=recall.record_id, event=event_name, payload=status))


def doctors_of(session: Session, recall: Recall) -> list[User]:
    """The applicant and the record's attending and resident doctors (by the name on the record)."""
    record = recall.record
    names = {name for name in (record.attending_doctor, record.resident_doctor) if name}
    doctors = list(session.scalars(sa.select(User).where(User.active, User.full_name.in_(names)))) if names else []
    applicant = session.get(User, recall.applicant_id)
    return list({user.id: user for user in [applicant, *doctors] if user is not None}.values())


def sources_of(session: Session, record_id: int) -> list[str]:
    return list(session.scalars(sa.select(Document.source_system).distinct().where(
        Document.record_id == record_id, Document.source_system != "").order_by(Document.source_system)))


# --- resubmission closes the recall ----------------------------------------------------------------

@event.listens_for(Record.status, "set")
def _resubmitted(record: Record, value: str, old: object, _initiator: object) -> None:
    """Whoever moves a recalled record back to 待质控 (archive QC's resubmission), its recall and
    re-collection end with it: recall never needs to be called by another workflow."""
    session = object_session(record)
    if old == "recalled" and value == "submitted" and session is not None and record.id is not None:
        close_recall(session, record)


def close_recall(session: Session, record: Record) -> Recall | None:
    recall = open_recall(session, record.id)
    if recall is None:
        return None
    now = utcnow()
    recall.state, recall.resubmitted_at = "resubmitted", now
    session.execute(sa.update(RecollectionRequest).where(
        RecollectionRequest.record_id == record.id, RecollectionRequest.closed_at.is_(None)).values(closed_at=now))
    for source in sources_of(session, record.id):
        session.add(SourceNotice(source_name=source, record_id=record.id, event="resubmitted",
                                 payload={"record_id": record.id, "recall_id": recall.id}))
    record_event(session, lifecycle.SYSTEM, "recall.resubmit", object_type="recall", object_id=recall.id,
                 record_id=record.id, detail={"逾期": recall.overdue_at is not None})
    return recall


# --- queries -----------------------------------------------------------------------------------

def open_recall(session: Session, record_id: int) -> Recall | None:
    return session.scalars(sa.select(Recall).where(Recall.record_id == record_id, Recall.state == "recalled")
                           .order_by(Recall.id.desc()).limit(1)).first()


def recalls_of(session: Session, record_id: int) -> list[Recall]:
    return list(session.scalars(sa.select(Recall).where(Recall.record_id == record_id).order_by(Recall.id.desc())))


def get_recall(session: Session, recall_id: int, record_id: int) -> Recall:
    recall = session.get(Recall, recall_id)
    if recall is None or recall.record_id != record_id:
        raise NotFound("召回记录不存在")
    return recall


def pending_request(session: Session, record_id: int) -> ApprovalRequest | None:
    return session.scalars(sa.select(ApprovalRequest).where(
        ApprovalRequest.kind == KIND, ApprovalRequest.record_id == record_id,
        ApprovalRequest.status.in_(OPEN_STATUSES)).limit(1)).first()


@dataclass(frozen=True)
class Backup:
    """One pinned version (召回前版本) beside the document's version now."""

    document_id: int
    title: str
    pinned: Version
    current: Version | None

    @property
    def changed(self) -> bool:
        return self.current is not None and self.current.id != self.pinned.id


def backups_of(session: Session, recall: Recall) -> list[Backup]:
    rows = session.execute(
        sa.select(RecallBackup, Document).join(Document, Document.id == RecallBackup.document_id)
        .where(RecallBackup.recall_id == recall.id).order_by(Document.id)).all()
    return [Backup(document.id, document.title or document.document_type.name, backup.version,
                   document.current_version) for backup, document in rows]


def recall_json(recall: Recall | None) -> dict | None:
    if recall is None:
        return None
    return {"id": recall.id, "state": recall.state, "state_name": STATE_NAMES.get(recall.state, recall.state),
            "deadline": clock.iso(recall.deadline), "reason": recall.reason, "request_id": recall.request_id,
            "recalled_at": clock.iso(recall.recalled_at), "overdue": recall.overdue_at is not None,
            "document_ids": recall.document_ids, "resubmitted_at": clock.iso(recall.resubmitted_at)}


def record_status(session: Session, record: Record) -> dict:
    """What the EMR is told about a record (N4): life-cycle state, holds, the open recall, prints."""
    copies = printed_copies(session, record.id)
    return {"record_id": record.id, "record_number": record.record_number, "stay": record.stay_number,
            "status": record.status, "status_name": lifecycle.state_name(record.status), "sealed": record.sealed,
            "legal_hold": record.legal_hold, "recall": recall_json(open_recall(session, record.id)),
            "printed": bool(copies), "prints": len(copies)}


@dataclass(frozen=True)
class Overview:
    """What the recall page and API show of one record."""

    record: Record
    copies: list[PrintedCopy]
    pending: ApprovalRequest | None
    recalls: list[tuple[Recall, list[Backup]]]

    @property
    def open(self) -> Recall | None:
        return next((recall for recall, _ in self.recalls if recall.state == "recalled"), None)


def overview(session: Session, record: Record) -> Overview:
    recalls = [(recall, backups_of(session, recall)) for recall in recalls_of(session, record.id)]
    return Overview(record, printed_copies(session, record.id), pending_request(session, record.id), recalls)


def compare_url(backup: Backup) -> str | None:
    """The comparison screen (版本比对) between the pinned version and the version now."""
    if not backup.changed:
        return None
    return f"/documents/{backup.document_id}/compare?a={backup.pinned.number}&b={backup.current.number}"
