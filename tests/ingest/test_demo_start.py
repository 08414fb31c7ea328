"""`bingan serve` start-up: demo patients and demo accounts only when asked (`make run` passes --demo)."""
from __future__ import annotations

import stat

import sqlalchemy as sa

from bingan.cli.admin_cmds import start_up
from bingan.config import get_settings
from bingan.ingest.demo.accounts import ACCOUNTS, ACCOUNTS_FILE, ensure_demo_accounts
from bingan.ingest.embedded import DEMO_MARKER, stop_background
from bingan.storage.db import transaction
from bingan.storage.models import Patient, Record, User


def test_serve_without_demo_creates_the_administrator_and_no_patients():
    settings = get_settings()
    lines = start_up(settings, demo=False)
    assert len(lines) == 1 and lines[0].startswith("管理员  admin") and "不查阅病案" in lines[0]
    with transaction() as session:
        assert session.scalar(sa.select(sa.func.count(Patient.id))) == 0
        assert session.scalar(sa.select(sa.func.count(Record.id))) == 0
        assert list(session.scalars(sa.select(User.username))) == ["admin"]
    assert not (settings.resolved_home / DEMO_MARKER).exists()
    assert not (settings.resolved_home / ACCOUNTS_FILE).exists()


def test_serve_with_demo_prints_one_account_per_role_and_starts_the_demo_load():
    settings = get_settings()
    try:
        lines = start_up(settings, demo=True)
    finally:
        stop_background()  # the loader child: this test is about what start-up decides, not the load
    text = "\n".join(lines)
    for account in ACCOUNTS:
        assert f"  {account.username:<11} 密码 " in text and account.purpose in text
    archivist = next(line for line in lines if line.startswith("  archivist"))
    clinician = next(line for line in lines if line.startswith("  clinician"))
    assert "绑定手机验证器" in archivist and "二维码" in archivist  # 全院 rights need a second factor
    assert "绑定手机验证器" not in clinician
    assert "正在后台载入" in lines[-1] and (settings.resolved_home / DEMO_MARKER).exists()
    kept = settings.resolved_home / ACCOUNTS_FILE
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600 and "archivist" in kept.read_text()


def test_demo_accounts_are_created_once_with_their_departments(sqlite_engine, tmp_path):
    from bingan.storage.db import session_factory

    with session_factory(sqlite_engine)() as session, session.begin():
        created = ensure_demo_accounts(session, tmp_path / ACCOUNTS_FILE)
        again = ensure_demo_accounts(session, tmp_path / ACCOUNTS_FILE)
        clinician = session.scalar(sa.select(User).where(User.username == "clinician"))
        roles = {u.username: [r.code for r in u.roles] for u in session.scalars(sa.select(User))}
        assert clinician.department.code == "NK02" and not clinician.must_change_password
    assert [c.account.role for c in created] == [a.role for a in ACCOUNTS] and again == []
    assert {code for codes in roles.values() for code in codes} >= {"secadmin", "auditor", "archivist", "clinician"}
    assert len({c.password for c in created}) == len(ACCOUNTS)


def test_serve_logs_go_to_home_logs_and_only_errors_reach_the_console(capfd):
    import logging
    import logging.config

    from bingan.cli.logs import log_config

    settings = get_settings()
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level  # restored: the test process keeps its logging
    try:
        logging.config.dictConfig(log_config(settings))
        logging.getLogger("uvicorn.error").info("Uvicorn running on http://127.0.0.1:8000")
        logging.getLogger("uvicorn.error").error("[Errno 98] address already in use")
        for handler in logging.getLogger("uvicorn.error").handlers:
            handler.flush()
    finally:
        for handler in logging.getLogger("uvicorn.error").handlers:
            handler.close()
        root.handlers[:] = handlers
        root.setLevel(level)
    console = capfd.readouterr().err
    assert "Uvicorn running" not in console and "address already in use" in console
    assert "Uvicorn running" in (settings.log_dir / "web.log").read_text(encoding="utf-8")


def test_serve_with_demo_on_an_archive_that_holds_records_adds_nothing():
    settings = get_settings()
    start_up(settings, demo=False)
    with transaction() as session:
        patient = Patient(record_number="0300001", name="王五", sex="M")
        session.add(Record(patient=patient, record_number="0300001", stay_number=1))
    lines = start_up(settings, demo=True)
    assert lines[1:] == ["数据库中已有病案：不载入演示数据，也不建演示账号"]  # after the admin's line
    with transaction() as session:
        assert list(session.scalars(sa.select(User.username))) == ["admin"]
    assert not (settings.resolved_home / DEMO_MARKER).exists()
