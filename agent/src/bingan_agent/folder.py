"""Watching the device's output folder by polling: a file is complete once its size and
modification time stayed the same for ``stable_seconds`` (devices write reports slowly and
network shares send no reliable events)."""
from __future__ import annotations

import fnmatch
import hashlib
import logging
import os
import time
from dataclasses import asdict
from pathlib import Path

from bingan_agent.config import Config, filing_for
from bingan_agent.queue import Queue

log = logging.getLogger("bingan_agent")
TEMPORARY = ("~$", ".~", ".")  # Office lock files, partial copies, hidden files
CHUNK = 1 << 20


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class Watcher:
    def __init__(self, config: Config, queue: Queue) -> None:
        self.config, self.queue = config, queue
        self.changing: dict[str, tuple[int, int, float]] = {}  # path → (size, mtime_ns, unchanged since)

    def scan(self, now: float | None = None) -> int:
        """One pass over the folder: complete new files hashed and queued; how many were queued."""
        now = time.monotonic() if now is None else now
        if not self.config.watch.is_dir():
            log.warning("监视的文件夹 %s 不存在或无法访问", self.config.watch)
            return 0
        queued, present = 0, set()
        for path in self._candidates():
            key = str(path)
            present.add(key)
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            if self._complete(key, stat.st_size, stat.st_mtime_ns, now):
                queued += self._take(path, stat.st_size, stat.st_mtime_ns)
        self.changing = {key: seen for key, seen in self.changing.items() if key in present}
        return queued

    def _candidates(self):
        for folder, _, names in os.walk(self.config.watch):
            for name in names:
                if name.startswith(TEMPORARY) or not self._wanted(name):
                    continue
                yield Path(folder) / name

    def _wanted(self, name: str) -> bool:
        lowered = name.lower()
        return any(fnmatch.fnmatch(lowered, pattern.lower()) for pattern in self.config.patterns)

    def _complete(self, key: str, size: int, mtime_ns: int, now: float) -> bool:
        if size == 0 or self.queue.known(key, size, mtime_ns):
            return False
        previous = self.changing.get(key)
        if previous is None or previous[:2] != (size, mtime_ns):
            self.changing[key] = (size, mtime_ns, now)
            return False
        return now - previous[2] >= self.config.stable_seconds

    def _take(self, path: Path, size: int, mtime_ns: int) -> int:
        try:
            digest = sha256_of(path)
        except FileNotFoundError:
            return 0
        filing = filing_for(self.config, path.name)
        self.changing.pop(str(path), None)
        return int(self.queue.add(str(path), size, mtime_ns, digest, asdict(filing) if filing else None))
