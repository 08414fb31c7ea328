"""The record life cycle (病案生命周期): the only writer of a record's status, sealing and legal hold.

States: 采集中 collecting → 待提交 awaiting → 待质控 submitted → 质控中 qc → 已退回 returned or
已归档 archived → 召回中 recalled → back to 待质控. ``MOVES`` is the whole list of allowed moves;
anything else is a ``Conflict`` naming the state the record is in. Sealing (封存) and legal hold
(法律保全) are holds across states, not states: a sealed record keeps its status.

Every change writes its audit event in the caller's transaction (who, from, to, why), so the
record and its history change together or not at all. Whether a *user* may ask for a move is
the workflow's business (archive QC, recall, sealing); this module keeps the record consistent.

A record's content is frozen while it is archived, sealed or held: content collected for it
then becomes a pending change (待审核变更, bingan/records/changes.py), never a silent
replacement of what was archived.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.access.audit import Actor, record_event
from bingan.errors import Conflict, Refusal
from bingan.storage.models import CollectedItem, Record, Source, utcnow
from bingan.storage.models.ingest import ACTIVE_ITEM_STATES

STATE_NAMES = {
    "collecting": "采集中",
    "awaiting": "待提交",
    "submitted": "待质控",
    "qc": "质控中",
    "returned": "已退回",
    "archived": "已归档",
    "recalled": "召回中",
}

# (from, to) -> what the move is called. Who makes it: collecting→awaiting the timed job
# (close_collections); submitting the record's clinician; QC moves the quality controller; the
# recall an approved recall request.
MOVES: dict[tuple[str, str], str] = {
    ("collecting", "awaiting"): "采集完成",
    ("awaiting", "submitted"): "提交归档",
    ("submitted", "qc"): "开始质控",
    ("qc", "returned"): "质控退回",
    ("qc", "archived"): "质控通过归档",
    ("returned", "submitted"): "修改后重新提交",
    ("archived", "recalled"): "召回",
    ("recalled", "submitted"): "召回修改后重新提交",
}

SYSTEM = Actor(None, "系统")
# Called in the transaction of every move to 已归档, whatever the path (the archive signature queues its job).
ON_ARCHIVED: list[Callable[[Session, Actor, Record], None]] = []


def state_name(status: str) -> str:
    return STATE_NAMES.get(status, status)


def content_frozen(record: Record) -> bool:
    """Archived, sealed or held: collected content waits for review instead of replacing."""
    return record.status == "archived" or record.sealed or record.legal_hold


def move(session: Session, actor: Actor, record: Record, to: str, reason: str = "") -> None:
    """Move ``record`` to status ``to`` if MOVES allows it, audited in the same transaction."""
    name = MOVES.get((record.status, to))
    if name is None:
        raise Conflict(f"病案当前状态为“{state_name(record.status)}”，不能改为“{state_name(to)}”")
    before, now = record.status, utcnow()
    record.status, record.status_changed_at = to, now
    if to == "submitted":
        record.submitted_at = now
    if to == "archived":
        record.archived_at = now
    record_event(session, actor, "status", object_type="record", object_id=record.id, record_id=record.id,
                 detail={"操作": name, "原状态": state_name(before), "新状态": state_name(to), "原因": reason})
    if to == "archived":
        for hook in ON_ARCHIVED:
            hook(session, actor, record)


def seal(session: Session, actor: Actor, record: Record, reason: str) -> None:
    """封存: nothing but the seal workflow's own actions reaches the record (ACTION_RULES)."""
    _change_hold(session, actor, record, "sealed", True, "seal", "封存", reason, "病案已封存")


def unseal(session: Session, actor: Actor, record: Record, reason: str) -> None:
    _change_hold(session, actor, record, "sealed", False, "unseal", "解封", reason, "病案未封存")


def place_legal_hold(session: Session, actor: Actor, record: Record, reason: str) -> None:
    """法律保全: the record's content and history must stay as they are (litigation, investigation)."""
    _change_hold(session, actor, record, "legal_hold", True, "legal_hold", "法律保全", reason, "病案已处于法律保全")


def release_legal_hold(session: Session, actor: Actor, record: Record, reason: str) -> None:
    _change_hold(session, actor, record, "legal_hold", False, "legal_hold_release", "解除法律保全", reason,
                 "病案未处于法律保全")


def _change_hold(session: Session, actor: Actor, record: Record, hold: str, on: bool, action: str,
                 what: str, reason: str, already: str) -> None:
    """Holds lie across the states: set or lift one, with a reason, audited in this transaction."""
    if getattr(record, hold) == on:
        raise Conflict(already)
    _require_reason(reason, what)
    setattr(record, hold, on)
    record_event(session, actor, action, object_type="record", object_id=record.id, record_id=record.id,
                 detail={"状态": state_name(record.status), "原因": reason})


def _require_reason(reason: str, what: str) -> None:
    if not reason.strip():
        raise Refusal(f"{what}须填写原因")


# --- the timed job: 采集中 → 待提交 ---------------------------------------------------------

def collection_window(session: Session) -> timedelta:
    """How long after discharge documents may still arrive: the longest collection delay or
    re-collection period of an enabled source."""
    rows = session.execute(
        sa.select(Source.collection_delay_hours, Source.recollect_days).where(Source.enabled)
    ).all()
    return timedelta(hours=max([0, *(max(hours, days * 24) for hours, days in rows)]))


def close_collections(session: Session, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Move records whose collection is complete from 采集中 to 待提交; returns their ids.

    Complete means: discharged longer ago than ``collection_window`` and no document of the
    stay still in the pipeline (a failed item does not hold the record: operators see it on
    their to-do list, and a document arriving later still lands while the record is open).
    """
    until = (now or utcnow()) - collection_window(session)
    active = sa.select(CollectedItem.id).where(
        CollectedItem.state.in_(ACTIVE_ITEM_STATES),
        sa.or_(CollectedItem.record_id == Record.id, sa.and_(
            CollectedItem.record_number == Record.record_number, CollectedItem.stay == Record.stay_number,
            CollectedItem.visit_type == Record.visit_type)),
    )
    records = session.scalars(
        sa.select(Record).where(Record.status == "collecting", Record.discharged_at.is_not(None),
                                Record.discharged_at <= until, ~sa.exists(active))
        .order_by(Record.id).limit(limit)
    ).all()
    for record in records:
        move(session, SYSTEM, record, "awaiting", "出院后采集期已过，无待处理的采集项")
    return [record.id for record in records]
