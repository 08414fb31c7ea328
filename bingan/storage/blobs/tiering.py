"""Moving committed blobs between hot and cold volumes of the local store, crash-safe.

The caller (records/tiers) holds ``tier_lock`` around one batch and runs, per blob:

1. ``copy_to(store, sha, tier)``: key and body copied into ``.tmp`` of a volume of the target
   tier under ``<uuid>.tier.*`` names with an intent, fsynced, decrypted and hashed (the copy
   must give back the SHA-256), then committed like a put (key and body renamed into the same
   volume-relative place, directory fsync, pointer renamed, directory fsync) with the record's
   manifest entry copied. The old copy is still there: reads are served by either.
2. the database row saying where the blob lives is switched and committed (the caller);
3. ``drop_from(store, sha, tier)``: the old copy removed — an intent first, then the pointer
   (from then on reads find the new copy), then body and key.

A SIGKILL at any point leaves the blob readable: before step 3 the old copy is committed,
after step 1 the new one is. What it leaves besides are ``.tier.*`` files in ``.tmp``, and the
targets their intents name; ``clean_debris``, run under the lock before every batch, removes
them (under the lock no move is in flight, so every ``.tier.*`` file is a dead process's).
"""
from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bingan.storage.blobs.keys import fsync_dir
from bingan.storage.blobs.local import (
    LocalBlobStore,
    _delete_from,
    _intent_targets,
    _read_text,
    _sorted_dir,
    _write_synced,
)
from bingan.storage.blobs.manifest import MANIFEST, append_entry, open_blob_file, read_manifest
from bingan.storage.blobs.port import BlobError, BlobMissing, NoWritableVolume, check_sha
from bingan.storage.blobs.volumes import Volume, make_dirs, volume_lock

MARK = ".tier."  # in the names of every temp file a tier move writes
LOCK = ".tier.lock"
TIERS = ("hot", "cold")
_BLOCK = 1024 * 1024


class TierError(BlobError):
    """A move between tiers is impossible as configured (no volume of the target tier, no room)."""


def require_local(store: object) -> LocalBlobStore:
    if not isinstance(store, LocalBlobStore):
        raise TierError("冷热分层只支持本地加密卷（BINGAN_BLOB_BACKEND=local）")
    return store


def has_cold_volumes(store: object) -> bool:
    return isinstance(store, LocalBlobStore) and any(v.cold for v in store.volumes)


@contextmanager
def tier_lock(store: LocalBlobStore) -> Iterator[None]:
    """One tier move at a time across processes (the nightly job, `bingan tier-move`, promotions)."""
    writable = [v for v in store.volumes if not v.read_only]
    if not writable:
        raise TierError("没有可写入的存储卷")
    writable[0].path.mkdir(parents=True, exist_ok=True)
    fd = os.open(writable[0].path / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def committed_on(volume: Volume, sha: str) -> str | None:
    """The volume-relative path if this volume holds a committed copy (pointer and body)."""
    rel = _read_text(volume.pointer(sha))
    if rel is not None and (volume.path / rel).is_file():
        return rel
    return None


def tiers_holding(store: LocalBlobStore, sha: str) -> set[str]:
    return {v.tier for v in store.volumes if committed_on(v, check_sha(sha))}


def copy_to(store: LocalBlobStore, sha: str, tier: str) -> Volume:
    """A verified, committed copy of the blob on a volume of ``tier`` (the one already there, if any)."""
    check_sha(sha)
    for volume in store.volumes:
        rel = committed_on(volume, sha)
        if volume.tier == tier and rel:
            _check_file(store, volume.path / rel, sha)  # a copy an interrupted run committed
            return volume
    source = next(((v, rel) for v in store._read_order if (rel := committed_on(v, sha))), None)
    if source is None:
        raise BlobMissing(f"找不到文件 {sha}")
    volume, rel = source
    body = volume.path / rel
    need = body.stat().st_size + 4096
    target = _target(store, tier, need)
    staged = _stage(store, target, body, sha, rel)
    try:
        with volume_lock(target):
            if not committed_on(target, sha):
                _commit(store, target, staged, sha, rel, volume)
    finally:
        for path in staged.values():
            path.unlink(missing_ok=True)
    return target


def drop_from(store: LocalBlobStore, sha: str, tier: str) -> int:
    """Remove the committed copies on volumes of ``tier``; refused unless another tier holds one."""
    check_sha(sha)
    others = [v for v in store.volumes if v.tier != tier and committed_on(v, sha)]
    if not others:
        raise TierError(f"文件 {sha} 只在{_name(tier)}存储上，不能删除这份副本")
    dropped = 0
    for volume in store.volumes:
        rel = _read_text(volume.pointer(sha))
        if volume.tier != tier or rel is None:
            continue
        if volume.read_only:
            raise TierError(f"文件 {sha} 在只读卷 {volume.path} 上，不能移走")
        with volume_lock(volume):
            volume.tmp.mkdir(exist_ok=True)
            intent = volume.temp_name(f"{MARK}intent")
            _write_synced(intent, json.dumps({"blob": rel, "sha256": sha}).encode())
            fsync_dir(volume.tmp)
            _delete_from(volume, sha)  # pointer (fsynced) first, then body and key
            intent.unlink()
        dropped += 1
    return dropped


def clean_debris(store: LocalBlobStore) -> int:
    """Remove what interrupted moves left (call under ``tier_lock``); returns files removed."""
    removed = 0
    for volume in store.volumes:
        if volume.read_only:
            continue
        names = [n for n in _sorted_dir(volume.tmp) if MARK in n]
        if not names:
            continue
        with volume_lock(volume):
            for name in names:
                path = volume.tmp / name
                if name.endswith(".intent"):
                    for target in _intent_targets(volume, path):
                        target.unlink(missing_ok=True)
                        removed += 1
                path.unlink(missing_ok=True)
                removed += 1
            fsync_dir(volume.tmp)
    return removed


def _target(store: LocalBlobStore, tier: str, need: int) -> Volume:
    candidates = [v for v in store.volumes if v.tier == tier and not v.read_only]
    if not candidates:
        raise TierError(f"没有可写入的{_name(tier)}存储卷（BINGAN_BLOB_VOLUMES 中以 :cold 标记冷存储卷）")
    for volume in candidates:
        volume.tmp.mkdir(parents=True, exist_ok=True)
        if store._room(volume) >= need:
            return volume
    raise NoWritableVolume(f"{_name(tier)}存储卷空间不足：请增加卷或扩容")


def _stage(store: LocalBlobStore, target: Volume, body: Path, sha: str, rel: str) -> dict[str, Path]:
    """Key, body, pointer and intent in the target's ``.tmp``, fsynced; the body checked by hash."""
    stem = target.temp_name("").name
    staged = {kind: target.tmp / f"{stem}{MARK}{kind}" for kind in ("intent", "key", "part", "ptr")}
    try:
        _write_synced(staged["intent"], json.dumps({"blob": rel, "sha256": sha}).encode())
        _write_synced(staged["key"], body.with_suffix(".key").read_bytes())
        _copy_synced(body, staged["part"])
        _write_synced(staged["ptr"], rel.encode())
        fsync_dir(target.tmp)
        _check_file(store, staged["part"], sha)  # reads <stem>.tier.key beside it
    except BaseException:
        for path in staged.values():
            path.unlink(missing_ok=True)
        raise
    return staged


def _commit(store: LocalBlobStore, target: Volume, staged: dict[str, Path], sha: str, rel: str,
            source: Volume) -> None:
    """The same order as a put's commit: key and body durable before the pointer appears."""
    blob = target.path / rel
    make_dirs(blob.parent, target.path)
    os.replace(staged["key"], blob.with_suffix(".key"))
    os.replace(staged["part"], blob)
    fsync_dir(blob.parent)
    pointer = target.pointer(sha)
    make_dirs(pointer.parent, target.path)
    os.replace(staged["ptr"], pointer)
    fsync_dir(pointer.parent)
    record_dir = rel.rsplit("/", 1)[0]
    manifest = source.path / record_dir / MANIFEST
    if manifest.is_file():  # the record's manifest entry travels with the file (V3: locate, export)
        for entry in read_manifest(manifest, store.keyring):
            if entry.sha256 == sha:
                append_entry(target, record_dir, entry, store.keyring, store.cipher)


def _copy_synced(source: Path, target: Path) -> None:
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with source.open("rb") as src:
            while block := src.read(_BLOCK):
                view = memoryview(block)
                while view:
                    view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def _check_file(store: LocalBlobStore, path: Path, sha: str) -> None:
    """Decrypt the whole file: the reader raises BlobCorrupt unless the SHA-256 comes out right."""
    with open_blob_file(path, store.keyring, sha) as reader:
        while reader.read(_BLOCK):
            pass


def _name(tier: str) -> str:
    return {"hot": "热", "cold": "冷"}.get(tier, tier)
