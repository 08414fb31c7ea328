"""Volumes of the local store: parsing BINGAN_BLOB_VOLUMES, space, locks, atomic files.

A volume is a directory::

    VOLUME/<campus>/<YYYY>/<MM>/<record-number>/<sha256>.blob   encrypted body
                                               /<sha256>.key    wrapped data key
                                               /manifest.bgm    encrypted record manifest
    VOLUME/.by-sha/<ab>/<cd>/<sha256>   pointer: the blob's volume-relative path (the commit mark)
    VOLUME/.tmp/                        writes in progress; leftovers here are crash debris
    VOLUME/.lock                        flock held while committing (milliseconds)
    VOLUME/.tier.lock                   (first writable volume) flock of one tier move at a time

A volume is hot (new writes, first for reads) or cold (``:cold``: only blobs the tier policy
moved there; read after the hot volumes).
"""
from __future__ import annotations

import fcntl
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bingan.storage.blobs.keys import fsync_dir
from bingan.storage.blobs.port import BlobError

_SIZE_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?$", re.IGNORECASE)
_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
INDEX_DIR = ".by-sha"
TMP_DIR = ".tmp"
LOCK_FILE = ".lock"


@dataclass(frozen=True)
class Volume:
    path: Path
    read_only: bool = False
    capacity: int | None = None
    cold: bool = False

    @property
    def mode(self) -> str:
        return "ro" if self.read_only else "rw"

    @property
    def tier(self) -> str:
        return "cold" if self.cold else "hot"

    @property
    def tmp(self) -> Path:
        return self.path / TMP_DIR

    def pointer(self, sha: str) -> Path:
        return self.path / INDEX_DIR / sha[:2] / sha[2:4] / sha

    def temp_name(self, suffix: str) -> Path:
        return self.tmp / f"{uuid.uuid4().hex}{suffix}"


def parse_size(text: str) -> int:
    match = _SIZE_RE.match(text.strip())
    if not match:
        raise BlobError(f"无法识别的容量: {text!r}（例如 500G、10M）")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def parse_volume(entry: str, home: Path) -> Volume:
    """``DIR[@SIZE][:ro][:cold]`` (suffixes in any order); relative directories are under HOME."""
    text, read_only, capacity, cold = entry.strip(), False, None, False
    for _ in range(3):
        if text.lower().endswith(":ro"):
            text, read_only = text[:-3], True
        elif text.lower().endswith(":rw"):
            text = text[:-3]
        elif text.lower().endswith(":cold"):
            text, cold = text[:-5], True
        elif text.lower().endswith(":hot"):
            text = text[:-4]
        elif "@" in text and _SIZE_RE.match(text.rsplit("@", 1)[1]):
            text, cap = text.rsplit("@", 1)
            capacity = parse_size(cap)
    path = Path(text).expanduser()
    return Volume(path if path.is_absolute() else home / path, read_only, capacity, cold)


def parse_volumes(spec: str, home: Path) -> list[Volume]:
    entries = [e for e in spec.split(",") if e.strip()]
    if not entries:
        return [Volume(home / "volumes" / "v1")]
    return [parse_volume(e, home) for e in entries]


def free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def used_bytes(volume: Volume) -> int:
    total = 0
    for root, _dirs, files in os.walk(volume.path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except FileNotFoundError:
                continue  # removed while walking
    return total


@contextmanager
def volume_lock(volume: Volume) -> Iterator[None]:
    """Serialise commits and manifest rewrites on one volume across processes."""
    volume.tmp.mkdir(parents=True, exist_ok=True)
    fd = os.open(volume.path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def make_dirs(path: Path, stop: Path) -> None:
    """mkdir -p that fsyncs each parent of a new directory, so a crash cannot lose the path."""
    missing = []
    current = path
    while not current.exists() and current != stop:
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        directory.mkdir(exist_ok=True)
        fsync_dir(directory.parent)


def write_atomic(volume: Volume, target: Path, data: bytes, sync_dir: bool = True) -> None:
    """Write via a temp file in VOLUME/.tmp, fsync, rename over ``target``, fsync its dir.

    ``sync_dir=False`` lets a caller replacing many files in one directory fsync it once.
    """
    make_dirs(target.parent, volume.path)
    volume.tmp.mkdir(exist_ok=True)
    tmp = volume.temp_name(".part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, target)
    if sync_dir:
        fsync_dir(target.parent)
