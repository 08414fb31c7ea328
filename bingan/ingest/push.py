"""HTTP push (A1), the collection side: the pushing source found by its API key, the upload sealed
to a staging file within the source's size limit, the item row committed and the worker kicked.

The HTTP layer (bingan/web/push/api.py) reads the request and calls these; a refusal is a
``PushRefused`` carrying the status the push API answers with and its Chinese reason.
"""
from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import BinaryIO

import sqlalchemy as sa

from bingan.config import get_settings
from bingan.errors import NotFound, Refusal
from bingan.ingest.completion import plan_round, round_json
from bingan.ingest.items import Report, enqueue
from bingan.ingest.options import get_options
from bingan.ingest.scheduler import kick
from bingan.ingest.secrets import hash_api_key
from bingan.ingest.staging import seal
from bingan.records.completeness import checks as completeness_checks
from bingan.records.completeness import service as completeness
from bingan.storage.db import get_engine, transaction
from bingan.storage.models import CollectedItem, PendingChange, Source

MIB = 1024 * 1024


class PushRefused(Refusal):
    """401 (no or unknown key), 403 (source disabled), 413 (over the size limit), 422 (empty file)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def source_for_key(api_key: str | None) -> Source:
    """The enabled source holding this API key (detached from its session)."""
    if not api_key:
        raise PushRefused(401, "缺少 API 密钥（请求头 X-Api-Key）")
    with transaction(get_engine()) as session:
        source = session.scalars(sa.select(Source).where(Source.api_key_hash == hash_api_key(api_key))).one_or_none()
        if source is None:
            raise PushRefused(401, "API 密钥无效")
        if not source.enabled:
            raise PushRefused(403, f"来源“{source.name}”已停用")
        session.expunge(source)
    return source


def size_limit(source: Source) -> int:
    return source.max_bytes or get_options().max_push_bytes


class _Bounded(io.RawIOBase):
    """The upload, refused (413) as soon as it passes the limit while it is being sealed."""

    def __init__(self, stream: BinaryIO, limit: int) -> None:
        super().__init__()
        self._stream, self._limit, self._read = stream, limit, 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk = self._stream.read(size)
        self._read += len(chunk)
        if self._read > self._limit:
            raise PushRefused(413, f"文件超过大小上限（{self._limit // MIB} MB）")
        return chunk


def stage(stream: BinaryIO, limit: int) -> tuple[Path, str]:
    """The upload sealed in HOME/staging (never plaintext at rest) and its SHA-256."""
    staging = get_settings().resolved_home / "staging"
    staging.mkdir(parents=True, exist_ok=True)
    path = staging / f"push-{uuid.uuid4().hex}"
    try:
        digest, written = seal(_Bounded(stream, limit), path, get_settings())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    if written == 0:
        path.unlink(missing_ok=True)
        raise PushRefused(422, "文件为空（0 字节）")
    return path, digest


def accept(source: Source, report: Report, staged: Path) -> dict:
    """The item row for a staged push, committed before the answer, then the worker kicked; a
    repeat of a push already collected keeps the first and drops its staged file."""
    try:
        with transaction(get_engine()) as session:
            item, created = enqueue(session, session.merge(source), report, staged_path=str(staged))
            answer = {"item_id": item.id, "state": item.state, "duplicate": not created}
    except BaseException:
        staged.unlink(missing_ok=True)  # nothing refers to it: the item row was not committed
        raise
    if created:
        kick([answer["item_id"]])
    else:
        staged.unlink(missing_ok=True)
    return answer


def item_state(source: Source, item_id: int) -> dict:
    """An item this source pushed, as the push API reports it (another source's items do not exist)."""
    with transaction(get_engine()) as session:
        item = session.get(CollectedItem, item_id)
        if item is None or item.source_id != source.id:
            raise NotFound("找不到该采集条目")
        return {"item_id": item.id, "state": item.state, "failure_reason": item.failure_reason,
                "version_id": item.version_id, "new_version": item.new_version, "review": _review(session, item)}


def _review(session, item: CollectedItem) -> dict | None:
    """A version collected after archiving waits for the record room: pending, accepted or rejected
    (归档后变更审核), with the reviewer's reason — how the source learns why its version was refused."""
    change = session.scalars(sa.select(PendingChange).where(PendingChange.version_id == item.version_id)).first()
    if change is None:
        return None
    return {"state": change.state, "reason": change.reason,
            "decided_at": change.decided_at.isoformat() if change.decided_at else None}


def record_complete(record_number: str, stay: int) -> dict:
    """The EMR's record-level "complete" event (病历已完成): a collection round for the record across
    its pull sources, each after its own delay (completion.py), and the same submission a doctor
    makes, as the system. Failing self-checks leave the record 待提交 with the findings stored; the
    answer carries them either way."""
    with transaction(get_engine()) as session:
        record = completeness.record_by_stay(session, record_number, stay)
        rounds = plan_round(session, record)
        report = completeness.complete_from_emr(session, record)
        return {"record_id": record.id, "status": record.status, "submitted": record.status == "submitted",
                "checks": completeness_checks.report_json(report), "collection": round_json(session, rounds)}
