"""The agent's own queue (SQLite, WAL, synchronous=FULL so a power cut loses nothing committed).

Each report is one row, unique by the SHA-256 of its bytes: the same content is queued once,
whatever its name, and never sent twice. States:

    queued → sending → sent         (a row left "sending" by a power cut is sent again with the
                                      same idempotency key, its SHA-256: Bingan answers "duplicate")
    queued → refused                (Bingan said no for good: 4xx other than the key's)
    unmatched                       (the file name matched no mapping)
    gone                            (the file vanished or changed before it was sent)
"""
from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS reports (
    id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL UNIQUE,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    record_number TEXT NOT NULL DEFAULT '',
    stay INTEGER NOT NULL DEFAULT 1,
    category TEXT NOT NULL DEFAULT '',
    title TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'refused', 'unmatched', 'gone')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    item_id INTEGER,
    queued_at REAL NOT NULL,
    sent_at REAL
);
CREATE INDEX IF NOT EXISTS ix_reports_due ON reports (state, next_attempt_at);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL
);
"""
STATE_NAMES = {"queued": "待上传", "sending": "上传中", "sent": "已上传", "refused": "被拒绝",
               "unmatched": "文件名未匹配", "gone": "文件已不在"}


@dataclass(frozen=True)
class Row:
    id: int
    sha256: str
    path: str
    size: int
    record_number: str
    stay: int
    category: str
    title: str
    state: str
    attempts: int


class Queue:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    # ---- the folder's files, so an unchanged file is not hashed again ----

    def known(self, path: str, size: int, mtime_ns: int) -> bool:
        found = self.db.execute("SELECT 1 FROM files WHERE path = ? AND size = ? AND mtime_ns = ?",
                                (path, size, mtime_ns)).fetchone()
        return found is not None

    def add(self, path: str, size: int, mtime_ns: int, sha256: str, filing: dict | None) -> bool:
        """The file seen and, if its content is new, its report queued (or kept as unmatched): True when queued."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("INSERT OR REPLACE INTO files (path, size, mtime_ns, sha256) VALUES (?, ?, ?, ?)",
                            (path, size, mtime_ns, sha256))
            fields = filing or {"record_number": "", "stay": 1, "category": "", "title": ""}
            cursor = self.db.execute(
                "INSERT OR IGNORE INTO reports (sha256, path, size, record_number, stay, category, title, state,"
                " queued_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (sha256, path, size, fields["record_number"], fields["stay"], fields["category"], fields["title"],
                 "queued" if filing else "unmatched", time.time()))
            if cursor.rowcount == 0 and filing:  # known content: queued again only if it vanished unsent
                cursor = self.db.execute("UPDATE reports SET state = 'queued', path = ?, last_error = ''"
                                         " WHERE sha256 = ? AND state = 'gone'", (path, sha256))
            return cursor.rowcount == 1 and filing is not None

    # ---- sending ----

    def due(self, now: float) -> list[Row]:
        """Rows to send now, oldest first; "sending" rows are those a power cut interrupted."""
        rows = self.db.execute(
            "SELECT id, sha256, path, size, record_number, stay, category, title, state, attempts FROM reports"
            " WHERE state IN ('queued', 'sending') AND next_attempt_at <= ? ORDER BY id", (now,)).fetchall()
        return [Row(*row) for row in rows]

    def sending(self, row_id: int) -> None:
        self.db.execute("UPDATE reports SET state = 'sending' WHERE id = ?", (row_id,))

    def sent(self, row_id: int, item_id: int | None) -> None:
        self.db.execute("UPDATE reports SET state = 'sent', item_id = ?, sent_at = ?, last_error = '' WHERE id = ?",
                        (item_id, time.time(), row_id))

    def later(self, row_id: int, reason: str, delay: float) -> None:
        """Back to the queue, tried again after ``delay`` seconds."""
        self.db.execute("UPDATE reports SET state = 'queued', attempts = attempts + 1, next_attempt_at = ?,"
                        " last_error = ? WHERE id = ?", (time.time() + delay, reason, row_id))

    def finish(self, row_id: int, state: str, reason: str) -> None:
        self.db.execute("UPDATE reports SET state = ?, last_error = ? WHERE id = ?", (state, reason, row_id))

    # ---- for people ----

    def counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT state, count(*) FROM reports GROUP BY state").fetchall())

    def problems(self) -> list[tuple[str, str, str]]:
        return self.db.execute("SELECT path, state, last_error FROM reports WHERE state NOT IN ('sent', 'queued')"
                               " OR last_error != '' ORDER BY id").fetchall()

    def stuck(self) -> list[tuple[int, str]]:
        """Refused and unmatched rows, for ``retry`` after the configuration or registration is fixed."""
        return self.db.execute("SELECT id, path FROM reports WHERE state IN ('refused', 'unmatched')").fetchall()

    def requeue(self, row_id: int, filing: dict) -> None:
        self.db.execute("UPDATE reports SET state = 'queued', attempts = 0, next_attempt_at = 0, last_error = '',"
                        " record_number = ?, stay = ?, category = ?, title = ? WHERE id = ?",
                        (filing["record_number"], filing["stay"], filing["category"], filing["title"], row_id))
