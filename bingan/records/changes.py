"""Pending changes (待审核变更): content collected for a record whose content is frozen.

``add_version`` (bingan/records/documents.py) stores a new version of an archived, sealed or
held record as usual — blob, pages, version row — but leaves the document's current version
as archived and holds the new one here. The record room accepts it (it becomes current and is
indexed) or rejects it (it stays in the version history, never current). The review screen
comes with archive QC; these are its service functions.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from bingan.access.audit import Actor, record_event
from bingan.errors import Conflict, Refusal
from bingan.storage.models import CollectedItem, Document, PendingChange, Version, utcnow


def hold_for_review(session: Session, document: Document, version: Version, *, new_document: bool) -> PendingChange:
    """Keep ``version`` out of the record until someone decides on it."""
    change = PendingChange(record_id=document.record_id, document=document, version=version,
                           new_document=new_document, collected_at=version.collected_at or utcnow())
    session.add(change)
    return change


def pending_changes(session: Session, record_id: int | None = None) -> list[PendingChange]:
    """Changes waiting for a decision, oldest first; of one record or of all."""
    query = sa.select(PendingChange).where(PendingChange.state == "pending")
    if record_id is not None:
        query = query.where(PendingChange.record_id == record_id)
    return list(session.scalars(query.order_by(PendingChange.id).options(
        selectinload(PendingChange.document), selectinload(PendingChange.version))))


def accept_change(session: Session, actor: Actor, change: PendingChange, reason: str = "") -> None:
    """The collected version becomes the document's current version and is indexed."""
    _require_pending(change)
    document = change.document
    document.current_version = change.version
    document.removed = False
    _decide(session, actor, change, "accepted", reason)
    # The ingest tick indexes items in "extracted" (records never imports ingest): the item that
    # collected this version goes back there, and the index shows the document at its new version.
    session.execute(sa.update(CollectedItem).where(CollectedItem.version_id == change.version_id)
                    .values(state="extracted", next_attempt_at=None, kicked_at=None))


def reject_change(session: Session, actor: Actor, change: PendingChange, reason: str) -> None:
    """The collected version stays in the history, never current; the reason is required."""
    _require_pending(change)
    if not reason.strip():
        raise Refusal("驳回变更须填写原因")
    _decide(session, actor, change, "rejected", reason)


def _require_pending(change: PendingChange) -> None:
    if change.state != "pending":
        raise Conflict(f"该变更已{'接受' if change.state == 'accepted' else '驳回'}，不能再处理")


def _decide(session: Session, actor: Actor, change: PendingChange, state: str, reason: str) -> None:
    change.state, change.decided_at, change.decided_by_id, change.reason = state, utcnow(), actor.user_id, reason[:255]
    record_event(session, actor, "pending_change", object_type="version", object_id=change.version_id,
                 record_id=change.record_id, document_id=change.document_id,
                 detail={"决定": "接受" if state == "accepted" else "驳回", "版本": change.version.number,
                         "原因": reason})
