"""Commands: find a record's files without the database (V3) and rotate the master key.

Both work from the settings alone (volumes + master key, or MongoDB for GridFS).
"""
from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError

from bingan.access.audit import Actor, record_event
from bingan.cli.app import app
from bingan.config import Settings, get_settings
from bingan.storage.blobs.keys import parse_hex_key, rotate_master_key
from bingan.storage.blobs.port import BlobError, BlobStore, ManifestEntry, open_blob_store
from bingan.storage.db import get_engine, session_factory
from bingan.storage.models import utcnow


def _store() -> BlobStore:
    try:
        return open_blob_store(get_settings(), create_key=False)
    except BlobError as exc:
        _fail(exc)
        raise  # unreachable: _fail exits


def _fail(exc: BlobError) -> None:
    typer.echo(f"错误: {exc}", err=True)
    raise typer.Exit(1)


def _line(entry: ManifestEntry) -> str:
    stay = f"第{entry.stay}次" if entry.stay is not None else "-"
    where = str(entry.found_at) if entry.found_at else entry.path
    return (f"{stay}\t{entry.filename}\t{entry.document_type or '-'}\t{entry.size}\t"
            f"{entry.stored_at}\t{entry.sha256}\t{where}")


@app.command("locate")
def locate_command(
    record_number: Annotated[str, typer.Argument(help="病案号")],
    export: Annotated[Path | None, typer.Option("--export", help="把该病案的文件解密导出到此目录")] = None,
) -> None:
    """按病案号列出卷上的文件（不需要数据库），可解密导出。"""
    store = _store()
    try:
        entries = store.locate(record_number)
        if not entries:
            typer.echo(f"没有找到病案号 {record_number} 的文件")
            raise typer.Exit(1)
        typer.echo("住院次数\t文件名\t文档类型\t大小\t存储时间\tSHA-256\t位置")
        for entry in entries:
            typer.echo(_line(entry))
        if export is not None:
            _audit_export(get_settings(), record_number, export)
            written = store.export_record(record_number, export)
            typer.echo(f"已解密导出 {len(written)} 个文件到 {export}")
    except BlobError as exc:
        _fail(exc)


def _audit_export(settings: Settings, record_number: str, target: Path) -> None:
    """Decrypting a patient's files outside the application is a read of patient data: audited in
    the database before the export, or — when the database is what was lost (V3) — in
    HOME/logs/locate-export.log, so the export still works and still leaves a trace."""
    who = getpass.getuser()
    detail = {"病案号": record_number, "导出到": str(target.resolve()), "系统用户": who}
    try:
        if not _database_exists(settings):
            raise SQLAlchemyError("no database")
        with session_factory(get_engine(settings))() as session, session.begin():
            record_event(session, Actor(None, f"命令行:{who}"[:64], "本机"), "locate_export",
                         object_type="record", object_id=record_number, detail=detail)
    except SQLAlchemyError:
        settings.log_dir.mkdir(parents=True, exist_ok=True)
        with (settings.log_dir / "locate-export.log").open("a", encoding="utf-8") as log:
            log.write(json.dumps({"at": utcnow().isoformat(), **detail}, ensure_ascii=False) + "\n")
        typer.echo(f"注意: 数据库不可用，本次导出记录在 {settings.log_dir / 'locate-export.log'}", err=True)


def _database_exists(settings: Settings) -> bool:
    """Connecting to a missing SQLite file would create an empty database: look first."""
    url = settings.resolved_database_url
    return not url.startswith("sqlite:///") or Path(url.removeprefix("sqlite:///")).is_file()


@app.command("rotate-key")
def rotate_key_command(
    new_key: Annotated[str | None, typer.Option(
        "--new-key", help="新主密钥（64 位十六进制）；主密钥来自 BINGAN_MASTER_KEY 时必填")] = None,
) -> None:
    """更换主密钥：重新加密每个数据密钥，不改写文件内容；中断后重新运行即可完成。"""
    store = _store()

    def progress(done: int) -> None:
        if done % 1000 == 0:
            typer.echo(f"已重新加密 {done} 个数据密钥…")

    try:
        key = parse_hex_key(new_key, "--new-key") if new_key else None
        # The authenticator secrets in the database are sealed with the same key (sealed_secrets).
        from bingan.access.sealed_secrets import WithSealedSecrets
        from bingan.storage.db import get_engine

        rotate_master_key(WithSealedSecrets(store, get_engine()), key, progress=progress, echo=typer.echo)
    except BlobError as exc:
        _fail(exc)
