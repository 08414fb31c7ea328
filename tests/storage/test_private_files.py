"""Patient data at rest outside the encrypted blobs — database, index, logs, staged files — is the
service account's only: every `bingan` command sets umask 0o077 and repairs HOME (issue 9: M8)."""
from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

import bingan.cli.storage_blob_cmds  # noqa: F401  (registers the commands)
from bingan.cli.app import app
from bingan.config import reset_settings
from bingan.ingest.staging import is_sealed

runner = CliRunner()
WORLD_READABLE = {"bingan.db": b"SQLite format 3\x00 patients", "index/seg-1.store": b"page text",
                  "logs/worker.log": b"item 7: 0012345", "staging/push-1": b"%PDF- plaintext record"}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    for name, data in WORLD_READABLE.items():
        (home / name).parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        (home / name).write_bytes(data)
        (home / name).chmod(0o644)
    home.chmod(0o755)
    monkeypatch.setenv("BINGAN_HOME", str(home))
    monkeypatch.delenv("BINGAN_MASTER_KEY", raising=False)
    reset_settings()
    umask = os.umask(0o022)
    yield home
    os.umask(umask)
    reset_settings()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def run_a_command() -> None:
    result = runner.invoke(app, ["locate", "0012345"])  # any command: nothing is stored yet
    assert "没有找到病案号 0012345 的文件" in result.output


def test_a_command_makes_home_private(home: Path) -> None:
    run_a_command()
    assert mode(home) == 0o700
    assert {mode(home / folder) for folder in ("index", "logs", "staging")} == {0o700}


def test_a_command_makes_the_database_index_and_logs_owner_only(home: Path) -> None:
    run_a_command()
    assert {name: mode(home / name) for name in WORLD_READABLE} == dict.fromkeys(WORLD_READABLE, 0o600)


def test_a_command_seals_a_staged_file_left_in_plaintext(home: Path) -> None:
    run_a_command()
    assert is_sealed(home / "staging/push-1")
    assert b"plaintext record" not in (home / "staging/push-1").read_bytes()


def test_files_created_after_start_up_are_owner_only(home: Path) -> None:
    run_a_command()
    (home / "new.log").write_text("x")
    (home / "new-folder").mkdir()
    assert (mode(home / "new.log"), mode(home / "new-folder")) == (0o600, 0o700)
