"""The audit trail (K1, S12): events written in the caller's transaction, chained by a keyed hash.

Each event's hash is an HMAC-SHA256, under the audit key the database does not hold (audit_head),
of the previous event's hash and a canonical JSON form of the event: editing, inserting or deleting
a row breaks the chain at that point, and whoever writes the database cannot append correctly
chained events. Deleting the newest events shows against the checkpoints kept outside the table
(audit_head). Appending takes no lock the whole hospital shares: the event is signed alone
(``row_mac``, keyed, covering its id) and the sealer (audit_seal) chains committed events in
commit order within a second; ``chain_seq`` is its place in the chain.

Events written before migration 0005 keep their plain SHA-256 hash (chain version 1) and still
verify; the chain switches to the key once, so a plain hash after a keyed one is a forgery.
"""
from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.access.audit_head import (
    AuditKeyMissing,
    audit_key,
    checkpoint_ids,
    file_mode_problems,
    head_problems,
    keyed_mac,
    read_checkpoints,
)
from bingan.access.audit_seal import SEAL_GRACE_SECONDS, appended, lock_chain
from bingan.storage.models import AuditEvent, User, utcnow
from bingan.storage.system_settings import read_setting, write_setting

MIN_RETENTION_DAYS = 180
ANCHOR_KEY = "audit_anchor"
LEGACY_CHAIN = 1  # SHA-256 without a key, before migration 0005
KEYED_CHAIN = 2  # HMAC-SHA256 under the audit key
# What changes a record or who may reach it, as opposed to reading it: everyone who may view a
# record sees these on its timeline; who read it, and from where, only holders of SEES_RECORD_READERS.
RECORD_CHANGES = frozenset({"change", "tag", "grant", "revoke", "status", "seal", "unseal", "legal_hold",
                            "legal_hold_release", "pending_change"})


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    username: str
    client_ip: str = ""

    @classmethod
    def of(cls, user: User | None, client_ip: str = "") -> Actor:
        if user is None:
            return cls(None, "", client_ip)
        return cls(user.id, user.username, client_ip)


def _canonical_time(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")


def event_hash(prev_hash: str, event: AuditEvent) -> str:
    """The chain hash of ``event`` in its chain version."""
    if event.chain_version == LEGACY_CHAIN:
        return hashlib.sha256((prev_hash + _canonical(event)).encode()).hexdigest()
    return keyed_mac(audit_key(create=False), "audit-event", prev_hash + _canonical(event))


def _canonical(event: AuditEvent) -> str:
    body = {
        "id": event.id, "at": _canonical_time(event.at), "user_id": event.user_id,
        "username": event.username, "action": event.action, "object_type": event.object_type,
        "object_id": event.object_id, "record_id": event.record_id, "document_id": event.document_id,
        "page": event.page, "client_ip": event.client_ip, "result": event.result, "detail": event.detail,
    }
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def record_event(
    session: Session,
    actor: Actor,
    action: str,
    *,
    object_type: str = "",
    object_id: str | int = "",
    record_id: int | None = None,
    document_id: int | None = None,
    page: int | None = None,
    result: str = "ok",
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one signed event inside the caller's transaction; the sealer chains it after the commit."""
    key = _append_key(session)
    event = AuditEvent(
        at=utcnow(), user_id=actor.user_id,
        username=actor.username[:64], action=action, object_type=object_type, object_id=str(object_id)[:64],
        record_id=record_id, document_id=document_id, page=page, client_ip=actor.client_ip[:64],
        result=result, detail=detail or {}, chain_version=KEYED_CHAIN,
    )
    session.add(event)
    session.flush()  # the id is part of what is signed
    sign(event, key)
    appended(session, event)
    return event


def sign(event: AuditEvent, key: bytes | None = None) -> None:
    """The event's own signature, checked by the sealer before it chains the event."""
    event.row_mac = keyed_mac(key or audit_key(create=False), "audit-row", _canonical(event))


def _append_key(session: Session) -> bytes:
    """A lost key must stop the chain, not silently start a new key that fails every keyed event."""
    try:
        return audit_key(create=False)
    except AuditKeyMissing:
        if session.scalar(sa.select(AuditEvent.id).where(AuditEvent.chain_version == KEYED_CHAIN).limit(1)):
            raise
        return audit_key(create=True)


def signature_ok(event: AuditEvent) -> bool:
    """Whether an appended event was signed by the system (a row inserted by SQL is not)."""
    expected = keyed_mac(audit_key(create=False), "audit-row", _canonical(event))
    return event.chain_version == KEYED_CHAIN and hmac.compare_digest(event.row_mac or "", expected)


def chain_tail(session: Session) -> tuple[int, str]:
    """(place, hash) of the newest sealed event; after a purge of everything, the signed anchor's."""
    newest = session.execute(sa.select(AuditEvent.chain_seq, AuditEvent.hash).where(AuditEvent.chain_seq.is_not(None))
                             .order_by(AuditEvent.chain_seq.desc()).limit(1)).first()
    if newest is not None:
        return newest.chain_seq, newest.hash
    anchor = _anchor(session)
    return int(anchor.get("purged_through_seq", anchor.get("purged_through_id", 0))), anchor.get("prev_hash", "")


def seal_event(event: AuditEvent, position: int, prev_hash: str) -> None:
    event.chain_seq, event.prev_hash = position, prev_hash
    event.hash = event_hash(prev_hash, event)


def _anchor(session: Session) -> dict:
    return read_setting(session, ANCHOR_KEY)


def iter_events(session: Session, batch: int = 2000) -> Iterator[AuditEvent]:
    """Every sealed event in chain order with bounded memory."""
    last = 0
    while True:
        rows = list(session.scalars(
            sa.select(AuditEvent).where(AuditEvent.chain_seq > last).order_by(AuditEvent.chain_seq).limit(batch)
        ))
        if not rows:
            return
        yield from rows
        last = rows[-1].chain_seq
        session.expunge_all()


def verify_chain(session: Session, now: datetime | None = None) -> list[str]:
    """Problems found in the audit chain (Chinese); empty when the chain is intact.

    Holds the sealers off while it reads (appending goes on), so the chain does not move under it.
    """
    try:
        lock_chain(session)
        return _unsealed_problems(session, now or utcnow()) + _verify(session)
    except AuditKeyMissing as missing:
        return [str(missing)]


def _unsealed_problems(session: Session, now: datetime) -> list[str]:
    """Events not chained yet: forged ones at once, the system's own when they waited too long."""
    problems = []
    overdue = now - timedelta(seconds=SEAL_GRACE_SECONDS)
    for event in session.scalars(sa.select(AuditEvent).where(AuditEvent.chain_seq.is_(None)).order_by(AuditEvent.id)):
        if not signature_ok(event):
            problems.append(f"审计事件 #{event.id} 不是由系统写入的（签名不符）")
        elif _aware(event.at) < overdue:
            problems.append(f"审计事件 #{event.id} 写入超过{SEAL_GRACE_SECONDS}秒仍未封链（封链程序未运行？）")
    return problems


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _verify(session: Session) -> list[str]:
    checkpoint, problems = read_checkpoints()
    anchor = _anchor(session)
    expected_prev = anchor.get("prev_hash", "")
    watched = checkpoint_ids(session, checkpoint)
    seen: dict[int, str] = {}
    last = first_version = None
    keyed = False
    for event in iter_events(session):
        first_version = first_version or event.chain_version
        problems += _event_problems(event, expected_prev, keyed)
        keyed = keyed or event.chain_version == KEYED_CHAIN
        if event.id in watched:
            seen[event.id] = event.hash
        expected_prev, last = event.hash, (event.chain_seq, event.id)
    return (_anchor_problems(anchor, first_version) + problems
            + head_problems(session, checkpoint, last, keyed, seen) + file_mode_problems())


def _event_problems(event: AuditEvent, expected_prev: str, after_keyed: bool) -> list[str]:
    if event.chain_version not in (LEGACY_CHAIN, KEYED_CHAIN):
        return [f"审计事件 #{event.id} 的链版本 {event.chain_version} 无效（被修改）"]
    if after_keyed and event.chain_version == LEGACY_CHAIN:
        return [f"审计事件 #{event.id} 不是由系统写入的（密钥链之后出现无密钥哈希）"]
    problems = []
    if event.prev_hash != expected_prev:
        problems.append(f"审计事件 #{event.id} 之前的事件被删除或修改（链断开）")
    if event.hash != event_hash(event.prev_hash, event):
        problems.append(f"审计事件 #{event.id} 的内容被修改（哈希不符）")
    return problems


def _anchor_mac(anchor: dict) -> str:
    text = f"{anchor.get('purged_through_id')}:{anchor.get('prev_hash')}"
    return keyed_mac(audit_key(create=False), "audit-anchor", text)


def _anchor_problems(anchor: dict, first_version: int | None) -> list[str]:
    """Where the chain starts after a purge is signed, so deleting the oldest events does not pass."""
    if not anchor or ("mac" not in anchor and first_version == LEGACY_CHAIN):
        return []  # never purged, or purged before the key existed (the kept events are unkeyed too)
    if hmac.compare_digest(str(anchor.get("mac", "")), _anchor_mac(anchor)):
        return []
    return ["审计日志起点记录（清理锚点）的签名无效：最早的事件可能被删除"]


def retention_days(session: Session) -> int:
    from bingan.access.security_settings import security_settings

    return max(MIN_RETENTION_DAYS, security_settings(session).audit_retention_days)


class RetentionError(ValueError):
    """Purging would delete events younger than the retention period."""


def purge_before(session: Session, cutoff: datetime, actor: Actor) -> int:
    """Delete events older than ``cutoff`` and re-anchor the chain on the first kept event.

    Refuses when ``cutoff`` is inside the retention period (≥ 180 days, 等保: ≥ 6 months).
    """
    keep_days = retention_days(session)
    if cutoff > utcnow() - timedelta(days=keep_days):
        raise RetentionError(f"审计日志至少保留{keep_days}天，不能删除该日期之后的记录")
    naive_cutoff = cutoff.astimezone(UTC) if cutoff.tzinfo else cutoff.replace(tzinfo=UTC)
    lock_chain(session)
    last_purged = session.scalars(
        sa.select(AuditEvent).where(AuditEvent.at < naive_cutoff, AuditEvent.chain_seq.is_not(None))
        .order_by(AuditEvent.chain_seq.desc()).limit(1)
    ).first()
    if last_purged is None:
        return 0
    _append_key(session)
    count = session.execute(sa.delete(AuditEvent).where(AuditEvent.chain_seq <= last_purged.chain_seq)).rowcount
    anchor = {"prev_hash": last_purged.hash, "purged_through_id": last_purged.id,
              "purged_through_seq": last_purged.chain_seq, "purged_before": cutoff.isoformat(),
              "purged_count": count}
    anchor["mac"] = _anchor_mac(anchor)
    write_setting(session, ANCHOR_KEY, anchor)
    record_event(session, actor, "audit_purge", object_type="audit", detail=anchor)
    return count
