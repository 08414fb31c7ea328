"""The audit chain's head, kept outside the events table so deleting the newest events shows.

A hash chain detects edits and deletions in the middle, but not the loss of its newest events:
what remains is still a valid chain. So every append also records the head (latest id and hash)
twice:

- in the ``audit_head`` system setting, in the same transaction as the event (exact, but whoever
  can delete rows can also rewrite this row);
- in ``HOME/audit-head.json``, signed with HMAC-SHA256 under the installation's secret key, written
  after the commit (it may lag a few events behind after a crash, so it is a lower bound: the
  event it names must still exist with that hash). Rewriting it needs the key, which the
  database does not hold.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session

from bingan.config import Settings, get_settings
from bingan.storage.system_settings import read_setting, write_setting

HEAD_KEY = "audit_head"
FILE_NAME = "audit-head.json"
_PENDING = "bingan_audit_head"


def secret_key(settings: Settings | None = None) -> bytes:
    """BINGAN_SECRET_KEY, or a random key generated once into HOME/secret.key (0600)."""
    settings = settings or get_settings()
    if settings.secret_key:
        return settings.secret_key.encode()
    path: Path = settings.resolved_home / "secret.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip().encode()  # another process was first
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


def head_file(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).resolved_home / FILE_NAME


def _mac(key: bytes, event_id: int, event_hash: str) -> str:
    return hmac.new(key, f"audit-head:{event_id}:{event_hash}".encode(), hashlib.sha256).hexdigest()


def note_head(session: Session, event_id: int, event_hash: str) -> None:
    """Record the new head in this transaction and, once it commits, in the signed file."""
    value = {"id": event_id, "hash": event_hash}
    write_setting(session, HEAD_KEY, value)
    if _PENDING not in session.info:
        event.listen(session, "after_commit", _write_file_after_commit)
        event.listen(session, "after_rollback", _forget)
    session.info[_PENDING] = value


def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)


def _write_file_after_commit(session: Session) -> None:
    value = session.info.pop(_PENDING, None)
    if value is not None:
        write_file(value["id"], value["hash"])


def write_file(event_id: int, event_hash: str, settings: Settings | None = None) -> None:
    """Atomically replace the signed head file, never moving it backwards."""
    path = head_file(settings)
    current = read_file(settings)
    if current and current.get("valid") and current["id"] >= event_id:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"id": event_id, "hash": event_hash, "mac": _mac(secret_key(settings), event_id, event_hash)}
    temporary = path.with_suffix(f".{os.getpid()}.{secrets.token_hex(4)}.tmp")
    temporary.write_text(json.dumps(body))
    os.replace(temporary, path)


def read_file(settings: Settings | None = None) -> dict | None:
    """The signed head with ``valid`` telling whether its signature holds; None when there is no file."""
    path = head_file(settings)
    try:
        body = json.loads(path.read_text())
        event_id, event_hash = int(body["id"]), str(body["hash"])
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        return {"id": 0, "hash": "", "valid": False}
    valid = hmac.compare_digest(str(body.get("mac", "")), _mac(secret_key(settings), event_id, event_hash))
    return {"id": event_id, "hash": event_hash, "valid": valid}


def head_problems(session: Session, last_id: int | None, hashes: dict[int, str]) -> list[str]:
    """Truncation and tampering of the head: compares the newest event with both checkpoints.

    ``hashes`` maps the ids the checkpoints name to the stored hash of that event (if it exists).
    """
    problems: list[str] = []
    head = read_setting(session, HEAD_KEY) or None
    if head is not None and (last_id or 0) < head["id"]:
        problems.append(f"审计日志末尾的事件被删除：最后写入的是 #{head['id']}，现存最新为 #{last_id or 0}")
    elif head is not None and last_id is not None and last_id > head["id"]:
        problems.append(f"审计事件 #{head['id']} 之后的事件不是由系统写入的（链头记录未更新）")
    elif head is not None and hashes.get(head["id"]) != head["hash"]:
        problems.append(f"审计事件 #{head['id']} 与链头记录的哈希不符")
    signed = read_file()
    if signed is None:
        if head is not None and _PENDING not in session.info:  # not merely awaiting this session's commit
            problems.append(f"审计链头校验文件 {FILE_NAME} 缺失")
        return problems
    if not signed["valid"]:
        problems.append(f"审计链头校验文件 {FILE_NAME} 的签名无效（被修改）")
    elif hashes.get(signed["id"]) != signed["hash"]:
        problems.append(f"审计链头校验文件记录的事件 #{signed['id']} 已被删除或修改（日志被截断）")
    return problems


def checkpoint_ids(session: Session) -> set[int]:
    head = read_setting(session, HEAD_KEY)
    ids = {int(head["id"])} if head else set()
    signed = read_file()
    if signed and signed["valid"]:
        ids.add(signed["id"])
    return ids
