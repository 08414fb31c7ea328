"""Storage commands: verify."""
from __future__ import annotations

import json

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
    """校验全部文件与数据库：缺失、损坏、孤立文件、悬空记录和审计日志哈希链；有问题时退出码非零。"""
    from bingan.access.audit import verify_chain
    from bingan.storage.blobs.port import open_blob_store
    from bingan.storage.verify import collect, verify

    settings = get_settings()
    store = open_blob_store(settings)
    with session_factory(get_engine(settings))() as session:
        report = verify(session, store, rehash=not no_rehash, extra_checks=[verify_chain])
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
