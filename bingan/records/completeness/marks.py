"""Missing and special marks (缺项标记、特殊病案标记, H9).

A clinician marks what a record still lacks (which document or category, why, when it is
expected) or marks the record special (a kind from the hospital's 特殊病案类型 dictionary). The
record room closes a missing mark when the item was collected later (补收). Open marks warn at
self-check (checks.py), at printing and copying (``open_marks``), and QC's worklist filters
special records by them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from bingan import clock
from bingan.access.audit import Actor, record_event
from bingan.errors import Conflict, NotFound, Refusal
from bingan.storage.models import Category, DocumentType, Record, User, utcnow
from bingan.storage.models.completeness import MARK_KINDS, Mark, SpecialRecordKind

MAX_REASON = 1000


@dataclass(frozen=True)
class MarkInput:
    kind: str  # missing | special
    reason: str
    category_id: int | None = None
    document_type_id: int | None = None
    expected_date: date | None = None
    special_kind: str = ""


def open_marks(session: Session, record_id: int) -> list[Mark]:
    """The record's open marks, oldest first (QC's worklist, copying and printing warn from these)."""
    return list(session.scalars(
        sa.select(Mark).where(Mark.record_id == record_id, Mark.state == "open")
        .options(selectinload(Mark.category), selectinload(Mark.document_type)).order_by(Mark.id)
    ))


def marks_of(session: Session, record_id: int) -> list[Mark]:
    """Every mark of the record, open ones first, newest first within each."""
    return list(session.scalars(
        sa.select(Mark).where(Mark.record_id == record_id)
        .options(selectinload(Mark.category), selectinload(Mark.document_type))
        .order_by(Mark.state.desc(), Mark.id.desc())
    ))


def add_mark(session: Session, actor: Actor, user: User | None, record: Record, data: MarkInput) -> Mark:
    """Mark the record; refused with nothing changed when the mark is incomplete or archived."""
    if record.status == "archived":
        raise Conflict("病案已归档，不能再标记缺项或特殊病案；如需补充请申请召回")
    reason = data.reason.strip()
    if not reason:
        raise Refusal("请填写原因")
    if len(reason) > MAX_REASON:
        raise Refusal(f"原因不能超过 {MAX_REASON} 字")
    mark = Mark(record_id=record.id, kind=data.kind, reason=reason, created_by_id=user.id if user else None,
                created_by_name=actor.username)
    if data.kind == "missing":
        _missing(session, mark, data)
    elif data.kind == "special":
        _special(session, record, mark, data)
    else:
        raise Refusal("标记类型应为 missing（缺项）或 special（特殊病案）")
    session.add(mark)
    session.flush()
    record_event(session, actor, "mark", object_type="record_mark", object_id=mark.id, record_id=record.id,
                 detail={"标记": MARK_KINDS[mark.kind], "内容": mark.what, "原因": reason,
                         **({"预计补交": mark.expected_date.isoformat()} if mark.expected_date else {})})
    return mark


def _missing(session: Session, mark: Mark, data: MarkInput) -> None:
    if data.document_type_id is None and data.category_id is None:
        raise Refusal("请选择缺少的文书类型或病案分类")
    if data.document_type_id is not None:
        document_type = session.get(DocumentType, data.document_type_id)
        if document_type is None:
            raise Refusal("所选文书类型不存在")
        mark.document_type, mark.category_id = document_type, document_type.category_id
    else:
        category = session.get(Category, data.category_id)
        if category is None:
            raise Refusal("所选病案分类不存在")
        mark.category = category
    if data.expected_date is not None and data.expected_date < clock.local_date(utcnow()):
        raise Refusal("预计补交日期不能早于今天")
    mark.expected_date = data.expected_date


def _special(session: Session, record: Record, mark: Mark, data: MarkInput) -> None:
    kind = data.special_kind.strip()
    if kind not in special_kind_names(session):
        raise Refusal("请从特殊病案类型中选择（类型由病案室在“特殊病案类型”中维护）")
    already = any(m.kind == "special" and m.special_kind == kind for m in open_marks(session, record.id))
    if already:
        raise Conflict(f"病案已标记为特殊病案“{kind}”")
    mark.special_kind = kind


def close_mark(session: Session, actor: Actor, mark: Mark, note: str) -> Mark:
    """补收 done (or the special status lifted): the mark closes with a note, audited."""
    if mark.state != "open":
        raise Conflict("该标记已关闭")
    note = note.strip()
    if not note:
        raise Refusal("请填写关闭说明（例如：已补收病理报告）")
    mark.state, mark.closed_at, mark.closed_by_name, mark.close_note = "closed", utcnow(), actor.username, note
    record_event(session, actor, "mark_close", object_type="record_mark", object_id=mark.id,
                 record_id=mark.record_id, detail={"标记": MARK_KINDS[mark.kind], "内容": mark.what, "说明": note})
    return mark


def find_mark(session: Session, mark_id: int) -> Mark:
    mark = session.get(Mark, mark_id)
    if mark is None:
        raise NotFound("标记不存在")
    return mark


def as_json(mark: Mark) -> dict:
    return {
        "id": mark.id, "record_id": mark.record_id, "kind": mark.kind, "state": mark.state, "what": mark.what,
        "category_id": mark.category_id, "document_type_id": mark.document_type_id,
        "special_kind": mark.special_kind or None, "reason": mark.reason,
        "expected_date": mark.expected_date.isoformat() if mark.expected_date else None,
        "created_by": mark.created_by_name, "created_at": clock.iso(mark.created_at),
        "closed_by": mark.closed_by_name or None, "closed_at": clock.iso(mark.closed_at),
        "close_note": mark.close_note or None,
    }


# --- the 特殊病案类型 dictionary -------------------------------------------------------------

def special_kinds(session: Session, *, active_only: bool = False) -> list[SpecialRecordKind]:
    query = sa.select(SpecialRecordKind).order_by(SpecialRecordKind.position, SpecialRecordKind.id)
    if active_only:
        query = query.where(SpecialRecordKind.active)
    return list(session.scalars(query))


def special_kind_names(session: Session) -> list[str]:
    return [kind.name for kind in special_kinds(session, active_only=True)]


def add_special_kind(session: Session, actor: Actor, name: str) -> SpecialRecordKind:
    name = name.strip()
    if not name or len(name) > 64:
        raise Refusal("类型名称应为 1–64 个字")
    if session.scalar(sa.select(SpecialRecordKind.id).where(SpecialRecordKind.name == name)) is not None:
        raise Conflict(f"特殊病案类型“{name}”已存在")
    last = session.scalar(sa.select(sa.func.max(SpecialRecordKind.position))) or 0
    kind = SpecialRecordKind(name=name, position=last + 10, active=True)
    session.add(kind)
    session.flush()
    record_event(session, actor, "special_kind_add", object_type="special_record_kind", object_id=kind.id,
                 detail={"类型": name})
    return kind


def set_special_kind_active(session: Session, actor: Actor, kind_id: int, active: bool) -> SpecialRecordKind:
    """Kinds are retired, not deleted: marks made with them keep their name."""
    kind = session.get(SpecialRecordKind, kind_id)
    if kind is None:
        raise NotFound("特殊病案类型不存在")
    kind.active = active
    record_event(session, actor, "special_kind_enable" if active else "special_kind_disable",
                 object_type="special_record_kind", object_id=kind.id, detail={"类型": kind.name})
    return kind
