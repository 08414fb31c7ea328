"""Record-number aliases edited on screen and synced from the HIS (病案号对照, Q6): a 住院号, a
门诊号, an old or merged number, or an upstream system's number that means one of our record numbers.

Collection and search read them through ``records.patients.canonical_record_number``; an alias
may never be a record number itself (that record would vanish behind it).
The HIS serves ``GET {endpoint}/basic/aliases`` -> [{alias, record_number, kind, note}] on a
basic-data source, read through its field mapping under "aliases".
"""
from __future__ import annotations

import httpx
import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.access.audit import Actor, record_event
from bingan.config import Settings
from bingan.errors import NotFound, Refusal
from bingan.ingest.connectors.basic_data import mapped
from bingan.ingest.secrets import open_credentials
from bingan.storage.models import Patient, RecordNumberAlias, Source

ALIAS_KINDS = {"inpatient": "住院号", "outpatient": "门诊号", "upstream": "上游系统编号", "old": "旧病案号",
               "merged": "合并前病案号"}
ALIAS_FIELDS = ("alias", "record_number", "kind", "note")
PAGE = 100


def aliases(session: Session, query: str = "", offset: int = 0) -> tuple[list[RecordNumberAlias], int]:
    found = sa.select(RecordNumberAlias)
    if query.strip():
        found = found.where(sa.or_(RecordNumberAlias.alias == query.strip(),
                                   RecordNumberAlias.record_number == query.strip()))
    total = session.scalar(sa.select(sa.func.count()).select_from(found.subquery())) or 0
    rows = session.scalars(found.order_by(RecordNumberAlias.record_number, RecordNumberAlias.alias)
                           .offset(offset).limit(PAGE))
    return list(rows), total


def save_alias(session: Session, actor: Actor, alias: str, record_number: str, kind: str, note: str = "",
               ) -> RecordNumberAlias:
    """Add the alias, or point an existing one at another record number."""
    row = _upsert(session, alias, record_number, kind, note)
    record_event(session, actor, "alias_save", object_type="record_alias", object_id=row.alias,
                 detail={"别名": row.alias, "病案号": row.record_number, "类别": ALIAS_KINDS[row.kind]})
    return row


def _upsert(session: Session, alias: str, record_number: str, kind: str, note: str) -> RecordNumberAlias:
    alias, record_number = alias.strip(), record_number.strip()
    if not alias or not record_number:
        raise Refusal("请填写别名（住院号等）和它对应的病案号")
    if len(alias) > 32 or len(record_number) > 32:
        raise Refusal("别名和病案号最长 32 个字符")
    if alias == record_number:
        raise Refusal("别名不能与病案号相同")
    if kind not in ALIAS_KINDS:
        raise Refusal("别名类别不正确")
    if session.scalar(sa.select(Patient.id).where(Patient.record_number == alias)) is not None:
        raise Refusal(f"“{alias}”本身是一个病案号，不能作为别名")
    if session.scalar(sa.select(RecordNumberAlias.id).where(RecordNumberAlias.alias == record_number)) is not None:
        raise Refusal(f"“{record_number}”本身是别名，请填写它所对应的病案号")
    row = session.scalars(sa.select(RecordNumberAlias).where(RecordNumberAlias.alias == alias)).one_or_none()
    if row is None:
        row = RecordNumberAlias(alias=alias)
        session.add(row)
    row.record_number, row.kind, row.note = record_number, kind, note.strip()[:255]
    session.flush()
    return row


def delete_alias(session: Session, actor: Actor, alias_id: int) -> None:
    row = session.get(RecordNumberAlias, alias_id)
    if row is None:
        raise NotFound("别名不存在")
    record_event(session, actor, "alias_delete", object_type="record_alias", object_id=row.alias,
                 detail={"别名": row.alias, "病案号": row.record_number})
    session.delete(row)


def sync_aliases(session: Session, settings: Settings, actor: Actor, source: Source) -> tuple[int, list[str]]:
    """Apply the HIS's alias list; returns how many were saved and the refused rows' reasons (at most 20)."""
    if source.transport != "basic_data":
        raise Refusal("请选择基础数据同步方式的来源")
    rows = _fetch(settings, source)
    mapping = (source.field_mapping or {}).get("aliases", {})
    saved, problems = 0, []
    for row in rows:
        kind = str(mapped(row, mapping, "kind", "inpatient") or "inpatient")
        try:
            with session.begin_nested():
                _upsert(session, str(mapped(row, mapping, "alias", "")), str(mapped(row, mapping, "record_number", "")),
                        kind if kind in ALIAS_KINDS else "upstream", str(mapped(row, mapping, "note", "") or ""))
            saved += 1
        except Refusal as refusal:
            problems.append(f"{mapped(row, mapping, 'alias', '')}：{refusal.message}")
    record_event(session, actor, "alias_sync", object_type="source", object_id=source.id,
                 detail={"来源": source.name, "同步": saved, "拒绝": len(problems)})
    return saved, problems[:20]


def _fetch(settings: Settings, source: Source) -> list[dict]:
    creds = open_credentials(settings, source.credentials or "")
    headers = {"Authorization": f"Bearer {creds['token']}"} if creds.get("token") else {}
    try:
        with httpx.Client(base_url=source.endpoint.rstrip("/"), headers=headers, timeout=30) as client:
            response = client.get("/basic/aliases")
            response.raise_for_status()
            rows = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise Refusal(f"无法从来源“{source.title or source.name}”读取病案号对照：{exc.__class__.__name__}") from exc
    if not isinstance(rows, list):
        raise Refusal("来源返回的病案号对照不是列表")
    return [row for row in rows if isinstance(row, dict)]
