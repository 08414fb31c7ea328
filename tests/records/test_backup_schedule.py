"""Scheduled backups (bingan/records/backups.py, V2): the administrator's daily time on the hospital's
clock decides when a run is due (across the UTC day boundary too); a slot missed while the worker
was down runs once; a scheduled run makes a backup set and keeps the newest N; a failure is kept
for the status page and told to whoever watches the system. On SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from bingan import broker
from bingan.access.accounts import create_user
from bingan.access.audit import Actor
from bingan.config import get_settings, reset_settings
from bingan.errors import Refusal
from bingan.records import backups, jobs
from bingan.records.workflows import install
from bingan.storage.backup import LAST_RUN, list_sets
from bingan.storage.blobs.port import open_blob_store
from bingan.storage.models import Message
from bingan.storage.models.jobs import Job
from bingan.storage.system_settings import read_setting

ADMIN = Actor(None, "admin")
PASSPHRASE = "病案室备份口令-2026"


def shanghai(text: str) -> datetime:
    """A moment on the hospital's clock (default zone Asia/Shanghai, UTC+8), as the UTC instant."""
    return datetime.fromisoformat(text + "+08:00").astimezone(UTC)


def _slot_of(session) -> datetime:
    return datetime.fromisoformat(read_setting(session, backups.CLAIMED)["slot"])


@pytest.fixture
def nas(tmp_path) -> Path:
    target = tmp_path / "nas"
    target.mkdir()
    return target


@pytest.fixture(autouse=True)
def quiet_broker(monkeypatch):
    """Kicks go to a filesystem broker in this test's home; the test runs the jobs itself."""
    monkeypatch.setattr(broker, "celery_app", broker.make_celery())
    install()


def _schedule(session, nas: Path, at: str = "02:00", keep: int = 30, saved: str = "2026-03-01 15:00"):
    schedule = backups.save_schedule(session, ADMIN, enabled=True, target=str(nas), at=at, keep=keep,
                                     now=shanghai(saved))
    session.commit()
    return schedule


def test_the_latest_slot_is_todays_time_once_passed_else_yesterdays():
    schedule = backups.Schedule(enabled=True, target="/x", time="02:00")
    assert backups.latest_slot(schedule, shanghai("2026-03-01 01:59")) == shanghai("2026-02-28 02:00")
    assert backups.latest_slot(schedule, shanghai("2026-03-01 02:00")) == shanghai("2026-03-01 02:00")
    assert backups.latest_slot(schedule, shanghai("2026-03-01 23:59")) == shanghai("2026-03-01 02:00")


def test_the_slot_follows_the_hospital_day_not_the_utc_day():
    """07:00 in Shanghai is 23:00 UTC the day before: at 07:30 local the slot is today's, not yesterday's."""
    schedule = backups.Schedule(enabled=True, target="/x", time="07:00")
    now = shanghai("2026-03-02 07:30")
    assert now.date().isoformat() == "2026-03-01"  # the UTC day is still the 1st
    assert backups.latest_slot(schedule, now) == shanghai("2026-03-02 07:00")
    assert backups.is_due(schedule, shanghai("2026-03-01 07:00").isoformat(), now)
    assert not backups.is_due(schedule, shanghai("2026-03-02 07:00").isoformat(), now)


def test_a_schedule_that_is_off_is_never_due():
    schedule = backups.Schedule(enabled=False, target="/x", time="02:00")
    assert not backups.is_due(schedule, None, shanghai("2026-03-01 12:00"))
    assert backups.next_run(schedule, shanghai("2026-03-01 12:00")) is None


def test_saving_the_schedule_makes_the_first_run_the_next_time_of_day(session, nas):
    schedule = _schedule(session, nas, at="02:00", saved="2026-03-01 15:00")
    assert backups.start_due_backup(session, shanghai("2026-03-01 15:01")) is None
    assert backups.start_due_backup(session, shanghai("2026-03-02 01:59")) is None
    assert backups.next_run(schedule, shanghai("2026-03-01 15:01")).strftime("%Y-%m-%d %H:%M") == "2026-03-02 02:00"
    assert backups.start_due_backup(session, shanghai("2026-03-02 02:00")) is not None


def test_each_slot_starts_one_run_however_often_the_beat_ticks(session, nas):
    _schedule(session, nas)
    first = backups.start_due_backup(session, shanghai("2026-03-02 02:00:10"))
    session.commit()
    again = [backups.start_due_backup(session, shanghai(f"2026-03-02 02:{minute:02d}")) for minute in range(1, 59)]
    assert first is not None and again == [None] * 58
    assert session.scalar(sa.select(sa.func.count()).select_from(Job).where(Job.kind == backups.JOB)) == 1


def test_slots_missed_while_the_worker_was_down_run_once_when_it_returns(session, nas):
    _schedule(session, nas, saved="2026-03-01 15:00")
    # Down from the 1st in the evening to the 4th at 09:00: three 02:00 slots missed.
    started = backups.start_due_backup(session, shanghai("2026-03-04 09:00"))
    later = backups.start_due_backup(session, shanghai("2026-03-04 09:00:30"))
    assert started is not None and later is None
    assert _slot_of(session) == shanghai("2026-03-04 02:00")
    assert backups.start_due_backup(session, shanghai("2026-03-05 02:00")) is not None


@pytest.mark.parametrize(("target", "at", "keep", "reason"), [
    ("relative/nas", "02:00", 30, "绝对路径"),
    ("/no/such/mount", "02:00", 30, "不存在"),
    (None, "2:00", 30, "HH:MM"),
    (None, "24:00", 30, "HH:MM"),
    (None, "02:00", 0, "保留份数"),
])
def test_a_schedule_that_cannot_work_is_refused_and_nothing_is_kept(session, nas, target, at, keep, reason):
    with pytest.raises(Refusal, match=reason):
        backups.save_schedule(session, ADMIN, enabled=True, target=str(nas) if target is None else target,
                              at=at, keep=keep)
    session.rollback()
    assert backups.schedule_of(session) == backups.Schedule()


def test_a_target_inside_the_data_directory_is_refused(session):
    inside = get_settings().resolved_home / "backups"
    inside.mkdir(parents=True)
    with pytest.raises(Refusal, match="BINGAN_HOME"):
        backups.save_schedule(session, ADMIN, enabled=True, target=str(inside), at="02:00", keep=3)


@pytest.fixture
def live_database(engine, monkeypatch):
    """The worker's settings point at this test's database, with the passphrase in a file."""
    monkeypatch.setenv("BINGAN_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    phrase = get_settings().resolved_home.parent / "passphrase"
    phrase.write_text(PASSPHRASE + "\n")
    monkeypatch.setenv("BINGAN_BACKUP_PASSPHRASE_FILE", str(phrase))
    reset_settings()
    yield engine
    reset_settings()


def _run_day(session, engine, day: str) -> str:
    job_id = backups.start_due_backup(session, shanghai(f"{day} 02:00:05"))
    session.commit()
    assert job_id is not None
    return jobs.run_job(engine, open_blob_store(get_settings()), job_id)


def test_scheduled_runs_make_backup_sets_and_keep_the_newest_n(session, live_database, nas):
    _schedule(session, nas, keep=2)
    outcomes = [_run_day(session, live_database, day) for day in ("2026-03-02", "2026-03-03", "2026-03-04")]
    assert outcomes == ["done"] * 3
    sets = list_sets(nas)
    assert len(sets) == 2
    session.expire_all()
    last = read_setting(session, LAST_RUN)
    assert last["ok"] and last["set"] == sets[-1] and last["target"] == str(nas)
    for name in sets:
        assert {p.name for p in (nas / "sets" / name).iterdir()} >= {"manifest.json", "keys.sealed"}


def test_a_failed_scheduled_run_is_kept_for_the_status_page_and_told_to_the_administrators(
        session, live_database, nas, monkeypatch):
    watcher = create_user(session, "sysadmin_on_call", "夜班-Kz7#qL9vT2", ["sysadmin"], full_name="值班管理员",
                          must_change_password=False)
    _schedule(session, nas)
    monkeypatch.setenv("BINGAN_BACKUP_PASSPHRASE_FILE", str(nas / "missing"))
    reset_settings()
    assert _run_day(session, live_database, "2026-03-02") == "failed"
    session.expire_all()
    job = session.scalars(sa.select(Job).where(Job.kind == backups.JOB)).one()
    assert job.error.startswith("备份失败：无法读取备份口令文件")
    last = read_setting(session, LAST_RUN)
    assert not last["ok"] and "备份口令" in last["error"]
    told = session.scalars(sa.select(Message).where(Message.user_id == watcher.id)).all()
    assert [(m.kind, m.title, m.link) for m in told] == [("backup_failed", "备份失败", "/admin/status")]
    assert list_sets(nas) == []
