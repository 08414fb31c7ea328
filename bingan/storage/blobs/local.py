"""The local encrypted multi-volume blob store (the default backend).

A put streams plaintext through the cipher into ``VOLUME/.tmp`` of the first writable volume
with room, spilling what it has written to the next volume if that one fills up. When the
SHA-256 is known it writes key record, pointer and intent file into ``.tmp`` (fsynced, one
directory fsync), then commits under the volume lock: key and body renamed into the record
directory (one directory fsync), pointer renamed into ``.by-sha`` (the commit mark, one
directory fsync), intent removed, manifest rewritten. Seven fsyncs per new blob, three of them
under the lock; the manifest's directory entry becomes durable with the next put into that
record directory (or the file system's own commit): after a power loss a manifest may lack its
newest entries, never hold a broken one, and the database still knows those blobs. A crash at any point leaves either a
committed blob or debris that ``scan_orphan_temp`` lists (everything in ``.tmp``, plus the
targets an intent names whose pointer never appeared). Layout: see ``volumes.py``.
"""
from __future__ import annotations

import ctypes
import errno
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, cast

from bingan.storage.blobs.crypto import (
    CHUNK,
    HEADER,
    TAG,
    DecryptReader,
    Sealer,
    cipher_name,
    encrypt_stream,
    plaintext_size,
    read_full,
    unpack_key_record,
)
from bingan.storage.blobs.keys import Keyring, Progress, fsync_dir, load_keyring, reseal_bytes
from bingan.storage.blobs.manifest import (
    MANIFEST,
    append_entry,
    export_entries,
    locate_entries,
    open_entry,
    read_key_record,
)
from bingan.storage.blobs.port import (
    BlobCorrupt,
    BlobError,
    BlobInfo,
    BlobMissing,
    ManifestEntry,
    NoWritableVolume,
    Placement,
    VolumeStatus,
    check_sha,
)
from bingan.storage.blobs.volumes import (
    INDEX_DIR,
    TMP_DIR,
    Volume,
    free_bytes,
    make_dirs,
    parse_volumes,
    used_bytes,
    volume_lock,
    write_atomic,
)

if TYPE_CHECKING:
    from bingan.config import Settings

_PROMOTION_ASKED: dict[str, float] = {}  # sha → when this process last asked (one ask a minute)
_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_READ_BLOCK = 1024 * 1024
_WRITEBACK_STEP = 8 * 1024 * 1024


class LocalBlobStore:
    def __init__(self, volumes: Sequence[Volume], keyring: Keyring,
                 cipher: str = "aes-256-gcm", reserve_bytes: int = 0,
                 on_cold_read: Callable[[str], None] | None = None) -> None:
        self.volumes = list(volumes)
        self.keyring = keyring
        self.cipher = cipher
        self.reserve_bytes = reserve_bytes
        # Hot volumes are looked at first; a cold copy serves only when no hot one exists.
        self._read_order = [v for v in self.volumes if not v.cold] + [v for v in self.volumes if v.cold]
        # Called with the SHA-256 when a read is served from a cold volume (promotion on read).
        self.on_cold_read: Callable[[str], None] | None = on_cold_read
        self._used: dict[Path, int] = {}
        for volume in self.volumes:
            if not volume.read_only:
                volume.tmp.mkdir(parents=True, exist_ok=True)

    @classmethod
    def from_settings(cls, settings: Settings, create_key: bool = True) -> LocalBlobStore:
        return cls(parse_volumes(settings.blob_volumes, settings.resolved_home),
                   load_keyring(settings, create_key), settings.cipher,
                   settings.volume_reserve_mb * 1024 * 1024,
                   request_promotion if settings.tier_promote_on_read else None)

    # -- writing ---------------------------------------------------------------------------

    def put(self, stream: BinaryIO, placement: Placement) -> BlobInfo:
        record_dir = placement.record_dir()
        sealer = Sealer(self.cipher)
        key_record = self.keyring.wrap(sealer.data_key, self.cipher)
        with _SpillWriter(self) as writer:
            sha, size = encrypt_stream(stream, writer.write, sealer)
            writer.sync()
            volume = writer.volume
            rel = f"{record_dir}/{sha}.blob"
            # Everything fsyncable is written before taking the lock, so two workers overlap
            # their fsyncs; the lock covers only renames, two directory fsyncs and the manifest.
            staged = None if self._find(sha) else _Staged.write(volume, sha, rel, key_record)
            try:
                with volume_lock(volume):
                    info = self._commit(writer, sha, size, rel, staged, key_record)
                    entry = ManifestEntry(
                        sha256=sha, filename=placement.filename, stay=placement.stay,
                        document_type=placement.document_type, size=size, path=info.location,
                        stored_at=datetime.now(UTC).isoformat(timespec="seconds"),
                        campus=placement.campus, record_number=placement.record_number)
                    append_entry(volume, record_dir, entry, self.keyring, self.cipher)
            finally:
                if staged:
                    staged.discard()
        self._count_used(volume, 0 if info.deduplicated else writer.written + len(key_record))
        return info

    def _commit(self, writer: _SpillWriter, sha: str, size: int, rel: str, staged: _Staged | None,
                key_record: bytes) -> BlobInfo:
        """Make the temp body a blob, or drop it if the content is already stored.

        Order is what makes a crash safe: the intent (naming the targets) is durable before
        key and body leave ``.tmp``; key and body are durable (one directory fsync) before the
        pointer, the commit mark, is renamed into place.
        """
        found = self._find(sha)
        if found:
            return self._info(sha, *found, deduplicated=True)
        volume = writer.volume
        if staged is None:  # deleted between our first look and the lock (rare): stage it now
            staged = _Staged.write(volume, sha, rel, key_record)
        blob = volume.path / rel
        make_dirs(blob.parent, volume.path)
        os.replace(staged.key, blob.with_suffix(".key"))
        os.replace(writer.path, blob)
        writer.committed = True
        fsync_dir(blob.parent)
        pointer = volume.pointer(sha)
        make_dirs(pointer.parent, volume.path)
        os.replace(staged.pointer, pointer)
        fsync_dir(pointer.parent)
        staged.discard()
        return BlobInfo(sha, size, rel, str(volume.path), self.cipher)

    def _room(self, volume: Volume) -> int:
        room = free_bytes(volume.path) - self.reserve_bytes
        if volume.capacity is not None:
            room = min(room, volume.capacity - self._used_of(volume))
        return room

    def _used_of(self, volume: Volume) -> int:
        if volume.path not in self._used:
            self._used[volume.path] = used_bytes(volume)
        return self._used[volume.path]

    def _count_used(self, volume: Volume, added: int) -> None:
        """Keep the cap estimate current without walking the volume again."""
        if volume.path in self._used:
            manifest_guess = 4096
            self._used[volume.path] += added + manifest_guess

    # -- reading ---------------------------------------------------------------------------

    def _find(self, sha: str) -> tuple[Volume, str] | None:
        for volume in self._read_order:
            try:
                rel = volume.pointer(sha).read_text()
            except (FileNotFoundError, NotADirectoryError):
                continue
            if (volume.path / rel).is_file():
                return volume, rel
        return None

    def _require(self, sha: str) -> tuple[Volume, str]:
        found = self._find(check_sha(sha))
        if not found:
            raise BlobMissing(f"找不到文件 {sha}")
        return found

    def _info(self, sha: str, volume: Volume, rel: str, deduplicated: bool = False) -> BlobInfo:
        path = volume.path / rel
        with path.open("rb") as raw:
            head = read_full(raw, HEADER.size)
            length = os.fstat(raw.fileno()).st_size
        if len(head) < HEADER.size:
            raise BlobCorrupt(f"文件 {sha} 的文件头不完整")
        _, _, ident, _, chunk, _ = HEADER.unpack(head)
        return BlobInfo(sha, plaintext_size(length, chunk), rel, str(volume.path),
                        cipher_name(ident), deduplicated)

    def open(self, sha256: str) -> AbstractContextManager[BinaryIO]:
        return self._open(sha256)

    @contextmanager
    def _open(self, sha: str) -> Iterator[BinaryIO]:
        """A blob moved to another tier while we looked it up is looked up again: the move
        removes the old copy only after the new one is committed, pointer first."""
        for _ in range(3):
            volume, rel = self._require(sha)
            path = volume.path / rel
            try:
                data_key = self.keyring.unwrap(read_key_record(path))
                raw = path.open("rb")
            except (BlobCorrupt, FileNotFoundError):
                if _read_text(volume.pointer(sha)) != rel:
                    continue  # dropped from this volume meanwhile: the other tier has it
                if (volume.path / rel).is_file():
                    raise
                raise BlobMissing(f"找不到文件 {sha}（读取时已被删除）") from None
            break
        else:
            raise BlobMissing(f"找不到文件 {sha}（多次移动中）")
        if volume.cold and self.on_cold_read is not None:
            self.on_cold_read(sha)
        with raw:
            yield cast(BinaryIO, DecryptReader(raw, os.fstat(raw.fileno()).st_size, data_key, sha))

    def read_range(self, sha256: str, offset: int, length: int) -> bytes:
        with self.open(sha256) as reader:
            reader.seek(offset)
            return read_full(reader, length)

    def exists(self, sha256: str) -> bool:
        return self._find(check_sha(sha256)) is not None

    def size(self, sha256: str) -> int:
        for _ in range(2):
            volume, rel = self._require(sha256)
            try:
                return self._info(sha256, volume, rel).size
            except FileNotFoundError:
                continue  # moved to the other tier meanwhile
        return self._info(sha256, *self._require(sha256)).size

    def tier_of(self, sha256: str) -> str | None:
        """The tier that serves reads of this blob (hot before cold); None when it is nowhere."""
        found = self._find(check_sha(sha256))
        return found[0].tier if found else None

    def age_seconds(self, sha256: str) -> float:
        """Seconds since the blob was committed (its pointer written); verify's grace period uses it."""
        volume, _ = self._require(sha256)
        return time.time() - volume.pointer(sha256).stat().st_mtime

    def check(self, sha256: str) -> None:
        """Decrypt everything and compare the SHA-256; raises BlobMissing or BlobCorrupt."""
        with self.open(sha256) as reader:
            while reader.read(_READ_BLOCK):
                pass

    def iter_shas(self) -> Iterator[str]:
        """Each committed SHA once, in constant memory (earlier volumes win duplicates)."""
        for index, volume in enumerate(self.volumes):
            for sha in _pointer_names(volume):
                if any(v.pointer(sha).exists() for v in self.volumes[:index]):
                    continue
                rel = _read_text(volume.pointer(sha))
                if rel is not None and (volume.path / rel).is_file():
                    yield sha

    # -- maintenance -----------------------------------------------------------------------

    def delete(self, sha256: str) -> None:
        hits = [v for v in self.volumes if v.pointer(check_sha(sha256)).exists()]
        if not hits:
            raise BlobMissing(f"找不到文件 {sha256}")
        for volume in hits:
            if volume.read_only:
                raise BlobError(f"文件 {sha256} 在只读卷 {volume.path} 上，不能删除")
        for volume in hits:
            with volume_lock(volume):
                _delete_from(volume, sha256)

    def scan_orphan_temp(self, min_age_seconds: float = 0) -> list[str]:
        """Debris of interrupted writes: files in ``.tmp`` and targets of unfinished intents."""
        return [str(p) for v in self.volumes for p in _orphans(v, min_age_seconds)]

    def collect_orphan_temp(self, min_age_seconds: float = 3600) -> int:
        """Delete debris older than ``min_age_seconds`` (younger files may be writes in flight)."""
        removed = 0
        for volume in self.volumes:
            if volume.read_only:
                continue
            with volume_lock(volume):
                for path in _orphans(volume, min_age_seconds):
                    path.unlink(missing_ok=True)
                    removed += 1
        return removed

    def volumes_status(self) -> list[VolumeStatus]:
        return [_status(v) for v in self.volumes]

    def locate(self, record_number: str) -> list[ManifestEntry]:
        return locate_entries([v.path for v in self.volumes], self.keyring, record_number)

    def export_record(self, record_number: str, out_dir: Path) -> list[Path]:
        return export_entries(self.locate(record_number), out_dir,
                              lambda e: open_entry(e, self.keyring))

    def rewrap_keys(self, progress: Progress | None = None) -> int:
        """Re-wrap key records (sidecars, manifests) not under the primary key; bodies untouched.

        ':ro' volumes are included: ':ro' means "no new blobs", and skipping them would leave
        their files readable only with the retired key.
        """
        done = [0]
        for volume in self.volumes:
            for directory, names in _key_holders(volume):
                with volume_lock(volume):
                    _rewrap_directory(volume, directory, names, self.keyring, done, progress)
        return done[0]


def request_promotion(sha: str) -> None:
    """Ask the worker to bring a blob read from a cold volume back to hot (BINGAN_TIER_PROMOTE_ON_READ).

    A kick, not a promise: a lost message leaves the blob cold, and the next read asks again.
    """
    now = time.monotonic()
    if now - _PROMOTION_ASKED.get(sha, -120.0) < 60:
        return
    if len(_PROMOTION_ASKED) > 10_000:
        _PROMOTION_ASKED.clear()
    _PROMOTION_ASKED[sha] = now
    from bingan.broker import send

    send(PROMOTE_TASK, [sha])


PROMOTE_TASK = "bingan.worker.promote_blob"


class _Staged:
    """Key record, pointer and intent of one put, written and fsynced in ``.tmp`` outside the lock."""

    def __init__(self, key: Path, pointer: Path, intent: Path) -> None:
        self.key, self.pointer, self.intent = key, pointer, intent

    @classmethod
    def write(cls, volume: Volume, sha: str, rel: str, key_record: bytes) -> _Staged:
        staged = cls(volume.temp_name(".key"), volume.temp_name(".ptr"), volume.temp_name(".intent"))
        _write_synced(staged.key, key_record)
        _write_synced(staged.pointer, rel.encode())
        _write_synced(staged.intent, json.dumps({"blob": rel, "sha256": sha}).encode())
        fsync_dir(volume.tmp)  # one directory fsync makes the intent's name durable
        return staged

    def discard(self) -> None:
        """Whatever was not renamed into place (all of it when the content was a duplicate)."""
        for path in (self.key, self.pointer, self.intent):
            path.unlink(missing_ok=True)


def _write_synced(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        _write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


class _SpillWriter:
    """Temp-file sink that moves to the next writable volume when the current one is full."""

    def __init__(self, store: LocalBlobStore) -> None:
        self._store = store
        self.volume = Volume(Path())  # replaced by the first real volume in __enter__
        self.path = Path()
        self._fd = -1
        self.written = 0
        self._room = 0
        self.committed = False

    def __enter__(self) -> _SpillWriter:
        self._open_next(HEADER.size + CHUNK + TAG)
        return self

    def __exit__(self, *exc: object) -> None:
        self._close()
        if not self.committed and self.path.name:
            self.path.unlink(missing_ok=True)

    def write(self, data: bytes | memoryview) -> None:
        if len(data) > self._room:
            self._open_next(self.written + len(data))
        try:
            _write_all(self._fd, data)
        except OSError as exc:
            if exc.errno not in _FULL_ERRNOS:
                raise
            self._open_next(self.written + len(data))
            _write_all(self._fd, data)
        if (self.written + len(data)) // _WRITEBACK_STEP > self.written // _WRITEBACK_STEP:
            start_writeback(self._fd)
        self.written += len(data)
        self._room -= len(data)

    def sync(self) -> None:
        os.fsync(self._fd)
        self._close()

    def _open_next(self, need: int) -> None:
        """Open a temp file on the next volume with ``need`` bytes of room; copy what we have."""
        writable = [v for v in self._store.volumes if not v.read_only and not v.cold]
        start = writable.index(self.volume) + 1 if self._fd >= 0 else 0
        for volume in writable[start:]:
            room = self._store._room(volume)
            if room >= need:
                self._switch_to(volume, room)
                return
        raise NoWritableVolume("没有可写入且空间足够的热存储卷：请增加卷（BINGAN_BLOB_VOLUMES）或清理空间")

    def _switch_to(self, volume: Volume, room: int) -> None:
        old_fd, old_path = self._fd, self.path
        volume.tmp.mkdir(parents=True, exist_ok=True)
        self.path = volume.temp_name(".part")
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self.volume, self._room = volume, room - self.written
        if old_fd >= 0:
            _copy_prefix(old_path, self._fd, self.written)
            os.close(old_fd)
            old_path.unlink()

    def _close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _load_sync_file_range() -> Callable[..., int] | None:
    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (AttributeError, OSError):
        return None  # not Linux/glibc: the final fsync does all the work
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    return function


_SYNC_FILE_RANGE = _load_sync_file_range()
_SYNC_FILE_RANGE_WRITE = 2


def start_writeback(fd: int) -> None:
    """Ask the kernel to start writing dirty pages of ``fd`` to disk now, without waiting.

    Large blobs then reach the disk while later frames are still being sealed, and the fsync
    that makes the blob durable waits for the tail only (23 → 5–10 ms for 64 MiB here). A
    hint: failures are ignored, the fsync before commit stays the guarantee.
    """
    if _SYNC_FILE_RANGE is not None:
        _SYNC_FILE_RANGE(fd, 0, 0, _SYNC_FILE_RANGE_WRITE)


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _copy_prefix(source: Path, fd: int, length: int) -> None:
    """Copy the first ``length`` bytes (what was written before the volume filled)."""
    with source.open("rb") as src:
        remaining = length
        while remaining:
            block = src.read(min(_READ_BLOCK, remaining))
            if not block:
                raise BlobError("临时文件在转移到下一个卷时变短了")
            _write_all(fd, block)
            remaining -= len(block)


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text()
    except (FileNotFoundError, NotADirectoryError):
        return None


def _pointer_names(volume: Volume) -> Iterator[str]:
    index = volume.path / INDEX_DIR
    for first in _sorted_dir(index):
        for second in _sorted_dir(index / first):
            for name in _sorted_dir(index / first / second):
                if len(name) == 64 and name.startswith(first + second):
                    yield name


def _sorted_dir(path: Path) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except (FileNotFoundError, NotADirectoryError):
        return []


def _delete_from(volume: Volume, sha: str) -> None:
    """Pointer first: once it is gone the blob is uncommitted, whatever happens next."""
    rel = _read_text(volume.pointer(sha))
    volume.pointer(sha).unlink(missing_ok=True)
    fsync_dir(volume.pointer(sha).parent)
    if rel:
        blob = volume.path / rel
        blob.unlink(missing_ok=True)
        blob.with_suffix(".key").unlink(missing_ok=True)


def _orphans(volume: Volume, min_age: float) -> list[Path]:
    found: list[Path] = []
    now = time.time()
    for name in _sorted_dir(volume.tmp):
        path = volume.tmp / name
        try:
            if now - path.stat().st_mtime < min_age:
                continue
        except FileNotFoundError:
            continue
        if name.endswith(".intent"):
            found.extend(_intent_targets(volume, path))
        found.append(path)
    return found


def _intent_targets(volume: Volume, intent: Path) -> list[Path]:
    """The key and body an interrupted commit may have placed; none if it did commit."""
    try:
        plan = json.loads(intent.read_text())
        sha, blob = plan["sha256"], volume.path / plan["blob"]
    except (ValueError, KeyError, FileNotFoundError):
        return []
    # Committed only if the pointer names these very files: a later put of the same content
    # into another record directory commits its own copy and leaves ours orphaned.
    if _read_text(volume.pointer(sha)) == plan["blob"]:
        return []
    return [p for p in (blob.with_suffix(".key"), blob) if p.exists()]


def _status(volume: Volume) -> VolumeStatus:
    if not volume.path.is_dir():
        return VolumeStatus(str(volume.path), volume.mode, 0, 0, volume.capacity, None, volume.tier)
    count = sum(1 for _ in _pointer_names(volume))
    return VolumeStatus(str(volume.path), volume.mode, free_bytes(volume.path),
                        used_bytes(volume), volume.capacity, count, volume.tier)


def _key_holders(volume: Volume) -> Iterator[tuple[Path, list[str]]]:
    for root, dirs, files in os.walk(volume.path):
        if Path(root) == volume.path:
            dirs[:] = [d for d in dirs if d not in {INDEX_DIR, TMP_DIR}]
        names = [n for n in files if n.endswith(".key") or n == MANIFEST]
        if names:
            yield Path(root), sorted(names)


def _rewrap_directory(volume: Volume, directory: Path, names: list[str], keyring: Keyring,
                      done: list[int], progress: Progress | None) -> None:
    changed = False
    for name in names:
        path = directory / name
        data = path.read_bytes()
        end = unpack_key_record(data).length
        if keyring.wrapped_by_primary(data[:end]):
            continue
        fresh = reseal_bytes(data, keyring) if name == MANIFEST else keyring.rewrap(data)
        try:
            write_atomic(volume, path, fresh, sync_dir=False)
        except OSError as exc:
            raise BlobError(f"卷 {volume.path} 不可写，无法更换其中的数据密钥（{exc.strerror}）；"
                            "请临时以读写方式挂载后重新运行 rotate-key") from exc
        changed = True
        done[0] += 1
        if progress:
            progress(done[0])
    if changed:
        fsync_dir(directory)
