"""Storage commands: verify, backup, restore, tier-move, db-check."""
from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import typer

from bingan.cli.app import app
from bingan.config import get_settings
from bingan.storage.db import get_engine, session_factory


@app.command("verify")
def verify_command(
    collect_orphans: bool = typer.Option(False, "--collect", help="删除超过宽限期的孤立文件和临时文件"),
    grace: float = typer.Option(3600, help="宽限期 (秒)：更新的孤立文件可能正等待其数据行提交"),
    as_json: bool = typer.Option(False, "--json", help="以 JSON 输出"),
    no_rehash: bool = typer.Option(False, "--no-rehash", help="不重新计算每个文件的哈希 (快速检查)"),
) -> None:
    """校验全部文件与数据库：缺失、损坏、孤立文件、悬空记录、审计日志哈希链和归档签章；有问题时退出码非零。"""
    from bingan.access.audit import verify_chain
    from bingan.records.archive_signature.service import verify_all
    from bingan.records.tiers.service import tier_problems
    from bingan.storage.blobs.port import open_blob_store
    from bingan.storage.verify import collect, verify

    settings = get_settings()
    store = open_blob_store(settings)
    with session_factory(get_engine(settings))() as session:
        signatures = partial(verify_all, blobs=store, rehash=not no_rehash)
        tiers = partial(tier_problems, store=store)
        report = verify(session, store, rehash=not no_rehash, extra_checks=[verify_chain, signatures, tiers])
    if collect_orphans:
        removed = collect(store, report, min_age_seconds=grace)
        typer.echo(f"已回收 {removed} 个孤立文件")
    if as_json:
        typer.echo(json.dumps(report.__dict__ | {"ok": report.ok}, ensure_ascii=False, indent=2))
    else:
        _print_report(report)
    raise typer.Exit(0 if report.ok else 1)


def _print_report(report) -> None:
    typer.echo(f"已校验文件: {report.blobs_checked}")
    sections = [
        ("缺失 (数据库引用但文件不存在)", report.missing),
        ("损坏 (解密或哈希校验失败)", report.corrupt),
        ("悬空记录", report.dangling),
        ("其他问题", report.other),
        ("孤立文件 (无记录引用，可回收)", report.orphans),
        ("未完成写入的临时文件 (可回收)", report.temp_debris),
    ]
    for title, items in sections:
        if items:
            typer.echo(f"{title}: {len(items)}")
            for item in items[:50]:
                typer.echo(f"  {item}")
    typer.echo("结果: 正常" if report.ok else "结果: 发现问题")


def _passphrase(passphrase_file: Path | None) -> str:
    from bingan.storage.backup import BackupError, configured_passphrase

    if passphrase_file is not None:
        return passphrase_file.read_text().strip()
    try:
        return configured_passphrase(get_settings())
    except BackupError as exc:
        typer.echo(f"{exc}，或用 --passphrase-file 给出备份口令", err=True)
        raise typer.Exit(2) from exc


@app.command("backup")
def backup_command(
    to: Path = typer.Option(..., "--to", help="备份目录（挂载的 NAS 或第二块磁盘）"),
    keep: int = typer.Option(0, help="只保留最近 N 份备份（0 = 全部保留）"),
    passphrase_file: Path | None = typer.Option(None, help="备份口令文件（否则读 BINGAN_BACKUP_PASSPHRASE）"),
) -> None:
    """在线备份：数据库一致快照、存储卷增量复制（复制后逐个校验哈希）、用口令加密的密钥，附签名清单。"""
    from bingan.storage.backup import BackupError, backup

    settings, started = get_settings(), datetime.now(UTC)
    try:
        result = backup(settings, to, _passphrase(passphrase_file), keep=keep, now=started)
    except (BackupError, OSError) as exc:
        _remember_backup(settings, to, None, str(exc), started)
        typer.echo(f"备份失败：{exc}", err=True)
        raise typer.Exit(1) from exc
    _remember_backup(settings, to, result, "", started)
    typer.echo(f"备份完成：{result.path}")
    typer.echo(f"新复制文件 {result.copied_files} 个（{result.copied_bytes / 1048576:.1f} MiB），"
               f"存储卷文件共 {result.volume_files} 个，数据库 {result.database_bytes / 1048576:.1f} MiB")
    if result.pruned:
        typer.echo(f"已删除较旧的备份：{', '.join(result.pruned)}")


def _remember_backup(settings, target: Path, result, error: str, started: datetime) -> None:
    """The outcome on the status page; a failure also reaches whoever watches the system (站内消息)."""
    from bingan.records.backups import record_outcome

    with session_factory(get_engine(settings)).begin() as session:
        record_outcome(session, target, result, error, started)


@app.command("restore")
def restore_command(
    source: Path = typer.Option(..., "--from", help="备份目录"),
    backup_set: str = typer.Option("", "--set", help="备份编号（默认最新一份）"),
    passphrase_file: Path | None = typer.Option(None, help="备份口令文件（否则读 BINGAN_BACKUP_PASSPHRASE）"),
) -> None:
    """在空系统上恢复一份备份：校验签名与每个文件的哈希，恢复密钥、存储卷和数据库，再重建检索索引。"""
    from bingan.ingest.reindex import reindex
    from bingan.storage.backup import BackupError, restore
    from bingan.storage.migrate import upgrade

    settings = get_settings()
    try:
        restored = restore(settings, source, _passphrase(passphrase_file), backup_set)
    except BackupError as exc:
        typer.echo(f"恢复失败：{exc}", err=True)
        raise typer.Exit(1) from exc
    upgrade(get_engine(settings))  # a backup of an older release comes up to this one
    pages = reindex(settings, fresh=True)
    typer.echo(f"已恢复备份 {restored}，检索索引已重建（{pages} 页）。请运行 bingan verify 检查。")


@app.command("tier-move")
def tier_move_command(
    older_than_years: int = typer.Option(
        None, "--older-than-years", min=1,
        help="患者最后一次出院（或就诊）早于多少年的病案移入冷存储；默认 BINGAN_TIER_COLD_AFTER_YEARS"),
    limit: int = typer.Option(None, "--limit", min=1, help="本次最多移动的文件数；默认 BINGAN_TIER_MOVE_LIMIT"),
) -> None:
    """把旧病案的文件移到冷存储卷（复制、校验、切换记录、再删除热存储副本）；中断后再运行即可补完。"""
    from bingan.records.tiers.service import move_due
    from bingan.storage.blobs.port import BlobError, open_blob_store
    from bingan.storage.models import utcnow

    settings = get_settings()
    store = open_blob_store(settings)
    with session_factory(get_engine(settings))() as session:
        try:
            result = move_due(session, store, utcnow(), years=older_than_years, limit=limit)
        except BlobError as exc:
            typer.echo(f"错误: {exc}", err=True)
            raise typer.Exit(1) from None
    if result.finished or result.debris:
        typer.echo(f"补完上次中断的迁移 {result.finished} 个，清理临时文件 {result.debris} 个")
    typer.echo(f"已移入冷存储 {len(result.moved)} 个文件（{result.bytes / 1048576:.1f} MiB）")
    for failure in result.failed[:50]:
        typer.echo(f"  未移动: {failure}")
    raise typer.Exit(1 if result.failed else 0)


@app.command("db-check")
def db_check_command() -> None:
    """检查所配置的数据库是否支持病案系统用到的每一项 SQL 功能（国产数据库上线前与升级后运行）。

    缺少必需功能时退出码非零。"""
    from bingan.storage.compatibility import check, server_version

    engine = get_engine(get_settings())
    typer.echo(f"数据库：{server_version(engine)}")
    outcomes = check(engine)
    for outcome in outcomes:
        mark = "支持" if outcome.ok else ("不支持（必需）" if outcome.probe.required else "不支持（可选，自动跳过）")
        reason = "" if outcome.ok else f"：{outcome.detail}"
        typer.echo(f"  {mark}  {outcome.probe.name} — {outcome.probe.needed_by}{reason}")
    missing = [outcome for outcome in outcomes if not outcome.ok and outcome.probe.required]
    if missing:
        typer.echo(f"缺少 {len(missing)} 项必需功能，病案系统不能在此数据库上运行", err=True)
        raise typer.Exit(1)
    typer.echo("全部必需功能均支持")
