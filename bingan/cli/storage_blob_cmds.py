"""Commands: find a record's files without the database (V3) and rotate the master key.

Both work from the settings alone (volumes + master key, or MongoDB for GridFS).
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bingan.cli.app import app
from bingan.config import get_settings
from bingan.storage.blobs.keys import parse_hex_key, rotate_master_key
from bingan.storage.blobs.port import BlobError, BlobStore, ManifestEntry, open_blob_store


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
            written = store.export_record(record_number, export)
            typer.echo(f"已解密导出 {len(written)} 个文件到 {export}")
    except BlobError as exc:
        _fail(exc)


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
