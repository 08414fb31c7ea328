"""The foundation: settings, the documented deployment, first administrator, status page, user command."""
from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from fastapi.testclient import TestClient
from pydantic import ValidationError

from bingan.access.accounts import AccountError, create_user, ensure_first_admin
from bingan.access.passwords import verify_password
from bingan.config import Settings, get_settings
from bingan.storage.db import session_factory
from bingan.storage.models import User

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import settings_table  # noqa: E402

BIN = Path(sys.executable).parent / "bingan"


def declared_variables() -> set[str]:
    return {variable for model in settings_table.SETTINGS for variable in settings_table.variables(model).values()}


def test_every_setting_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    for variable in declared_variables():
        assert f"`{variable}`" in readme, variable


def test_the_readme_settings_table_is_the_generated_one():
    readme = (ROOT / "README.md").read_text()
    assert settings_table.table() in readme, "README 配置表已过期：运行 .venv/bin/python scripts/settings_table.py"


def test_every_bingan_variable_the_code_reads_is_a_declared_setting():
    """No option hides in the code: each BINGAN_* name the source spells is in a settings object."""
    spelled = {match for path in (ROOT / "bingan").rglob("*.py")
               for match in re.findall(r"[\"'](BINGAN_[A-Z0-9_]*[A-Z0-9])[\"']", path.read_text())}
    assert spelled - declared_variables() == set()


def test_settings_come_from_bingan_environment_variables(monkeypatch, tmp_path):
    monkeypatch.setenv("BINGAN_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("BINGAN_CIPHER", "sm4-gcm")
    settings = Settings()
    assert settings.cipher == "sm4-gcm"
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'data' / 'bingan.db'}"
    assert settings.resolved_key_file == tmp_path / "data" / "master.key"


def test_an_unknown_cipher_is_refused(monkeypatch):
    monkeypatch.setenv("BINGAN_CIPHER", "des")
    with pytest.raises(ValidationError):
        Settings()


def test_a_trusted_proxy_that_is_no_address_is_refused_at_start_up_naming_it(monkeypatch):
    monkeypatch.setenv("BINGAN_TRUSTED_PROXIES", "10.0.0.0/30, 10.0.0.300")
    with pytest.raises(ValidationError, match=r"10\.0\.0\.300"):
        Settings()


def test_trusted_proxies_accept_addresses_ranges_and_ipv6(monkeypatch):
    monkeypatch.setenv("BINGAN_TRUSTED_PROXIES", "10.0.0.1, 10.0.1.0/24, ::ffff:10.0.2.1, fd00::/8")
    assert Settings().trusted_proxies.startswith("10.0.0.1")


def test_compose_uses_only_known_settings_and_checks_health():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    known = declared_variables()
    for service in ("web", "worker", "beat"):
        env = services[service]["environment"]
        assert set(env) <= known, set(env) - known
    for service in ("web", "postgres", "redis", "elasticsearch", "mongo", "tika"):
        assert "healthcheck" in services[service], service
    assert services["web"]["environment"]["BINGAN_SEARCH_BACKEND"] == "elasticsearch"


def test_first_start_creates_one_administrator_with_a_private_password_file(sqlite_engine, tmp_path):
    password_file = tmp_path / "admin-password.txt"
    with session_factory(sqlite_engine)() as session, session.begin():
        password = ensure_first_admin(session, password_file)
    assert password and password_file.read_text().strip() == password
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    with session_factory(sqlite_engine)() as session, session.begin():
        admin = session.scalars(sa.select(User).where(User.username == "admin")).one()
        assert verify_password(admin.password_hash, password)
        assert admin.must_change_password and admin.has_role("sysadmin")
        assert ensure_first_admin(session, password_file) == password  # shown again until changed
        assert session.scalar(sa.select(sa.func.count(User.id))) == 1


def test_a_weak_password_is_refused_in_chinese(session):
    with pytest.raises(AccountError, match="密码"):
        create_user(session, "lisi", "password", ["clinician"])


def test_an_unknown_role_is_refused(session):
    with pytest.raises(AccountError, match="未知角色"):
        create_user(session, "lisi", "Tr0ub4dor&3-horse", ["wizard"])


def _run(args: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN), *args], input=stdin, env=env, capture_output=True, text=True, timeout=120)


def test_user_add_reads_the_password_from_standard_input(sqlite_engine):
    env = os.environ | {"BINGAN_DATABASE_URL": str(sqlite_engine.url)}
    done = _run(["user", "add", "zhangsan", "--role", "clinician", "--name", "张三"], env, "Zhang#2026sec-ward\n")
    assert done.returncode == 0, done.stderr
    with session_factory(sqlite_engine)() as session:
        user = session.scalars(sa.select(User).where(User.username == "zhangsan")).one()
        assert user.full_name == "张三" and verify_password(user.password_hash, "Zhang#2026sec-ward")
    again = _run(["user", "add", "zhangsan", "--role", "clinician"], env, "Zhang#2026sec-ward\n")
    assert again.returncode == 1 and "已存在" in again.stderr


def test_migrate_command_creates_the_database(tmp_path):
    env = os.environ | {"BINGAN_HOME": str(tmp_path / "fresh")}
    done = _run(["migrate"], env)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "fresh" / "bingan.db").exists()


@pytest.fixture
def client(sqlite_engine, monkeypatch):
    monkeypatch.setenv("BINGAN_DATABASE_URL", str(sqlite_engine.url))
    from bingan.config import reset_settings
    from bingan.web.app import create_app

    reset_settings()
    return TestClient(create_app(get_settings()))


def test_healthz_answers_for_load_balancers(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json()["ok"] is True


def test_status_is_not_shown_to_anonymous_visitors(client):
    assert client.get("/api/v1/status").status_code == 401
    assert client.get("/admin/status", follow_redirects=False).status_code in (302, 303)


def test_status_report_shows_a_search_index_rebuilding_after_an_upgrade(sqlite_engine, tmp_path):
    import json

    from bingan.search.tantivy_index import META_FILE, TantivySearchIndex
    from bingan.web.status import status_report

    TantivySearchIndex(tmp_path / "index").close()
    meta = tmp_path / "index" / META_FILE
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "schema_version": 1}))
    upgraded = TantivySearchIndex(tmp_path / "index")
    search = status_report(get_settings(), sqlite_engine, upgraded)["checks"][2]
    assert search["name"] == "检索索引" and search["ok"] is False and "正在从数据库重建" in search["detail"]
    upgraded.mark_rebuilt()
    assert status_report(get_settings(), sqlite_engine, upgraded)["checks"][2] == \
        {"name": "检索索引", "ok": True, "detail": "0 页"}
    upgraded.close()


def test_status_report_names_database_revision_components_and_volumes(sqlite_engine):
    from bingan.web.status import status_report

    report = status_report(get_settings(), sqlite_engine)
    assert report["checks"][0]["ok"] is True and report["healthy"] is True
    assert dict(report["components"])["tantivy"] != "未安装"
    volume = report["volumes"][0]
    assert volume["mode"] == "rw" and volume["free_bytes"] > 0
