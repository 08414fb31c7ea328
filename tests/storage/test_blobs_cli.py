"""The `locate` and `rotate-key` commands work from the settings alone (no database)."""
from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

import bingan.cli.storage_blob_cmds  # noqa: F401  (registers the commands)
from bingan.cli.app import app
from bingan.config import get_settings, reset_settings
from bingan.storage.blobs.port import Placement, open_blob_store
from bingan.storage.db import get_engine, session_factory
from bingan.storage.migrate import upgrade
from bingan.storage.models import AuditEvent

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("BINGAN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("BINGAN_VOLUME_RESERVE_MB", "0")
    monkeypatch.delenv("BINGAN_MASTER_KEY", raising=False)
    reset_settings()
    yield tmp_path / "home"
    reset_settings()


def put(data: bytes, name: str) -> str:
    store = open_blob_store(get_settings())
    where = Placement("本院", "ZY0123", 1, date(2024, 6, 1), name, "出院记录")
    return store.put(io.BytesIO(data), where).sha256


def test_locate_lists_the_records_files(home: Path) -> None:
    sha = put(b"discharge summary", "出院记录.pdf")
    result = runner.invoke(app, ["locate", "ZY0123"])
    assert result.exit_code == 0, result.output
    assert "出院记录.pdf" in result.output and sha in result.output


def test_locate_export_decrypts_into_the_directory(home: Path, tmp_path: Path) -> None:
    put(b"discharge summary", "出院记录.pdf")
    result = runner.invoke(app, ["locate", "ZY0123", "--export", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "第1次" / "出院记录.pdf").read_bytes() == b"discharge summary"


def test_locate_unknown_record_says_so(home: Path) -> None:
    put(b"x", "a.pdf")
    result = runner.invoke(app, ["locate", "ZY9999"])
    assert result.exit_code == 1
    assert "没有找到" in result.output


def test_locate_without_a_key_fails_clearly_and_creates_none(home: Path) -> None:
    result = runner.invoke(app, ["locate", "ZY0123"])
    assert result.exit_code == 1
    assert "找不到主密钥" in result.output
    assert not (home / "master.key").exists()


def test_rotate_key_keeps_files_readable_with_the_new_key(home: Path) -> None:
    sha = put(b"rotated", "a.pdf")
    old = (home / "master.key").read_text()
    result = runner.invoke(app, ["rotate-key"])
    assert result.exit_code == 0, result.output
    assert "主密钥已更换" in result.output
    assert (home / "master.key").read_text() != old
    open_blob_store(get_settings()).check(sha)


def test_rotate_key_with_environment_key_demands_the_new_one(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BINGAN_MASTER_KEY", "ab" * 32)
    reset_settings()
    put(b"env", "a.pdf")
    assert runner.invoke(app, ["rotate-key"]).exit_code == 1
    result = runner.invoke(app, ["rotate-key", "--new-key", "cd" * 32])
    assert result.exit_code == 0, result.output
    assert "BINGAN_MASTER_KEY" in result.output


def test_locate_export_is_audited_in_the_database(home: Path, tmp_path: Path) -> None:
    upgrade(get_engine(get_settings()))
    put(b"discharge summary", "出院记录.pdf")
    result = runner.invoke(app, ["locate", "ZY0123", "--export", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    with session_factory(get_engine(get_settings()))() as session:
        events = session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "locate_export")).all()
    assert [(event.object_id, event.detail["导出到"]) for event in events] == [("ZY0123", str(tmp_path / "out"))]


def test_locate_export_without_a_database_is_logged_in_home_and_creates_none(home: Path, tmp_path: Path) -> None:
    put(b"discharge summary", "出院记录.pdf")
    result = runner.invoke(app, ["locate", "ZY0123", "--export", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert not (home / "bingan.db").exists()
    logged = [json.loads(line) for line in (home / "logs" / "locate-export.log").read_text().splitlines()]
    assert [entry["病案号"] for entry in logged] == ["ZY0123"]
