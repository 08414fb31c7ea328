"""The collection pipeline: fetch → identify → hash → store blob → extract → version → index.

Every step reads the item row, does its work and commits the item's next state; the row
is the only truth (broker messages are kicks). Each step is idempotent, so a worker killed
anywhere leaves the item at its last committed state and whoever claims it next resumes
there: a re-fetch overwrites the staged file, a re-put deduplicates by SHA-256, a version
with known content is found instead of made, and index writes are upserts by page id.
"""
from __future__ import annotations

import logging
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import partial
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from bingan.access.audit import Actor
from bingan.config import Settings, get_settings
from bingan.formats.base import FormatError, FormatUnavailable
from bingan.ingest import extract as extraction
from bingan.ingest import resolve, staging
from bingan.ingest.errors import PermanentFailure, StepFailure, TransientFailure
from bingan.ingest.indexing import current_version_ids, page_docs_for_versions, version_ids_of
from bingan.ingest.options import IngestOptions, get_options
from bingan.records.ca_validation import service as ca_validation
from bingan.records.completeness.service import after_collection
from bingan.records.documents import DocumentSource, NewContent, add_version
from bingan.storage.blobs.port import BlobError, BlobStore, Placement, open_blob_store
from bingan.storage.db import get_engine, transaction
from bingan.storage.models import CollectedItem, Source, Version, utcnow
from bingan.storage.models.ingest import ACTIVE_ITEM_STATES

log = logging.getLogger(__name__)

TERMINAL = ("indexed", "failed")
COLLECTOR = Actor(None, "采集")


@dataclass
class Pipeline:
    """What a worker needs to run steps; blob store and index are opened on first use."""

    settings: Settings = field(default_factory=get_settings)
    engine: Engine | None = None
    options: IngestOptions = field(default_factory=get_options)
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}")
    _blobs: BlobStore | None = None
    _index: object | None = None

    def __post_init__(self) -> None:
        self.engine = self.engine or get_engine(self.settings)

    @property
    def blobs(self) -> BlobStore:
        if self._blobs is None:
            self._blobs = open_blob_store(self.settings)
        return self._blobs

    @property
    def index(self):
        if self._index is None:
            from bingan.search.factory import open_search_index

            self._index = open_search_index(self.settings)
        return self._index

    @property
    def staging(self) -> Path:
        path = self.settings.resolved_home / "staging"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
            self._index = None

    @contextmanager
    def tx(self) -> Iterator:
        with transaction(self.engine) as session:
            yield session


# --------------------------------------------------------------------------- claiming


def claim(pipe: Pipeline, item_ids: Iterable[int], states: tuple[str, ...] = ACTIVE_ITEM_STATES) -> list[int]:
    """Take a lease on each item nobody else holds; returns the ones we got."""
    got: list[int] = []
    now = utcnow()
    until = now + timedelta(seconds=pipe.options.lease_seconds)
    table = CollectedItem.__table__
    with pipe.engine.begin() as conn:
        for item_id in item_ids:
            done = conn.execute(
                table.update()
                .where(table.c.id == item_id, table.c.state.in_(states),
                       sa.or_(table.c.locked_until.is_(None), table.c.locked_until < now,
                              table.c.locked_by == pipe.worker_id))
                .values(locked_until=until, locked_by=pipe.worker_id, heartbeat_at=now)
            )
            if done.rowcount:
                got.append(item_id)
    return got


def claim_one(pipe: Pipeline, item_id: int, states: tuple[str, ...] = ACTIVE_ITEM_STATES) -> str | None:
    """``claim`` of one item that also returns its state (None: someone else holds it)."""
    now = utcnow()
    table = CollectedItem.__table__
    with pipe.engine.begin() as conn:
        return conn.execute(
            table.update()
            .where(table.c.id == item_id, table.c.state.in_(states),
                   sa.or_(table.c.locked_until.is_(None), table.c.locked_until < now,
                          table.c.locked_by == pipe.worker_id))
            .values(locked_until=now + timedelta(seconds=pipe.options.lease_seconds), locked_by=pipe.worker_id,
                    heartbeat_at=now)
            .returning(table.c.state)
        ).scalar_one_or_none()


def release(pipe: Pipeline, item_ids: Iterable[int]) -> None:
    table = CollectedItem.__table__
    with pipe.engine.begin() as conn:
        conn.execute(
            table.update().where(table.c.id.in_(list(item_ids)), table.c.locked_by == pipe.worker_id)
            .values(locked_until=None, locked_by="")
        )


class Heartbeat:
    """Renews our leases while a long step (OCR of a thick scan) runs; dies with the process."""

    def __init__(self, pipe: Pipeline, item_ids: list[int]) -> None:
        self.pipe, self.item_ids = pipe, item_ids
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="bingan-heartbeat")

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        table = CollectedItem.__table__
        while not self._stop.wait(self.pipe.options.heartbeat_seconds):
            now = utcnow()
            try:
                with self.pipe.engine.begin() as conn:
                    conn.execute(
                        table.update().where(table.c.id.in_(self.item_ids), table.c.locked_by == self.pipe.worker_id)
                        .values(locked_until=now + timedelta(seconds=self.pipe.options.lease_seconds), heartbeat_at=now)
                    )
            except OperationalError:
                log.warning("heartbeat failed for items %s", self.item_ids, exc_info=True)


# --------------------------------------------------------------------------- running an item


def process_item(pipe: Pipeline, item_id: int, *, index: bool = True) -> str:
    """Walk one item as far as it goes; returns its state ("busy" if another worker holds it).

    ``index=False`` stops at "extracted" so a bulk loader can index many items in one commit.
    The claim reads the state in the same statement, and the step that reaches the stopping
    state gives the lease up in its own commit: one transaction each instead of three.
    """
    state = claim_one(pipe, item_id)
    if state is None:
        return "busy"
    stop = TERMINAL if index else (*TERMINAL, "extracted")
    released = False
    try:
        with Heartbeat(pipe, [item_id]):
            state, released = _walk(pipe, item_id, state, stop)
            return state
    finally:
        if not released:
            release(pipe, [item_id])


def _walk(pipe: Pipeline, item_id: int, state: str, stop: tuple[str, ...]) -> tuple[str, bool]:
    """The item's state when it stops, and whether the last step's commit released the lease."""
    released = False
    while state not in stop:
        try:
            state, released = _step(pipe, item_id, state, stop)
        except StepFailure as exc:
            return _record_failure(pipe, item_id, state, exc), False
        except (OperationalError, IntegrityError, OSError, BlobError) as exc:
            log.warning("item %s: transient error in state %s", item_id, state, exc_info=True)
            return _record_failure(pipe, item_id, state, TransientFailure("internal", _transient_reason(exc),
                                                                          repr(exc))), False
        except Exception as exc:
            log.exception("item %s: unexpected error in state %s", item_id, state)
            return _record_failure(pipe, item_id, state, TransientFailure("internal", "内部错误，将自动重试",
                                                                          repr(exc))), False
    return state, released


def _transient_reason(exc: Exception) -> str:
    if isinstance(exc, OperationalError):
        return "数据库暂时不可用，将自动重试"
    if isinstance(exc, BlobError):
        return f"文件存储暂时不可用：{exc}"
    return f"读写文件出错，将自动重试：{exc}"


def _state(pipe: Pipeline, item_id: int) -> str:
    with pipe.tx() as session:
        item = session.get(CollectedItem, item_id)
        return item.state if item else "failed"


def _step(pipe: Pipeline, item_id: int, state: str, stop: tuple[str, ...] = ()) -> tuple[str, bool]:
    """Run the step for ``state``: the next state, and whether its commit released the lease
    (it does when the next state is in ``stop``, where the walk ends)."""
    if state == "pending":
        state = fetch_step(pipe, item_id, stop)
    elif state == "fetched":
        state = store_step(pipe, item_id, stop)
    elif state == "stored":
        state = extract_step(pipe, item_id, stop)
    elif state == "extracted":
        index_items(pipe, [item_id])
        return _state(pipe, item_id), False
    else:
        raise PermanentFailure("state", f"未知的处理状态：{state}")
    return state, state in stop


@contextmanager
def _item(pipe: Pipeline, item_id: int, expected: str, stop: tuple[str, ...] = ()) -> Iterator[tuple]:
    """The item in a transaction, only while it is still ours and in the expected state.

    If the step leaves it in a ``stop`` state, the lease ends in the same commit."""
    with pipe.tx() as session:
        item = session.get(CollectedItem, item_id, with_for_update=True)
        if item is None or item.state != expected or item.locked_by != pipe.worker_id:
            raise TransientFailure("lease_lost", "处理权已被其他进程接管", f"item {item_id}", counts=False)
        yield session, item
        if item.state in stop:
            item.locked_until, item.locked_by = None, ""


def _advance(item: CollectedItem, state: str) -> str:
    item.state = state
    item.retry_count = 0 if state == "indexed" else item.retry_count
    item.failure_code = item.failure_reason = item.failure_detail = ""
    return state


# --------------------------------------------------------------------------- steps


def fetch_step(pipe: Pipeline, item_id: int, stop: tuple[str, ...] = ()) -> str:
    from bingan.ingest.connectors import connector_for

    with pipe.tx() as session:
        item = session.get(CollectedItem, item_id)
        source = item.source
        _respect_rate_limit(session, source)
        session.expunge(item)
        session.expunge(source)
    dest = pipe.staging / f"item-{item_id}"
    part = dest.with_suffix(".part")
    connector_for(source.transport).fetch(pipe, source, item, part)
    staging.seal_file(part, dest, pipe.settings)
    with _item(pipe, item_id, "pending", stop) as (_, row):
        row.staged_path = str(dest)
        row.item_metadata = {**row.item_metadata, "fetched_at": utcnow().isoformat()}
        return _advance(row, "fetched")


def _respect_rate_limit(session, source: Source) -> None:
    if source.rate_limit_per_minute <= 0:
        return
    since = (utcnow() - timedelta(minutes=1)).isoformat()
    recent = sum(
        1 for meta in session.scalars(
            sa.select(CollectedItem.item_metadata).where(
                CollectedItem.source_id == source.id, CollectedItem.updated_at >= utcnow() - timedelta(minutes=1)
            )
        )
        if (meta or {}).get("fetched_at", "") >= since
    )
    if recent >= source.rate_limit_per_minute:
        raise TransientFailure("rate_limited",
                               f"来源“{source.name}”已达每分钟 {source.rate_limit_per_minute} 个的限速，稍后采集",
                               counts=False)


def store_step(pipe: Pipeline, item_id: int, stop: tuple[str, ...] = ()) -> str:
    """Identify, resolve, extract, store the bytes (fsynced), then one commit: blob, version, "extracted".

    Extraction comes before the blob so an unreadable file leaves no orphan blob behind; a
    worker killed anywhere before the commit leaves the item "fetched", and the redo finds
    the blob already stored (deduplicated by SHA-256).
    """
    with pipe.tx() as session:
        sealed = _staged(session.get(CollectedItem, item_id))
    with staging.plaintext(sealed, pipe.settings) as staged:
        return _store(pipe, item_id, sealed, staged, stop)


def _store(pipe: Pipeline, item_id: int, sealed: Path, staged: Path, stop: tuple[str, ...]) -> str:
    with _item(pipe, item_id, "fetched") as (session, item):
        media_type = extraction.identify(staged)
        record = resolve.record_for(session, item.source, item)
        dtype = resolve.document_type_for(session, item.source, item.document_type_code,
                                          pipe.options.fallback_document_type)
        campus = record.campus.code if record.campus else (item.source.campus.code if item.source.campus else "main")
        when = record.discharged_at or record.admitted_at or utcnow()
        placement = Placement(campus=campus, record_number=record.record_number, stay=record.stay_number,
                              when=when.date(), filename=item.filename or sealed.name, document_type=dtype.code)
        record_id, dtype_id = record.id, dtype.id
    # The record may have been created just now; it is committed before the blob is written,
    # and the blob is fsynced before the row that points at it commits (ARCHITECTURE rule).
    found = _extract(pipe, staged, media_type)
    online = _online_checks(pipe, staged, found)
    with open(staged, "rb") as stream:
        info = pipe.blobs.put(stream, placement)
    playable = _playable_rendition(pipe, staged, media_type, placement)
    with _item(pipe, item_id, "fetched", stop) as (session, item):
        item.sha256, item.size, item.media_type, item.record_id = info.sha256, info.size, media_type, record_id
        state = _commit_version(session, item, found, dtype_id, online)
        session.get(Version, item.version_id).playable_sha256 = playable
    _drop_staged(str(sealed))
    return state


def _playable_rendition(pipe: Pipeline, staged: Path, media_type: str, placement: Placement) -> str | None:
    """A video's H.264/AAC MP4, stored as a blob: what users who may view but not download play
    (the original is a download). None when it cannot be made: those users are then refused."""
    if not media_type.startswith("video/"):
        return None
    from bingan.formats.video import make_playable

    name = f"{Path(placement.filename).stem}.playable.mp4"
    with staging.working_copy(pipe.staging, lambda _: None) as target:
        try:
            make_playable(staged, target)
        except FormatError as exc:
            log.warning("no playable rendition of %s: %s", placement.filename, exc)
            return None
        with open(target, "rb") as stream:
            return pipe.blobs.put(stream, replace(placement, filename=name)).sha256


def _staged(item: CollectedItem) -> Path:
    path = Path(item.staged_path) if item.staged_path else None
    if path is None or not path.exists():
        raise PermanentFailure("staged_missing", "暂存文件已丢失，请重新采集或重新上传", item.staged_path)
    return path


def _extract(pipe: Pipeline, path: Path, media_type: str) -> extraction.Extracted:
    try:
        return extraction.extract(path, media_type, image_hash_dpi=pipe.options.image_hash_dpi,
                                  hash_text_pages=pipe.options.image_hash_text_pages)
    except FormatUnavailable as exc:
        raise TransientFailure("extract_unavailable", f"{exc.message}，将自动重试", exc.detail) from exc
    except FormatError as exc:
        raise PermanentFailure("format", f"文件无法解析：{exc.message}", exc.detail) from exc


def extract_step(pipe: Pipeline, item_id: int, stop: tuple[str, ...] = ()) -> str:
    """Items left "stored" (by earlier releases or a retry from there): extract from stage or blob."""
    with pipe.tx() as session:
        item = session.get(CollectedItem, item_id)
        sha, media_type, staged_path = item.sha256, item.media_type, item.staged_path
    with _readable(pipe, staged_path, sha) as path:
        found = _extract(pipe, path, media_type)
        online = _online_checks(pipe, path, found)
    with _item(pipe, item_id, "stored", stop) as (session, item):
        state = _commit_version(session, item, found, online=online)
    _drop_staged(staged_path)
    return state


def _online_checks(pipe: Pipeline, path: Path, found: extraction.Extracted) -> list[ca_validation.Checked]:
    """联机验证 of the signing certificates (BINGAN_CA_VALIDATION), after the local verification and
    before the commit: the network is waited on outside any transaction, the answers are kept in
    the version's commit. Never fails the item: offline, the checks say why."""
    if not found.signatures or not ca_validation.enabled(pipe.settings):
        return []
    return ca_validation.check_file(pipe.settings, path.read_bytes(), found.media_type, len(found.signatures),
                                    cache=ca_validation.answer_cache(pipe.settings, pipe.engine))


def _commit_version(session, item: CollectedItem, found: extraction.Extracted, dtype_id: int | None = None,
                    online: list[ca_validation.Checked] | None = None) -> str:
    outcome = _version(session, item, found, dtype_id)
    item.version_id, item.document_id, item.new_version = outcome.version.id, outcome.document.id, outcome.created
    if online:
        ca_validation.store(session, COLLECTOR, outcome.version, online)
    state = _advance(item, "extracted")
    if outcome.created:  # a record on its way to the archive is checked again with its new content
        after_collection(session, outcome.document.record)
    if (item.item_metadata or {}).get("record_status") == "complete":  # listed complete before it existed
        from bingan.ingest.completion import complete_once

        complete_once(session, item.source, outcome.document.record)
    return state


def _version(session, item: CollectedItem, found: extraction.Extracted, dtype_id: int | None = None):
    record = session.get(resolve.Record, item.record_id)
    # store_step resolved the type a moment ago; resolving again costs ~3 ms an item.
    dtype = session.get(resolve.DocumentType, dtype_id) if dtype_id else resolve.document_type_for(
        session, item.source, item.document_type_code, get_options().fallback_document_type)
    source = DocumentSource(
        source_system=item.source.name, source_document_id=item.source_document_id, document_type=dtype,
        title=item.title or found.title, author=item.author, signed_at=item.signed_at, origin=item.origin,
    )
    content = NewContent(sha256=item.sha256, size=item.size, media_type=found.media_type,
                         filename=item.filename, pages=found.pages, signatures=found.signatures)
    return add_version(session, record, source, content)


@contextmanager
def _readable(pipe: Pipeline, staged_path: str, sha: str) -> Iterator[Path]:
    """A private plaintext copy of the staged file, or of the blob when the stage is gone."""
    if staged_path and Path(staged_path).exists():
        with staging.plaintext(Path(staged_path), pipe.settings) as path:
            yield path
        return
    with pipe.blobs.open(sha) as blob, staging.working_copy(pipe.staging, partial(shutil.copyfileobj, blob)) as path:
        yield path


def _drop_staged(staged_path: str) -> None:
    if staged_path:
        Path(staged_path).unlink(missing_ok=True)


def index_items(pipe: Pipeline, item_ids: list[int]) -> list[int]:
    """Make the index show each item's document at its current version, in one index commit.

    Also takes any other extracted item nobody holds, so a busy worker commits the index
    once per batch instead of once per file.
    """
    extra = _ready_to_index(pipe, exclude=item_ids)
    mine = item_ids + claim(pipe, extra, states=("extracted",))
    with pipe.tx() as session:
        rows = session.execute(
            sa.select(CollectedItem.id, CollectedItem.document_id)
            .where(CollectedItem.id.in_(mine), CollectedItem.state == "extracted",
                   CollectedItem.locked_by == pipe.worker_id)
        ).all()
        document_ids = {doc for _, doc in rows}
        current = current_version_ids(session, document_ids)
        stale = set(version_ids_of(session, document_ids)) - set(current.values())
        docs = page_docs_for_versions(session, [v for v in current.values() if v])
    try:
        index = pipe.index
        if stale:
            index.delete_versions(stale)
        index.add(docs)
        index.commit()
    except Exception as exc:
        pipe.close()
        if type(exc).__name__ == "IndexBusyError":
            raise TransientFailure("index_busy", "检索索引正被其他进程写入，稍后重试", str(exc), counts=False) from exc
        raise
    finally:
        _release_writer(pipe)
    done = [item_id for item_id, _ in rows]
    _mark_indexed(pipe, done)
    release(pipe, [i for i in mine if i not in item_ids])
    return done


def _release_writer(pipe: Pipeline) -> None:
    """Give up the tantivy writer lock between batches so the CLI or another worker can write."""
    index = pipe._index
    if index is not None and getattr(index, "_writer", None) is not None:
        index.close()


def _ready_to_index(pipe: Pipeline, exclude: list[int]) -> list[int]:
    now = utcnow()
    with pipe.tx() as session:
        return list(session.scalars(
            sa.select(CollectedItem.id).where(
                CollectedItem.state == "extracted", CollectedItem.id.not_in(exclude),
                sa.or_(CollectedItem.locked_until.is_(None), CollectedItem.locked_until < now),
            ).order_by(CollectedItem.id).limit(pipe.options.index_batch)
        ))


def _mark_indexed(pipe: Pipeline, item_ids: list[int]) -> None:
    with pipe.tx() as session:
        for item in session.scalars(sa.select(CollectedItem).where(CollectedItem.id.in_(item_ids))):
            if item.state == "extracted" and item.locked_by == pipe.worker_id:
                _advance(item, "indexed")
                item.indexed_at = utcnow()
                item.next_attempt_at = None


# --------------------------------------------------------------------------- failures and retries


def backoff(options: IngestOptions, retry_count: int) -> float:
    return min(options.retry_max_seconds, options.retry_base_seconds * (2 ** max(0, retry_count - 1)))


def _record_failure(pipe: Pipeline, item_id: int, state: str, exc: StepFailure) -> str:
    with pipe.tx() as session:
        item = session.get(CollectedItem, item_id)
        if item is None or item.state in TERMINAL:
            return item.state if item else "failed"
        permanent = isinstance(exc, PermanentFailure)
        if isinstance(exc, TransientFailure) and exc.counts:
            item.retry_count += 1
            if item.retry_count > pipe.options.max_retries:
                permanent = True
                exc = PermanentFailure(exc.code, f"多次重试（{pipe.options.max_retries} 次）仍失败：{exc.reason}",
                                       exc.detail)
        item.failure_code, item.failure_reason, item.failure_detail = exc.code, exc.reason, exc.detail[:4000]
        if permanent:
            item.resume_state, item.state, item.next_attempt_at = item.state, "failed", None
            if item.sha256:  # the blob holds the bytes a retry needs: the sealed stage is a spare copy
                _drop_staged(item.staged_path)
            log.info("item %s failed permanently: %s", item_id, exc.reason)
            return "failed"
        delay = backoff(pipe.options, item.retry_count) if exc.counts else min(pipe.options.retry_base_seconds, 5.0)
        item.next_attempt_at = utcnow() + timedelta(seconds=delay)
        return "retry"


def retry_items(session, item_ids: Iterable[int] | None = None, *, failure_code: str | None = None) -> list[int]:
    """Put failed items back where they stopped (all failed ones when ``item_ids`` is None)."""
    query = sa.select(CollectedItem).where(CollectedItem.state == "failed")
    if item_ids is not None:
        query = query.where(CollectedItem.id.in_(list(item_ids)))
    if failure_code:
        query = query.where(CollectedItem.failure_code == failure_code)
    retried = []
    for item in session.scalars(query):
        item.state = item.resume_state or "pending"
        item.resume_state = ""
        item.retry_count = 0
        item.next_attempt_at = utcnow()
        item.locked_until, item.locked_by = None, ""
        retried.append(item.id)
    return retried


# --------------------------------------------------------------------------- in-process running


def run_until_settled(pipe: Pipeline, item_ids: list[int], timeout: float = 600) -> dict[int, str]:
    """Run items in this process until each is indexed or failed (CLI, demo, tests).

    Waits out transient retries; another worker may hold an item, then we wait for it too.
    """
    deadline = time.monotonic() + timeout
    pending = set(item_ids)
    states: dict[int, str] = {}
    while pending and time.monotonic() < deadline:
        for item_id in _due(pipe, pending):
            process_item(pipe, item_id, index=False)
        ready = [i for i, s in _states(pipe, pending).items() if s == "extracted"]
        for start in range(0, len(ready), pipe.options.index_batch):
            index_claimed(pipe, ready[start:start + pipe.options.index_batch])
        states.update(_states(pipe, pending))
        pending = {i for i in pending if states[i] not in TERMINAL}
        if pending:
            time.sleep(_wait(pipe, pending))
    return states


def index_claimed(pipe: Pipeline, item_ids: list[int]) -> None:
    """Index extracted items in one index commit (a dedicated indexer, the demo loader, the CLI)."""
    mine = claim(pipe, item_ids, states=("extracted",))
    if not mine:
        return
    try:
        index_items(pipe, mine)
    except StepFailure as exc:
        for item_id in mine:
            _record_failure(pipe, item_id, "extracted", exc)
    finally:
        release(pipe, mine)


def _due(pipe: Pipeline, item_ids: set[int]) -> list[int]:
    now = utcnow()
    with pipe.tx() as session:
        return sorted(session.scalars(
            sa.select(CollectedItem.id).where(
                CollectedItem.id.in_(item_ids), CollectedItem.state.in_(ACTIVE_ITEM_STATES),
                sa.or_(CollectedItem.next_attempt_at.is_(None), CollectedItem.next_attempt_at <= now),
            )
        ))


def _states(pipe: Pipeline, item_ids: set[int]) -> dict[int, str]:
    with pipe.tx() as session:
        return dict(session.execute(
            sa.select(CollectedItem.id, CollectedItem.state).where(CollectedItem.id.in_(item_ids))
        ).all())


def _wait(pipe: Pipeline, item_ids: set[int]) -> float:
    with pipe.tx() as session:
        first = sa.select(sa.func.min(CollectedItem.next_attempt_at)).where(CollectedItem.id.in_(item_ids))
        due = session.scalar(first)
    if due is None:
        return 0.2
    if due.tzinfo is None:
        due = due.replace(tzinfo=utcnow().tzinfo)
    return max(0.05, min(2.0, (due - utcnow()).total_seconds()))
