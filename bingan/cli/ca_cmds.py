"""联机验证 (CA-service validation): `bingan ca-check` asks the CA again about the signing
certificates of stored signed documents."""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa
import typer

from bingan.cli.app import app
from bingan.config import get_settings
from bingan.storage.db import get_engine, transaction


@app.command("ca-check")
def ca_check(
    record: str = typer.Option("", "--record", help="病案号：只复核这份病案（各次住院）"),
    stay: int = typer.Option(0, "--stay", min=0, help="与 --record 同用：只复核这一次住院"),
    since: str = typer.Option("", "--since", help="只复核此日期（YYYY-MM-DD，含）以来采集的文书"),
) -> None:
    """联机复核已采集文书的电子签名证书（OCSP 或 CA 验证服务），结果记入文书签名面板；有证书已吊销时退出码为 1。"""
    from bingan.access.audit import Actor
    from bingan.clock import day_start
    from bingan.records.ca_validation import service
    from bingan.storage.blobs.port import BlobError, open_blob_store
    from bingan.storage.models import Document, Record, Version

    settings = get_settings()
    if not service.enabled(settings):
        typer.echo("联机验证未开启：请设置 BINGAN_CA_VALIDATION=ocsp 或 api", err=True)
        raise typer.Exit(2)
    if record and since:
        typer.echo("--record 与 --since 只能用其一", err=True)
        raise typer.Exit(2)
    try:
        moment = day_start(date.fromisoformat(since)) if since else None
    except ValueError:
        typer.echo(f"日期格式不正确：{since}（应为 YYYY-MM-DD）", err=True)
        raise typer.Exit(2) from None
    with transaction() as session:
        record_ids = None
        if record:
            query = sa.select(Record.id).where(Record.record_number == record)
            record_ids = list(session.scalars(query.where(Record.stay_number == stay) if stay else query))
            if not record_ids:
                typer.echo(f"找不到病案：{record}" + (f" 第{stay}次" if stay else ""), err=True)
                raise typer.Exit(1)
        targets = [(v.id, v.sha256, v.media_type, len(v.signatures))
                   for v in service.versions_to_check(session, record_ids=record_ids, since=moment)]
    blobs = open_blob_store(settings, create_key=False)
    cache = service.answer_cache(settings, get_engine(settings))
    actor, counts = Actor(None, "cli"), {}
    for version_id, sha256, media_type, signatures in targets:
        try:
            with blobs.open(sha256) as stream:
                data = stream.read()
        except BlobError as error:
            typer.echo(f"文书版本 {version_id} 的文件无法读取，跳过：{error}", err=True)
            continue
        # A re-check asks the CA now, whatever answer is kept, and keeps the new one for later documents.
        checks = service.check_file(settings, data, media_type, signatures, cache=cache, fresh=True)
        with transaction() as session:
            version = session.get(Version, version_id)
            document = session.get(Document, version.document_id)
            owner = session.get(Record, document.record_id)
            for row in service.store(session, actor, version, checks):
                counts[row.status] = counts.get(row.status, 0) + 1
                typer.echo(f"病案 {owner.record_number} 第{owner.stay_number}次《{document.title}》签名 "
                           f"{row.signature_index + 1}（{row.certificate_subject or '签名人不详'}）："
                           f"{service.online_label(row)}")
    offline = counts.get("unreachable", 0) + counts.get("rejected", 0)
    typer.echo(f"复核文书 {len(targets)} 份：有效 {counts.get('good', 0)}，已吊销 {counts.get('revoked', 0)}，"
               f"未知 {counts.get('unknown', 0)}，未能联机验证 {offline}")
    if counts.get("revoked"):
        raise typer.Exit(1)
