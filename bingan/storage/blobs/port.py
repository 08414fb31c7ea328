"""The BlobStore port: what the rest of Bingan may ask of a blob store, and its errors.

Blobs are content-addressed by the SHA-256 of their plaintext. The port is synchronous on
purpose: callers are Celery tasks and CLI commands, and the web layer streams from a thread.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol, runtime_checkable

if TYPE_CHECKING:
    from bingan.config import Settings
    from bingan.storage.blobs.keys import Keyring

_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
# Record numbers and campuses become directory names: refuse anything that could escape.
_UNSAFE_NAME = re.compile(r"[/\\\x00-\x1f]")


class BlobError(Exception):
    """Base of every blob-store error; the message is shown to users (Chinese)."""


class BlobMissing(BlobError):
    """No blob with this SHA-256 on any volume."""


class BlobCorrupt(BlobError):
    """The blob exists but fails authentication, framing or the SHA-256 check."""


class NoWritableVolume(BlobError):
    """No writable volume has room for the blob."""


class WrongMasterKey(BlobError):
    """The data key was wrapped by a master key we do not hold."""


@dataclass(frozen=True)
class Placement:
    """Where a blob belongs in the readable layout, and what the record manifest says of it."""

    campus: str
    record_number: str
    stay: int | None
    when: date
    filename: str
    document_type: str = ""

    def record_dir(self) -> str:
        """campus/YYYY/MM/record-number, relative to a volume."""
        _check_name(self.campus, "院区")
        _check_name(self.record_number, "病案号")
        return f"{self.campus}/{self.when.year:04d}/{self.when.month:02d}/{self.record_number}"


@dataclass(frozen=True)
class BlobInfo:
    """A stored blob. ``location`` is the volume-relative path (local) or the file id (GridFS)."""

    sha256: str
    size: int
    location: str
    volume: str
    cipher: str
    deduplicated: bool = False


@dataclass(frozen=True)
class VolumeStatus:
    path: str
    mode: str  # "rw" or "ro"
    free_bytes: int
    used_bytes: int
    capacity: int | None
    blob_count: int | None
    tier: str = "hot"  # hot: new writes and first reads; cold: where the tier policy moves old records


@dataclass
class ManifestEntry:
    """One line of a record's manifest (V3): enough to find and name the file without a database."""

    sha256: str
    filename: str
    document_type: str
    stay: int | None
    stored_at: str
    size: int
    path: str
    campus: str = ""
    record_number: str = ""
    found_at: Path | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, object]:
        return {
            "sha256": self.sha256, "filename": self.filename, "document_type": self.document_type,
            "stay": self.stay, "stored_at": self.stored_at, "size": self.size, "path": self.path,
            "campus": self.campus, "record_number": self.record_number,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> ManifestEntry:
        names = ("sha256", "filename", "document_type", "stay", "stored_at", "size", "path",
                 "campus", "record_number")
        return cls(**{name: data[name] for name in names if name in data})  # type: ignore[arg-type]

    def same_as(self, other: ManifestEntry) -> bool:
        """Retries of the same put must not grow the manifest."""
        return (self.sha256, self.filename, self.document_type, self.stay) == (
            other.sha256, other.filename, other.document_type, other.stay)


@runtime_checkable
class BlobStore(Protocol):
    """Content-addressed, encrypted blob storage."""

    keyring: Keyring

    def put(self, stream: BinaryIO, placement: Placement) -> BlobInfo: ...

    def open(self, sha256: str) -> AbstractContextManager[BinaryIO]: ...

    def read_range(self, sha256: str, offset: int, length: int) -> bytes: ...

    def exists(self, sha256: str) -> bool: ...

    def size(self, sha256: str) -> int: ...

    def delete(self, sha256: str) -> None: ...

    def iter_shas(self) -> Iterator[str]: ...

    def check(self, sha256: str) -> None: ...

    def age_seconds(self, sha256: str) -> float: ...

    def scan_orphan_temp(self, min_age_seconds: float = 0) -> list[str]: ...

    def collect_orphan_temp(self, min_age_seconds: float = 3600) -> int: ...

    def volumes_status(self) -> list[VolumeStatus]: ...

    def locate(self, record_number: str) -> list[ManifestEntry]: ...

    def export_record(self, record_number: str, out_dir: Path) -> list[Path]: ...

    def rewrap_keys(self, progress: object = None) -> int: ...


def check_sha(sha256: str) -> str:
    """SHA-256 values become file names: accept only 64 lowercase hex digits."""
    if not _SHA_RE.match(sha256):
        raise BlobMissing(f"无效的 SHA-256 值: {sha256[:80]!r}")
    return sha256


def _check_name(value: str, what: str) -> None:
    if not value or value in {".", ".."} or _UNSAFE_NAME.search(value) or value.startswith("."):
        raise BlobError(f"{what}不能作为目录名: {value!r}")


def open_blob_store(settings: Settings, create_key: bool = True) -> BlobStore:
    """The store the settings choose; imports lazily so local installs never load pymongo.

    ``create_key=False`` is for read-only tools (locate, rotate-key): a missing key file is an
    error there, not a reason to make a new key that opens nothing.
    """
    if settings.blob_backend == "gridfs":
        from bingan.storage.blobs.gridfs_store import GridFSBlobStore

        return GridFSBlobStore.from_settings(settings, create_key)
    from bingan.storage.blobs.local import LocalBlobStore

    return LocalBlobStore.from_settings(settings, create_key)
