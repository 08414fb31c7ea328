"""文书类型对照 (G3): many local document names or codes mean one standard document type.

Collection resolves a source's code by its own mapping, then aliases of that source, then aliases
for every source, then our own codes and names (bingan/ingest/resolve.py). What is left is listed
here — the names collection met that nothing maps, with how many items carried them — so the
record room maps each once; later deliveries then file under the standard type.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from bingan.access.audit import Actor, record_event
from bingan.errors import Conflict, NotFound, Refusal
from bingan.storage.models import CollectedItem, DocumentType, DocumentTypeAlias, Source, SourceMapping


@dataclass(frozen=True)
class UnmappedName:
    source_id: int
    source: str  # Source.name, also the alias's source_system
    source_title: str
    name: str
    items: int
    failed: int
    last_seen: datetime


def unmapped_names(session: Session, limit: int = 500) -> list[UnmappedName]:
    """Local names collection met that no mapping, alias, standard code or name resolves."""
    code = CollectedItem.document_type_code
    mapped = sa.or_(
        sa.exists().where(SourceMapping.source_id == CollectedItem.source_id, SourceMapping.source_code == code),
        sa.exists().where(DocumentTypeAlias.alias == code,
                          DocumentTypeAlias.source_system.in_(["", Source.name])),
        sa.exists().where(sa.or_(DocumentType.code == code, DocumentType.name == code)),
    )
    rows = session.execute(
        sa.select(Source.id, Source.name, Source.title, code, sa.func.count(),
                  sa.func.sum(sa.case((CollectedItem.state == "failed", 1), else_=0)),
                  sa.func.max(CollectedItem.created_at))
        .join(Source, Source.id == CollectedItem.source_id)
        .where(code != "", ~mapped)
        .group_by(Source.id, Source.name, Source.title, code)
        .order_by(sa.func.count().desc(), Source.name, code).limit(limit)
    ).all()
    return [UnmappedName(*row[:5], int(row[5] or 0), row[6]) for row in rows]


def aliases(session: Session) -> list[DocumentTypeAlias]:
    return list(session.scalars(
        sa.select(DocumentTypeAlias).options(selectinload(DocumentTypeAlias.document_type))
        .order_by(DocumentTypeAlias.source_system, DocumentTypeAlias.alias)
    ))


def map_name(session: Session, actor: Actor, alias: str, document_type_id: int, source_system: str = "") -> \
        DocumentTypeAlias:
    """Map a local name to a standard type, for one source or (``source_system`` "") every source."""
    alias = alias.strip()
    if not alias or len(alias) > 100:
        raise Refusal("本地文书名称应为 1–100 个字")
    document_type = session.get(DocumentType, document_type_id)
    if document_type is None:
        raise Refusal("请选择标准文书类型")
    if source_system and session.scalar(sa.select(Source.id).where(Source.name == source_system)) is None:
        raise Refusal("来源系统不存在")
    taken = session.scalars(sa.select(DocumentTypeAlias).where(
        DocumentTypeAlias.source_system == source_system, DocumentTypeAlias.alias == alias)).first()
    if taken is not None:
        raise Conflict(f"“{alias}”已对照为“{taken.document_type.name}”")
    found = DocumentTypeAlias(source_system=source_system, alias=alias, document_type=document_type)
    session.add(found)
    session.flush()
    record_event(session, actor, "document_type_alias_add", object_type="document_type_alias", object_id=found.id,
                 detail={"本地名称": alias, "标准文书类型": document_type.name, "来源": source_system or "所有来源"})
    return found


def remove_alias(session: Session, actor: Actor, alias_id: int) -> None:
    found = session.get(DocumentTypeAlias, alias_id)
    if found is None:
        raise NotFound("文书类型对照不存在")
    record_event(session, actor, "document_type_alias_remove", object_type="document_type_alias", object_id=found.id,
                 detail={"本地名称": found.alias, "标准文书类型": found.document_type.name,
                         "来源": found.source_system or "所有来源"})
    session.delete(found)
