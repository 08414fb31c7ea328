"""`bingan db-check`: every SQL feature Bingan relies on beyond plain SQL is probed on the server
itself, so a hospital's PostgreSQL-compatible domestic database can be judged in one command."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

import bingan.cli.storage_cmds  # noqa: F401  (registers the commands)
from bingan.cli.app import app
from bingan.config import reset_settings
from bingan.storage import compatibility
from bingan.storage.compatibility import Probe, check, has_setting

runner = CliRunner()


def test_every_probe_passes_on_the_databases_bingan_is_tested_on(engine):
    failed = [(o.probe.name, o.detail) for o in check(engine) if not o.ok]
    assert failed == []


def test_a_missing_feature_is_named_with_the_servers_own_words(engine, monkeypatch):
    unknown = Probe("不存在的函数", "测试", ("SELECT no_such_function_here()",))
    monkeypatch.setattr(compatibility, "probes_for", lambda _engine: (unknown,))
    [outcome] = check(engine)
    assert not outcome.ok and "no_such_function_here" in outcome.detail


def test_jit_is_a_setting_of_this_postgresql(postgres_engine):
    assert has_setting(postgres_engine, "jit") and not has_setting(postgres_engine, "no_such_setting")


@pytest.fixture
def configured(engine, monkeypatch) -> Iterator[None]:
    monkeypatch.setenv("BINGAN_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    reset_settings()
    yield
    reset_settings()


def test_the_command_lists_each_feature_and_succeeds(configured):
    result = runner.invoke(app, ["db-check"])
    assert result.exit_code == 0, result.output
    assert "数据库：" in result.output and "聚合 FILTER 子句" in result.output and "全部必需功能均支持" in result.output


def test_the_command_fails_when_a_required_feature_is_missing(configured, monkeypatch):
    unknown = Probe("不存在的函数", "测试", ("SELECT no_such_function_here()",))
    optional = Probe("可选功能", "测试", ("SELECT no_such_function_either()",), required=False)
    monkeypatch.setattr(compatibility, "probes_for", lambda _engine: (unknown, optional))
    result = runner.invoke(app, ["db-check"])
    assert result.exit_code == 1
    assert "不支持（必需）  不存在的函数" in result.output and "不支持（可选，自动跳过）" in result.output
