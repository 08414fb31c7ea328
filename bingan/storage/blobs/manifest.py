"""Per-record manifests (V3): find and export a patient's files with only volumes and the key.

Each record directory holds ``manifest.bgm``: JSON, sealed with the blob cipher and a data key
wrapped by the master key. It is small, so an append rewrites it (temp file, fsync, rename).
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import BinaryIO, cast

from bingan.storage.blobs.crypto import DecryptReader, unpack_key_record
from bingan.storage.blobs.keys import Keyring, keyring_from_key, seal_bytes, unseal_bytes
from bingan.storage.blobs.port import BlobCorrupt, BlobMissing, ManifestEntry
from bingan.storage.blobs.volumes import INDEX_DIR, TMP_DIR, Volume, write_atomic

MANIFEST = "manifest.bgm"
FORMAT = 1


def read_manifest(path: Path, keyring: Keyring) -> list[ManifestEntry]:
    try:
        data = json.loads(unseal_bytes(path.read_bytes(), keyring))
    except (ValueError, KeyError) as exc:
        raise BlobCorrupt(f"病案清单无法解析: {path}") from exc
    return [ManifestEntry.from_json(e) for e in data["entries"]]


def append_entry(volume: Volume, record_dir: str, entry: ManifestEntry, keyring: Keyring,
                 cipher: str) -> None:
    """Add ``entry`` unless the same one is there; caller holds the volume lock."""
    path = volume.path / record_dir / MANIFEST
    entries = read_manifest(path, keyring) if path.exists() else []
    if any(entry.same_as(e) for e in entries):
        return
    entries.append(entry)
    body = {"format": FORMAT, "entries": [e.to_json() for e in entries]}
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    # No directory fsync: the put that made this entry fsyncs the record directory before its
    # next commit; until then a power loss can only cost the newest entry (the database has it).
    write_atomic(volume, path, seal_bytes(data, keyring, cipher), sync_dir=False)


def record_dirs(volume_path: Path, record_number: str) -> Iterator[Path]:
    """campus/YYYY/MM/<record_number> directories: a few hundred stats, no full walk."""
    for campus in _subdirs(volume_path):
        if campus.name in {INDEX_DIR, TMP_DIR}:
            continue
        for year in _subdirs(campus):
            for month in _subdirs(year):
                candidate = month / record_number
                if (candidate / MANIFEST).is_file():
                    yield candidate


def _subdirs(path: Path) -> list[Path]:
    try:
        return sorted(Path(e.path) for e in os.scandir(path) if e.is_dir())
    except FileNotFoundError:
        return []


def locate_entries(volume_paths: Sequence[Path], keyring: Keyring,
                   record_number: str) -> list[ManifestEntry]:
    """Every manifest entry of the record on every volume, each with ``found_at`` resolved."""
    found: list[ManifestEntry] = []
    for volume_path in volume_paths:
        for directory in record_dirs(volume_path, record_number):
            for entry in read_manifest(directory / MANIFEST, keyring):
                if not any(entry.same_as(e) for e in found):
                    entry.found_at = _resolve(volume_paths, entry.path)
                    found.append(entry)
    return sorted(found, key=lambda e: (e.stay if e.stay is not None else -1, e.stored_at))


def _resolve(volume_paths: Sequence[Path], relative: str) -> Path | None:
    for volume_path in volume_paths:
        candidate = volume_path / relative
        if candidate.is_file():
            return candidate
    return None


def locate(volumes: Sequence[Path | str], master_key: bytes | str,
           record_number: str) -> list[ManifestEntry]:
    """V3 recovery: a record's files from the volume directories and the master key alone."""
    return locate_entries([Path(v) for v in volumes], keyring_from_key(master_key), record_number)


def export_record(volumes: Sequence[Path | str], master_key: bytes | str, record_number: str,
                  out_dir: Path) -> list[Path]:
    """Decrypt the record's files into ``out_dir`` under readable names; return the paths."""
    keyring = keyring_from_key(master_key)
    entries = locate_entries([Path(v) for v in volumes], keyring, record_number)
    return export_entries(entries, out_dir, lambda e: open_entry(e, keyring))


Opener = Callable[[ManifestEntry], AbstractContextManager[BinaryIO]]


def export_entries(entries: Sequence[ManifestEntry], out_dir: Path, opener: Opener) -> list[Path]:
    written: dict[Path, str] = {}
    for entry in entries:
        target = _export_name(out_dir, entry, written)
        if written.get(target) == entry.sha256:
            continue  # the same file listed under two document types
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.part")
        # Renamed only after the reader reached the end, i.e. after the SHA-256 check passed.
        with opener(entry) as reader, tmp.open("wb") as out:
            while chunk := reader.read(1024 * 1024):
                out.write(chunk)
        os.replace(tmp, target)
        written[target] = entry.sha256
    return list(written)


def _export_name(out_dir: Path, entry: ManifestEntry, taken: dict[Path, str]) -> Path:
    """``[第N次/]filename``; a different file with the same name gets its SHA prefix added."""
    folder = out_dir / (f"第{entry.stay}次" if entry.stay is not None else "")
    name = Path(entry.filename.replace("\\", "/")).name
    if name in {"", ".", ".."}:
        name = entry.sha256
    target = folder / name
    if taken.get(target, entry.sha256) != entry.sha256:
        target = folder / f"{Path(name).stem}-{entry.sha256[:8]}{Path(name).suffix}"
    return target


def open_entry(entry: ManifestEntry, keyring: Keyring) -> AbstractContextManager[BinaryIO]:
    if entry.found_at is None:
        raise BlobMissing(f"病案清单中的文件 {entry.filename} 在所有卷上都找不到")
    return open_blob_file(entry.found_at, keyring, entry.sha256)


@contextmanager
def open_blob_file(blob_path: Path, keyring: Keyring, sha: str) -> Iterator[BinaryIO]:
    """Decrypting reader over a .blob file and its .key sidecar."""
    data_key = keyring.unwrap(read_key_record(blob_path))
    try:
        raw = blob_path.open("rb")
    except FileNotFoundError:
        raise BlobMissing(f"找不到文件 {sha}（读取时已被删除）") from None
    with raw:
        yield cast(BinaryIO, DecryptReader(raw, os.fstat(raw.fileno()).st_size, data_key, sha))


def read_key_record(blob_path: Path) -> bytes:
    key_path = blob_path.with_suffix(".key")
    try:
        record = key_path.read_bytes()
    except FileNotFoundError:
        raise BlobCorrupt(f"数据密钥文件缺失: {key_path.name}") from None
    unpack_key_record(record)
    return record
