"""The audit chain is keyed and checkpointed outside the database (issue 9, M4).

The attacker of these tests can write the database (and the data directory HOME) but not the
directory of the audit key: they can compute any plain hash, rewrite any row and put back older
copies of files they reach.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bingan.access.audit import Actor, purge_before, record_event, verify_chain
from bingan.config import get_settings, reset_settings
from bingan.storage.db import session_factory
from bingan.storage.models import AuditEvent, SystemSetting, utcnow

BIN = Path(sys.executable).parent / "bingan"


@pytest.fixture
def key_elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The production layout: the audit key and its checkpoints outside HOME."""
    path = tmp_path / "audit-keys" / "audit.key"
    monkeypatch.setenv("BINGAN_AUDIT_KEY_FILE", str(path))
    reset_settings()
    return path


def _events(session, count: int = 3, user: str = "u_clinician") -> list[AuditEvent]:
    events = [record_event(session, Actor(7, user, "10.1.2.3"), "view", object_type="record", object_id=i,
                           record_id=i) for i in range(1, count + 1)]
    session.commit()
    return events


def _plain_hash(prev_hash: str, row: dict) -> str:
    """The chain hash as anyone can compute it: SHA-256 of the previous hash and the row, no key."""
    body = {name: row.get(name) for name in ("id", "at", "user_id", "username", "action", "object_type",
                                             "object_id", "record_id", "document_id", "page", "client_ip",
                                             "result", "detail")}
    canonical = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def _forge(session, *, chain_version: int | None = None) -> int:
    """Append a correctly chained event by SQL and move the head row to it, as the sealer would."""
    last = session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).one()
    at = utcnow()
    row = {"id": last.id + 1, "at": at.strftime("%Y-%m-%dT%H:%M:%S.%f"), "user_id": 7, "username": "u_clinician",
           "action": "view", "object_type": "record", "object_id": "9", "record_id": 9, "document_id": None,
           "page": None, "client_ip": "10.1.2.3", "result": "ok", "detail": {}}
    forged_hash = _plain_hash(last.hash, row)
    values = {**row, "at": at, "prev_hash": last.hash, "hash": forged_hash, "chain_seq": last.chain_seq + 1}
    if chain_version is not None:
        values["chain_version"] = chain_version
    session.execute(sa.insert(AuditEvent.__table__).values(**values))
    session.get(SystemSetting, "audit_head").value = {"id": row["id"], "hash": forged_hash,
                                                      "pos": last.chain_seq + 1}
    session.commit()
    return row["id"]


def test_a_correctly_chained_event_forged_by_sql_is_reported(session):
    _events(session)
    forged = _forge(session)
    assert verify_chain(session) == [f"审计事件 #{forged} 不是由系统写入的（密钥链之后出现无密钥哈希）"]


def test_a_forged_event_claiming_the_keyed_chain_fails_its_hash(session):
    _events(session)
    forged = _forge(session, chain_version=2)
    assert verify_chain(session) == [f"审计事件 #{forged} 的内容被修改（哈希不符）"]


def test_truncation_with_an_older_copy_of_home_put_back_is_reported(session, key_elsewhere):
    home = get_settings().resolved_home
    kept = _events(session)
    home.mkdir(parents=True, exist_ok=True)
    snapshot = home.with_name("home-copy")
    shutil.copytree(home, snapshot)
    _events(session, 2, user="u_archivist")  # what the attacker wants gone
    session.execute(sa.delete(AuditEvent).where(AuditEvent.id > kept[-1].id))
    session.get(SystemSetting, "audit_head").value = {"id": kept[-1].id, "hash": kept[-1].hash,
                                                      "pos": kept[-1].chain_seq}
    session.commit()
    shutil.rmtree(home)
    shutil.copytree(snapshot, home)  # the older signed head as it was
    assert verify_chain(session) == [
        f"审计日志被截断：检查点记录已写入事件 #{kept[-1].id + 2}，现存最新为 #{kept[-1].id}"]


def test_checkpoints_never_move_backwards(session):
    from bingan.access.audit_head import append_checkpoint, checkpoint_log, read_checkpoints

    events = _events(session)
    append_checkpoint(events[0].id, events[0].hash, events[0].chain_seq)  # a slower sealer, older head
    lines = checkpoint_log().read_text().splitlines()
    assert len(lines) == 1
    newest, problems = read_checkpoints()
    assert (newest["id"], newest["hash"], problems) == (events[-1].id, events[-1].hash, [])


def test_a_checkpoint_line_removed_from_the_middle_is_reported(session):
    from bingan.access.audit_head import checkpoint_log

    for _ in range(3):
        _events(session, 1)
    path = checkpoint_log()
    lines = path.read_text().splitlines(keepends=True)
    path.write_text(lines[0] + lines[2])
    assert "审计检查点日志 audit-checkpoints.log 第2行无效（被修改、删除或插入）" in verify_chain(session)


def test_events_hashed_before_the_key_still_verify_and_new_ones_are_keyed(session):
    previous = ""
    for _ in range(2):  # rows as migration 0005 finds them (chain version 1, plain SHA-256), placed by 0007
        at = utcnow()
        row = {"at": at, "user_id": 7, "username": "u_old", "action": "login", "object_type": "", "object_id": "",
               "record_id": None, "document_id": None, "page": None, "client_ip": "", "result": "ok", "detail": {}}
        number = session.execute(sa.insert(AuditEvent.__table__).values(**row, prev_hash=previous, chain_version=1)
                                 .returning(AuditEvent.id)).scalar_one()
        digest = _plain_hash(previous, row | {"id": number, "at": at.strftime("%Y-%m-%dT%H:%M:%S.%f")})
        session.execute(sa.update(AuditEvent).where(AuditEvent.id == number).values(hash=digest, chain_seq=number))
        previous = digest
    session.commit()
    assert verify_chain(session) == []
    new = _events(session, 1)[0]
    assert (new.chain_version, new.prev_hash) == (2, previous)
    assert new.hash != _plain_hash(previous, {})
    assert verify_chain(session) == []


def test_a_lost_key_stops_the_chain_instead_of_starting_a_new_one(session):
    from bingan.access.audit_head import AuditKeyMissing, key_file

    _events(session)
    key_file().unlink()
    with pytest.raises(AuditKeyMissing, match="BINGAN_AUDIT_KEY_FILE"):
        record_event(session, Actor(7, "u_clinician"), "view")
    session.rollback()
    assert verify_chain(session) == [f"审计密钥文件 {key_file()} 不存在：请恢复该文件或检查 BINGAN_AUDIT_KEY_FILE"]


def test_deleting_the_oldest_events_behind_a_forged_purge_anchor_is_reported(session):
    events = _events(session, 4)
    through = {"prev_hash": events[1].hash, "purged_through_id": events[1].id}
    session.execute(sa.delete(AuditEvent).where(AuditEvent.id <= events[1].id))
    session.add(SystemSetting(key="audit_anchor", value=through))
    session.commit()
    assert verify_chain(session) == ["审计日志起点记录（清理锚点）的签名无效：最早的事件可能被删除"]


def test_a_purge_signs_where_the_chain_now_starts(session):
    from bingan.access.audit import sign

    events = [record_event(session, Actor(7, "u_clinician"), "view", record_id=i) for i in range(1, 5)]
    old = (utcnow() - timedelta(days=400)).replace(tzinfo=None)
    for event in events[:2]:  # as if the system had written them 400 days ago
        event.at = old
        sign(event)
    session.commit()
    assert purge_before(session, utcnow() - timedelta(days=200), Actor(1, "u_auditor")) == 2
    session.commit()
    assert "mac" in session.get(SystemSetting, "audit_anchor").value
    assert verify_chain(session) == []


def test_the_audit_key_and_checkpoint_log_are_private_files(session):
    from bingan.access.audit_head import checkpoint_log, key_file

    _events(session)
    assert stat.S_IMODE(key_file().stat().st_mode) == 0o600
    assert stat.S_IMODE(checkpoint_log().stat().st_mode) == 0o600


def test_verify_reports_an_audit_key_readable_by_others(session):
    from bingan.access.audit_head import key_file

    _events(session)
    key_file().chmod(0o644)
    assert verify_chain(session) == [f"{key_file()} 的权限为 0644，应为 0600"]


def test_the_audit_key_file_setting_is_honoured(session, key_elsewhere):
    _events(session)
    assert key_elsewhere.exists()
    assert (key_elsewhere.parent / "audit-checkpoints.log").exists()
    home = get_settings().resolved_home
    assert not (home / "audit.key").exists() and not (home / "audit-checkpoints.log").exists()


def test_the_web_secret_is_not_the_audit_key(session):
    from bingan.access.audit_head import audit_key, key_file
    from bingan.web.security import secret_key

    _events(session)
    settings = get_settings()
    web = secret_key(settings)
    assert key_file() != settings.resolved_home / "secret.key"
    assert web not in {audit_key(), audit_key().hex().encode()}


def test_verify_command_reports_a_forged_event_and_truncation(engine, key_elsewhere):
    env = os.environ | {"BINGAN_DATABASE_URL": engine.url.render_as_string(hide_password=False)}
    with session_factory(engine)() as session:
        kept = _events(session)[-1]
        kept = {"id": kept.id, "hash": kept.hash, "pos": kept.chain_seq}
        _events(session, 2)
    assert subprocess.run([BIN, "verify"], env=env, capture_output=True, timeout=120).returncode == 0
    with session_factory(engine)() as session:
        session.execute(sa.delete(AuditEvent).where(AuditEvent.id > kept["id"]))
        session.get(SystemSetting, "audit_head").value = kept
        session.commit()
        _forge(session)
    done = subprocess.run([BIN, "verify"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "不是由系统写入的" in done.stdout and "审计日志被截断" in done.stdout
