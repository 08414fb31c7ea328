"""Patient data outside the encrypted blobs — the SQLite database, the search index, logs, staged
files, keys — readable by the service account only.

Every entry point sets the process umask to 0o077 before it creates anything, so new files are
0600 and new directories 0700 (child processes inherit it). ``protect_home`` repairs what an
earlier release or a hand-made copy left readable: HOME 0700, everything under it owner-only.
The blob volumes are skipped: their files are encrypted, and HOME's 0700 already closes them.
"""
from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from bingan.config import Settings

log = logging.getLogger(__name__)
PRIVATE_UMASK = 0o077
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
ENCRYPTED_TREES = ("volumes",)  # encrypted blobs: possibly millions of files, nothing readable in them


def restrict_new_files() -> None:
    os.umask(PRIVATE_UMASK)


def protect_home(settings: Settings) -> None:
    """HOME (created if missing) 0700; the database, index, logs, staging and keys 0600/0700."""
    home = settings.resolved_home
    home.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    for path in _private_paths(settings):
        _restrict(path)


def _private_paths(settings: Settings) -> Iterator[Path]:
    home = settings.resolved_home
    yield from _tree(home, skip={home / name for name in ENCRYPTED_TREES})
    # The same data configured outside HOME.
    database = _sqlite_file(settings.resolved_database_url)
    if database is not None:
        yield from (Path(f"{database}{suffix}") for suffix in ("", "-wal", "-shm", "-journal"))
    yield from _tree(settings.resolved_index_dir, skip=set())
    yield settings.resolved_key_file


def _tree(root: Path, skip: set[Path]) -> Iterator[Path]:
    if not root.is_dir():
        return
    yield root
    for folder, directories, files in os.walk(root):
        directories[:] = [name for name in directories if Path(folder, name) not in skip]
        yield from (Path(folder, name) for name in directories)
        yield from (Path(folder, name) for name in files)


def _sqlite_file(url: str) -> Path | None:
    if not url.startswith("sqlite"):
        return None
    path = url.split("///", 1)[-1]
    return Path(path) if path and path != ":memory:" else None


def _restrict(path: Path) -> None:
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if stat.S_ISLNK(mode):
        return  # a link's target is not ours to change
    wanted = PRIVATE_DIR if stat.S_ISDIR(mode) else PRIVATE_FILE
    if stat.S_IMODE(mode) & ~wanted:
        try:
            path.chmod(stat.S_IMODE(mode) & wanted)
        except PermissionError:
            log.warning("cannot make %s private (owned by another account)", path)
