"""The audit chain's key and checkpoints: what whoever can write the database cannot forge or roll back.

- The key (BINGAN_AUDIT_KEY_FILE, default HOME/audit.key, mode 0600): every event's chain hash is
  an HMAC-SHA256 under it, so correctly chained events cannot be made without it. The database
  never holds it; in production it belongs in a directory the database's writers cannot write.
- The checkpoint log (``audit-checkpoints.log`` beside the key, 0600): after every commit that
  moved the chain, one line ``{seq, id, hash, pos, mac}`` (``pos``: the event's place in the chain;
  lines written before the sealer have none and their place is their id), the mac covering the
  previous line's mac, so
  lines cannot be forged, edited or reordered. Lines are only appended (the operator may make the
  file append-only: ``chattr +a``) and never move backwards, so the newest one is a high-water
  mark: the database's newest event must be at least that new and carry that hash. Written after
  the commit, it may lag a few events behind after a crash: a lower bound.
- The ``audit_head`` system setting, written in the sealer's transaction: exact, but only
  against mistakes, since whoever can delete rows can rewrite it too.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import stat
from functools import lru_cache
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session

from bingan.config import Settings, get_settings
from bingan.storage.blobs.keys import KEY_BYTES, parse_hex_key, write_key_file
from bingan.storage.system_settings import read_setting, write_setting

HEAD_KEY = "audit_head"
LOG_NAME = "audit-checkpoints.log"
_PENDING = "bingan_audit_head"
_TAIL_BYTES = 4096  # several checkpoint lines; a line is under 300 bytes


class AuditKeyMissing(RuntimeError):
    """The audit key file is gone although events were already keyed with it."""


def key_file(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).resolved_audit_key_file


def checkpoint_log(settings: Settings | None = None) -> Path:
    return key_file(settings).with_name(LOG_NAME)


def audit_key(settings: Settings | None = None, *, create: bool = True) -> bytes:
    """The key of the chain; created (random, 0600) on first use unless ``create`` is false."""
    path = key_file(settings)
    if not path.exists():
        if not create:
            raise AuditKeyMissing(f"审计密钥文件 {path} 不存在：请恢复该文件或检查 BINGAN_AUDIT_KEY_FILE")
        with contextlib.suppress(FileExistsError):  # another process was first
            write_key_file(path, secrets.token_bytes(KEY_BYTES))
    return _read_key(path, path.stat().st_mtime_ns)


@lru_cache(maxsize=8)
def _read_key(path: Path, _mtime_ns: int) -> bytes:
    return parse_hex_key(path.read_text(), f"审计密钥文件 {path}")


def keyed_mac(key: bytes, purpose: str, text: str) -> str:
    """HMAC-SHA256 of ``text``; ``purpose`` keeps the uses of the one key apart."""
    return hmac.new(key, f"{purpose}:{text}".encode(), hashlib.sha256).hexdigest()


def note_head(session: Session, event_id: int, event_hash: str, position: int) -> None:
    """Record the new head in this transaction and, once it commits, in the checkpoint log."""
    value = {"id": event_id, "hash": event_hash, "pos": position}
    write_setting(session, HEAD_KEY, value)
    if _PENDING not in session.info:
        event.listen(session, "after_commit", _checkpoint_after_commit)
        event.listen(session, "after_rollback", _forget)
    session.info[_PENDING] = value


def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)


def _checkpoint_after_commit(session: Session) -> None:
    value = session.info.pop(_PENDING, None)
    if value is not None:
        append_checkpoint(value["id"], value["hash"], value["pos"])


def _line_mac(key: bytes, entry: dict, prev_mac: str) -> str:
    text = f"{entry['seq']}:{entry['id']}:{entry['hash']}:{prev_mac}"
    if entry.get("pos") is not None:
        text += f":{entry['pos']}"
    return keyed_mac(key, "audit-checkpoint", text)


def _pos(entry: dict) -> int:
    return entry["pos"] if entry.get("pos") is not None else entry["id"]


def append_checkpoint(event_id: int, event_hash: str, position: int, settings: Settings | None = None) -> None:
    """Append a checkpoint for a committed head, never moving backwards (sealers in other processes
    may append after one another in a different order than they committed)."""
    key = audit_key(settings)
    path = checkpoint_log(settings)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        last = _last_entry(fd)
        if last is not None and _pos(last) >= position:
            return
        seq, prev_mac = (last["seq"] + 1, last["mac"]) if last else (1, "")
        entry = {"seq": seq, "id": event_id, "hash": event_hash, "pos": position}
        entry["mac"] = _line_mac(key, entry, prev_mac)
        os.write(fd, (json.dumps(entry) + "\n").encode())
    finally:
        os.close(fd)  # releases the lock


def _last_entry(fd: int) -> dict | None:
    """The newest well-formed line at the end of the log (a crash may have cut the very last one)."""
    size = os.fstat(fd).st_size
    tail = os.pread(fd, min(size, _TAIL_BYTES), max(0, size - _TAIL_BYTES))
    for line in reversed(tail.splitlines()):
        entry = _parse(line)
        if entry is not None:
            return entry
    return None


def _parse(line: bytes | str) -> dict | None:
    try:
        body = json.loads(line)
        pos = int(body["pos"]) if body.get("pos") is not None else None
        return {"seq": int(body["seq"]), "id": int(body["id"]), "hash": str(body["hash"]), "pos": pos,
                "mac": str(body["mac"])}
    except (ValueError, KeyError, TypeError):
        return None


def read_checkpoints(settings: Settings | None = None) -> tuple[dict | None, list[str]]:
    """The newest checkpoint whose line and every line before it verify, and the problems found."""
    path = checkpoint_log(settings)
    if not path.exists():
        return None, []
    key = audit_key(settings, create=False)
    newest: dict | None = None
    problems: list[str] = []
    with path.open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            entry = _parse(line)
            expected_seq, prev_mac = (newest["seq"] + 1, newest["mac"]) if newest else (1, "")
            if entry is None or entry["seq"] != expected_seq or not hmac.compare_digest(
                    entry["mac"], _line_mac(key, entry, prev_mac)):
                problems.append(f"审计检查点日志 {LOG_NAME} 第{number}行无效（被修改、删除或插入）")
                break
            newest = entry
    return newest, problems


def head_problems(session: Session, checkpoint: dict | None, last: tuple[int, int] | None, keyed: bool,
                  hashes: dict[int, str]) -> list[str]:
    """Truncation: the newest sealed event, ``last`` = (place, id), compared with the head row and
    the newest checkpoint.

    ``keyed`` tells whether the chain holds keyed events (then a checkpoint must exist);
    ``hashes`` maps the ids ``checkpoint_ids`` named to the stored hash of that event.
    """
    last_pos, last_id = last or (0, 0)
    problems = _head_row_problems(session, last_pos, last_id, hashes)
    if checkpoint is None:
        if keyed and _PENDING not in session.info:  # not merely awaiting this session's commit
            problems.append(f"审计检查点日志 {checkpoint_log()} 缺失或无有效记录")
    elif last_pos < _pos(checkpoint):
        problems.append(f"审计日志被截断：检查点记录已写入事件 #{checkpoint['id']}，现存最新为 #{last_id}")
    elif hashes.get(checkpoint["id"]) != checkpoint["hash"]:
        problems.append(f"审计检查点记录的事件 #{checkpoint['id']} 已被删除或修改（日志被截断或篡改）")
    return problems


def _head_row_problems(session: Session, last_pos: int, last_id: int, hashes: dict[int, str]) -> list[str]:
    head = read_setting(session, HEAD_KEY) or None
    if head is None:
        return []
    if last_pos < _pos(head):
        return [f"审计日志末尾的事件被删除：最后写入的是 #{head['id']}，现存最新为 #{last_id}"]
    if last_pos > _pos(head):
        return [f"审计事件 #{head['id']} 之后的事件不是由系统写入的（链头记录未更新）"]
    if hashes.get(head["id"]) != head["hash"]:
        return [f"审计事件 #{head['id']} 与链头记录的哈希不符"]
    return []


def checkpoint_ids(session: Session, checkpoint: dict | None) -> set[int]:
    head = read_setting(session, HEAD_KEY)
    ids = {int(head["id"])} if head else set()
    if checkpoint is not None:
        ids.add(checkpoint["id"])
    return ids


def file_mode_problems(settings: Settings | None = None) -> list[str]:
    """The key and the checkpoint log are for the service account's eyes only."""
    problems = []
    for path in (key_file(settings), checkpoint_log(settings)):
        if path.exists() and stat.S_IMODE(path.stat().st_mode) & 0o077:
            problems.append(f"{path} 的权限为 {stat.S_IMODE(path.stat().st_mode):04o}，应为 0600")
    return problems
