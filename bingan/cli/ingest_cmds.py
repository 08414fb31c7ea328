"""Commands of the collection pipeline: ingest, search, demo, worker, beat, reindex, ingest retry."""
from __future__ import annotations

import json
import shutil
import time
import uuid
from pathlib import Path

import typer

from bingan.cli.app import app
from bingan.config import get_settings


@app.command()
def ingest(
    target: str = typer.Argument(..., help="要导入的文件；或 retry 重试失败条目"),
    item_ids: list[int] = typer.Argument(None, help="retry 时：条目编号"),
    record: str = typer.Option("", "--record", help="病案号"),
    stay: int = typer.Option(1, "--stay", min=1, help="住院次数"),
    document_type: str = typer.Option("", "--type", help="文书类型代码或名称，如 C0201 或 入院记录"),
    source: str = typer.Option("", "--source", help="来源名称（默认：手工导入）"),
    document_id: str = typer.Option("", "--id", help="文书编号（默认：文件名）"),
    all_failed: bool = typer.Option(False, "--all-failed", help="retry 时：重试全部失败条目"),
) -> None:
    """导入一个文件（历史扫描件等），处理到已入索引或失败为止；`bingan ingest retry ID…|--all-failed` 重试。"""
    if target == "retry":
        ingest_retry(item_ids or [], all_failed)
        return
    path = Path(target)
    if not path.is_file():
        typer.echo(f"找不到文件：{path}", err=True)
        raise typer.Exit(1)
    if not record or not document_type:
        typer.echo("请用 --record 指定病案号、--type 指定文书类型", err=True)
        raise typer.Exit(2)
    ingest_file(path, record, stay, document_type, source, document_id)


def ingest_file(path: Path, record: str, stay: int, document_type: str, source: str, document_id: str) -> None:
    from bingan.ingest.items import Report, enqueue, manual_source, source_named
    from bingan.ingest.pipeline import Pipeline, run_until_settled
    from bingan.storage.models import CollectedItem

    pipe = Pipeline()
    staged = pipe.staging / f"cli-{uuid.uuid4().hex}"
    shutil.copyfile(path, staged)
    with pipe.tx() as session:
        src = source_named(session, source) if source else manual_source(session)
        if src is None:
            staged.unlink()
            typer.echo(f"导入失败：找不到来源“{source}”", err=True)
            raise typer.Exit(1)
        report = Report(source_document_id=document_id or path.name, record_number=record, stay=stay,
                        document_type_code=document_type, revision=_sha256(staged), filename=path.name,
                        title=path.stem, origin="scanned")
        item, created = enqueue(session, src, report, staged_path=str(staged))
        item_id = item.id
    if not created:
        staged.unlink(missing_ok=True)
    state = run_until_settled(pipe, [item_id]).get(item_id, "pending")
    with pipe.tx() as session:
        item = session.get(CollectedItem, item_id)
        reason, version_id, new = item.failure_reason, item.version_id, item.new_version
    pipe.close()
    if state != "indexed":
        typer.echo(f"导入失败（条目 {item_id}）：{reason or state}", err=True)
        raise typer.Exit(1)
    typer.echo(f"已导入并入索引（条目 {item_id}，版本 {version_id}{'' if new else '，内容与已有版本相同'}）")


def _sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def ingest_retry(item_ids: list[int], all_failed: bool) -> None:
    """把失败的采集条目放回队列，从失败处继续。"""
    from bingan.ingest.pipeline import Pipeline, retry_items
    from bingan.ingest.scheduler import kick

    if not item_ids and not all_failed:
        typer.echo("请指定条目编号，或使用 --all-failed", err=True)
        raise typer.Exit(2)
    pipe = Pipeline()
    with pipe.tx() as session:
        retried = retry_items(session, None if all_failed else item_ids)
    kick(retried)
    typer.echo(f"已重新排队 {len(retried)} 个条目")


@app.command()
def worker(concurrency: int = typer.Option(1, help="线程数（2 核机器建议 1–2）")) -> None:
    """启动采集后台进程 (Celery worker)。"""
    from bingan.worker.tasks import celery_app

    pool = "solo" if concurrency <= 1 else "threads"
    celery_app.worker_main(["worker", f"--pool={pool}", f"--concurrency={concurrency}", "--loglevel=INFO",
                            "--without-gossip", "--without-mingle", "--without-heartbeat"])


@app.command()
def beat() -> None:
    """启动定时器：清扫卡住的条目、按来源计划启动采集（计划保存在数据库中）。"""
    from bingan.ingest.options import get_options
    from bingan.ingest.pipeline import Pipeline
    from bingan.worker.tick import tick

    pipe = Pipeline()
    typer.echo(f"采集定时器已启动，每 {get_options().sweep_seconds:g} 秒检查一次")
    while True:
        try:
            tick(pipe)
        except Exception as exc:  # a database hiccup must not stop the schedule
            typer.echo(f"定时检查出错：{exc}", err=True)
        time.sleep(get_options().sweep_seconds)


@app.command()
def reindex(
    batch: int = typer.Option(500, help="每批版本数"),
    fresh: bool = typer.Option(False, "--fresh", help="清空索引后从头重建"),
) -> None:
    """从数据库重建检索索引（分批、内存有界、可断点续做）。"""
    from bingan.ingest.reindex import reindex as run

    pages = run(get_settings(), batch=batch, fresh=fresh, progress=lambda n: typer.echo(f"已索引 {n} 页"))
    typer.echo(f"重建完成，共 {pages} 页")


@app.command()
def demo(
    records: int = typer.Option(200, "--records", help="病案数"),
    seed: int = typer.Option(2026, help="随机种子（相同种子生成相同数据）"),
    scanned: int = typer.Option(0, help="其中带扫描页（需 OCR）的病案数"),
) -> None:
    """生成并导入演示病案（走真实采集流程）。"""
    from bingan.ingest.demo_load import load_demo
    from bingan.ingest.pipeline import Pipeline
    from bingan.storage.migrate import upgrade

    pipe = Pipeline()
    upgrade(pipe.engine)
    counts = load_demo(pipe, records, seed=seed, scanned=scanned)
    pipe.close()
    typer.echo("演示数据已导入：" + "，".join(f"{k} {v}" for k, v in sorted(counts.items())))


@app.command()
def search(
    query: str = typer.Argument(..., help="检索式，如 肺炎 -糖尿病 或 病案号:0100001"),
    as_json: bool = typer.Option(False, "--json", help="输出 JSON"),
    as_user: str = typer.Option("", "--as", help="以该用户的权限检索（默认：不受限的运维视角）"),
    limit: int = typer.Option(20, help="最多返回病案数"),
    client_ip: str = typer.Option("127.0.0.1", "--ip", help="与 --as 同用：按该客户端地址判断 IP 限制"),
) -> None:
    """全文检索，按病案分组；--as 时与界面检索同一权限规则 (access.policy.scope_for)。"""
    from bingan.ingest.scope import scope_for_username
    from bingan.search.factory import open_search_index
    from bingan.storage.db import get_engine, transaction

    try:
        with transaction(get_engine()) as session:
            scope = scope_for_username(session, as_user, client_ip)
    except LookupError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    result = open_search_index(get_settings()).search(query, scope, limit=limit)
    out = {"total": result.total, "records": [
        {"record_number": r.record_number, "stay": r.stay,
         "hits": [{"document": h.document_type_name, "page": h.page, "snippet": h.snippet} for h in r.hits]}
        for r in result.records]}
    if as_json:
        typer.echo(json.dumps(out, ensure_ascii=False))
        return
    typer.echo(f"共 {result.total} 页命中")
    for record in out["records"]:
        typer.echo(f"病案号 {record['record_number']} 第{record['stay']}次")
        for hit in record["hits"]:
            typer.echo(f"  {hit['document']} 第{hit['page']}页：{hit['snippet']}")
