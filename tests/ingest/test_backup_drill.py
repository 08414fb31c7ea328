"""The restore drill (恢复演练, issue 19): collect, back up, change more, back up again, wipe
everything, restore → every blob bit-identical, every row identical, the audit chain intact,
`verify` clean, search answering after the rebuild. On SQLite and PostgreSQL."""
from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from ingest_support import ADMISSION, pdf
from test_ingest_pipeline import ingest

from bingan.access.audit import verify_chain
from bingan.config import get_settings, reset_settings
from bingan.ingest.reindex import reindex
from bingan.search.factory import open_search_index
from bingan.search.port import Scope
from bingan.storage import backup as backup_module
from bingan.storage.backup import BackupError, backup, list_sets, restore
from bingan.storage.blobs.port import open_blob_store
from bingan.storage.blobs.volumes import parse_volumes
from bingan.storage.db import make_engine, session_factory
from bingan.storage.migrate import upgrade
from bingan.storage.verify import verify

PASSPHRASE = "病案室备份口令-2026"
TABLES = ("records", "documents", "versions", "pages", "audit_events", "collected_items")
DISCHARGE = [["出院记录", "出院诊断：社区获得性肺炎。", "出院医嘱：阿莫西林口服一周。"]]


def _rows(engine) -> dict[str, list]:
    with engine.connect() as connection:
        return {table: [tuple(row) for row in connection.execute(sa.text(f"SELECT * FROM {table} ORDER BY id"))]
                for table in TABLES}


def _volume_files(home: Path) -> dict[str, bytes]:
    root = home / "volumes"
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file() and ".tmp" not in p.parts
            and p.name != ".lock"}


@pytest.fixture
def empty_database(pipe, tmp_path):
    """Where the restore goes: a new SQLite file, or a new empty PostgreSQL database."""
    if pipe.engine.url.get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored' / 'bingan.db'}"
        return
    name = f"bingan_restore_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(pipe.engine.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield pipe.engine.url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_a_wiped_machine_comes_back_from_its_backups(pipe, record, empty_database, tmp_path, monkeypatch):
    target = tmp_path / "nas"
    ingest(pipe, pdf(ADMISSION))
    first = backup(pipe.settings, target, PASSPHRASE)
    ingest(pipe, pdf(DISCHARGE), doc_id="EMR-2", type_code="C0301")
    second = backup(pipe.settings, target, PASSPHRASE)
    assert first.copied_files > 0 and 0 < second.copied_files < first.copied_files + 4  # only what changed
    assert list_sets(target) == [first.set_id, second.set_id]

    home = pipe.settings.resolved_home
    rows, files = _rows(pipe.engine), _volume_files(home)
    pipe.close()
    pipe.engine.dispose()
    shutil.rmtree(home)  # the machine is gone: keys, volumes, index, database (SQLite lives apart)

    monkeypatch.setenv("BINGAN_DATABASE_URL", empty_database)
    reset_settings()
    settings = get_settings()
    assert restore(settings, target, PASSPHRASE) == second.set_id
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    assert reindex(settings, engine=engine, fresh=True) == 3
    try:
        assert _rows(engine) == rows
        assert _volume_files(home) == files
        with session_factory(engine)() as session:
            report = verify(session, open_blob_store(settings), rehash=True, extra_checks=[verify_chain])
        assert report.ok, report
        index = open_search_index(settings)
        assert index.search("阿莫西林", Scope.everything()).total == 1
        index.close()
    finally:
        engine.dispose()


def test_a_wrong_passphrase_or_a_changed_byte_stops_the_restore_before_it_writes(pipe, record, tmp_path,
                                                                               monkeypatch):
    target = tmp_path / "nas"
    ingest(pipe, pdf(ADMISSION))
    made = backup(pipe.settings, target, PASSPHRASE)
    monkeypatch.setenv("BINGAN_HOME", str(tmp_path / "new-machine"))
    monkeypatch.setenv("BINGAN_DATABASE_URL", f"sqlite:///{tmp_path / 'new-machine.db'}")
    reset_settings()
    with pytest.raises(BackupError, match="口令不对"):
        restore(get_settings(), target, "another passphrase!")
    database = made.path / "database.sqlite3" if (made.path / "database.sqlite3").exists() \
        else made.path / "database.pgdump"
    data = bytearray(database.read_bytes())
    data[len(data) // 2] ^= 0x01
    database.write_bytes(bytes(data))
    with pytest.raises(BackupError, match="校验失败"):
        restore(get_settings(), target, PASSPHRASE)
    assert not (tmp_path / "new-machine" / "master.key").exists()


def test_a_restore_refuses_a_machine_that_already_holds_records(pipe, record, tmp_path):
    ingest(pipe, pdf(ADMISSION))
    backup(pipe.settings, tmp_path / "nas", PASSPHRASE)
    with pytest.raises(BackupError, match="已有病案"):
        restore(pipe.settings, tmp_path / "nas", PASSPHRASE)


def test_retention_keeps_the_newest_sets(pipe, record, tmp_path):
    from datetime import UTC, datetime, timedelta

    start = datetime(2026, 12, 1, tzinfo=UTC)
    made = [backup(pipe.settings, tmp_path / "nas", PASSPHRASE, keep=2, now=start + timedelta(days=day))
            for day in range(3)]
    assert list_sets(tmp_path / "nas") == [made[1].set_id, made[2].set_id]
    assert made[2].pruned == [made[0].set_id]


def test_a_short_passphrase_is_refused(pipe, tmp_path):
    with pytest.raises(BackupError, match="至少 12"):
        backup(pipe.settings, tmp_path / "nas", "short")


def test_the_backup_command_says_what_it_copied_and_needs_a_passphrase(pipe, record, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from bingan.cli import app

    ingest(pipe, pdf(ADMISSION))
    runner = CliRunner()
    refused = runner.invoke(app, ["backup", "--to", str(tmp_path / "nas")])
    assert refused.exit_code == 2 and "备份口令" in refused.output
    monkeypatch.setenv("BINGAN_BACKUP_PASSPHRASE", PASSPHRASE)
    reset_settings()
    done = runner.invoke(app, ["backup", "--to", str(tmp_path / "nas"), "--keep", "3"])
    assert done.exit_code == 0 and "备份完成" in done.output and "新复制文件" in done.output


def test_the_status_page_shows_the_latest_backup_and_a_failure(pipe, record, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from bingan.cli import app
    from bingan.web.status import backup_check

    assert "从未备份" in backup_check(pipe.engine).detail
    monkeypatch.setenv("BINGAN_BACKUP_PASSPHRASE", PASSPHRASE)
    reset_settings()
    assert CliRunner().invoke(app, ["backup", "--to", str(tmp_path / "nas")]).exit_code == 0
    done = backup_check(pipe.engine)
    assert done.ok and "新复制" in done.detail
    (tmp_path / "not-a-disk").write_text("a file where the NAS should be mounted")
    assert CliRunner().invoke(app, ["backup", "--to", str(tmp_path / "not-a-disk")]).exit_code == 1
    failed = backup_check(pipe.engine)
    assert not failed.ok and "备份失败" in failed.detail


def test_a_run_that_fails_halfway_leaves_no_set_and_the_next_run_completes(pipe, record, tmp_path):
    target = tmp_path / "nas"
    ingest(pipe, pdf(ADMISSION))
    first = backup(pipe.settings, target, PASSPHRASE)
    volume = parse_volumes(pipe.settings.blob_volumes, pipe.settings.resolved_home)[0].path
    (volume / "gone").symlink_to(volume / "nowhere")  # a file that vanishes while the run walks the volume
    with pytest.raises(FileNotFoundError):
        backup(pipe.settings, target, PASSPHRASE)
    assert [p for p in (target / "sets").iterdir() if p.name.endswith(".partial")]  # dump written, no manifest
    assert list_sets(target) == [first.set_id]
    (volume / "gone").unlink()
    ingest(pipe, pdf(DISCHARGE), doc_id="EMR-2", type_code="C0301")
    third = backup(pipe.settings, target, PASSPHRASE)
    assert list_sets(target) == [first.set_id, third.set_id]


def test_a_set_synced_with_syncfs_restores_bit_identical(pipe, record, empty_database, tmp_path, monkeypatch):
    """The drill's runs are small, so they fsync each file; a run beyond SYNC_EACH_MAX paths
    (a full backup of a real archive) takes the syncfs path instead."""
    monkeypatch.setattr(backup_module, "SYNC_EACH_MAX", 0)
    ingest(pipe, pdf(ADMISSION))
    made = backup(pipe.settings, tmp_path / "nas", PASSPHRASE)
    files = _volume_files(pipe.settings.resolved_home)
    monkeypatch.setenv("BINGAN_HOME", str(tmp_path / "new-machine"))
    monkeypatch.setenv("BINGAN_DATABASE_URL", empty_database)
    reset_settings()
    assert restore(get_settings(), tmp_path / "nas", PASSPHRASE) == made.set_id
    assert _volume_files(tmp_path / "new-machine") == files


def test_a_copy_notes_the_file_and_every_directory_that_gained_an_entry(tmp_path):
    source = tmp_path / "blob"
    source.write_bytes(b"encrypted bytes")
    (tmp_path / "nas" / "volumes").mkdir(parents=True)
    written = backup_module._Written()
    backup_module._copy_checked(source, tmp_path / "nas" / "volumes" / "0" / "ab" / "cd" / "blob", written)
    assert written.files == [str(tmp_path / "nas" / "volumes" / "0" / "ab" / "cd" / "blob")]
    assert written.directories == {str(tmp_path / "nas" / "volumes" / p) for p in ("", "0", "0/ab", "0/ab/cd")}
    backup_module._copy_checked(source, tmp_path / "nas" / "volumes" / "0" / "ab" / "ef" / "blob", written)
    assert written.directories == {str(tmp_path / "nas" / "volumes" / p)
                                   for p in ("", "0", "0/ab", "0/ab/cd", "0/ab/ef")}
