"""The administrator's status page (T2) and /healthz: components, versions, database, volumes, queue."""
from __future__ import annotations

import platform
import shutil
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import metadata
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from bingan import clock
from bingan.config import Settings
from bingan.search.port import SearchIndex
from bingan.storage.backup import LAST_RUN, STALE_AFTER_HOURS
from bingan.storage.capacity import Forecast, forecast
from bingan.storage.migrate import current_revision, head_revision
from bingan.storage.system_settings import read_setting

COMPONENT_PACKAGES = (
    "fastapi", "sqlalchemy", "alembic", "celery", "tantivy", "pypdfium2", "pikepdf",
    "rapidocr", "cryptography", "pymongo", "elasticsearch",
)


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def database_check(engine: Engine) -> Check:
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        revision = current_revision(engine)
    except Exception as exc:
        return Check("数据库", False, f"无法连接: {exc.__class__.__name__}")
    head = head_revision()
    if revision != head:
        return Check("数据库", False, f"结构版本 {revision}，需要迁移到 {head}（运行 bingan migrate）")
    return Check("数据库", True, f"{engine.dialect.name}，结构版本 {revision}")


def component_versions() -> list[tuple[str, str]]:
    rows = [("Python", platform.python_version()), ("Bingan", _version("bingan"))]
    rows += [(name, _version(name)) for name in COMPONENT_PACKAGES]
    rows += [(tool, _tool(tool)) for tool in ("tesseract", "ffmpeg", "libreoffice")]
    return rows


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "未安装"


def _tool(name: str) -> str:
    return "已安装" if shutil.which(name) else "未安装"


def disk_free(path: Path) -> tuple[int, int]:
    """(free, total) bytes of the file system holding path (or its nearest existing parent)."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    usage = shutil.disk_usage(probe)
    return usage.free, usage.total


def volumes_check(settings: Settings, engine: Engine, with_outlook: bool) -> tuple[Check, list[dict]]:
    """Blob volumes with their tier, free space and, from the daily samples, their outlook; unhealthy
    when no hot volume can take new files or one is 90 % full."""
    from bingan.storage.blobs.port import BlobError, open_blob_store

    try:
        statuses = open_blob_store(settings).volumes_status()
    except (BlobError, OSError) as exc:
        return Check("文件存储", False, str(exc)), []
    volumes = [{**status.__dict__, "outlook": None, "trend": ""} for status in statuses]
    if with_outlook:
        today = clock.local_date(clock.now())
        with Session(engine) as session:
            for row, status in zip(volumes, statuses, strict=True):
                row["outlook"] = forecast(session, status, today)
                row["trend"] = trend_points(row["outlook"])
    writable = [v for v in volumes if v["mode"] == "rw" and v["tier"] == "hot"]
    if settings.blob_backend == "local" and not writable:
        return Check("文件存储", False, "没有可写入的热存储卷（新文件只写入热存储卷）"), volumes
    full = [v["path"] for v in volumes if v["outlook"] is not None and v["outlook"].level == "alert"]
    if full:
        return Check("文件存储", False, f"存储卷已用 90% 以上：{'，'.join(full)}"), volumes
    cold = sum(1 for v in volumes if v["tier"] == "cold")
    tiers = f"（热存储 {len(volumes) - cold} 个，冷存储 {cold} 个）" if cold else ""
    return Check("文件存储", True, f"{settings.blob_backend}，{len(volumes)} 个存储卷{tiers}"), volumes


def trend_points(outlook: Forecast, width: int = 120, height: int = 24) -> str:
    """The used bytes of the sampled days as SVG polyline points (a sparkline on the status page)."""
    if len(outlook.history) < 2 or not outlook.size:
        return ""
    first = outlook.history[0][0]
    span = max((outlook.history[-1][0] - first).days, 1)
    return " ".join(f"{(day - first).days * width / span:.1f},{height - used * height / outlook.size:.1f}"
                    for day, used in outlook.history)


QUEUE_STATES = {
    "pending": "待采集", "fetched": "已获取", "stored": "已存储", "extracted": "已抽取",
    "indexed": "已索引", "failed": "失败",
}


def queue_counts(engine: Engine) -> dict[str, int]:
    """Collected items by pipeline state (the database holds the queue's truth)."""
    from bingan.storage.models.ingest import CollectedItem

    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(CollectedItem.state, sa.func.count()).group_by(CollectedItem.state)
        ).all()
    return {QUEUE_STATES.get(state, state): count for state, count in rows}


def search_check(index: SearchIndex | None) -> Check:
    """A rebuild after a schema upgrade is shown, not counted against health: it runs by itself."""
    if index is None:
        return Check("检索索引", True, "尚未打开")
    try:
        pages = index.count
        rebuilding = index.needs_rebuild()
    except Exception as exc:
        return Check("检索索引", False, f"无法读取: {exc.__class__.__name__}")
    if rebuilding:
        return Check("检索索引", False, f"升级后正在从数据库重建（已完成 {pages} 页，后台自动进行）")
    return Check("检索索引", True, f"{pages} 页")


def backup_check(engine: Engine) -> Check:
    """The latest `bingan backup` run: failed, missing or older than a missed night is a problem."""
    with Session(engine) as session:
        last = read_setting(session, LAST_RUN)
    if not last:
        return Check("备份", False, "从未备份：请在“系统设置 › 定时备份”中设置每天备份")
    at = datetime.fromisoformat(last["at"])
    when = clock.local(at).strftime("%Y-%m-%d %H:%M")
    if not last["ok"]:
        return Check("备份", False, f"{when} 备份失败：{last['error']}")
    detail = (f"{when} 备份到 {last['target']}（新复制 {last['copied_files']} 个文件，"
              f"{last['copied_bytes'] / 1048576:.1f} MiB）")
    if clock.now() - at > timedelta(hours=STALE_AFTER_HOURS):
        return Check("备份", False, f"超过 {STALE_AFTER_HOURS} 小时没有新的备份；最近一次：{detail}")
    return Check("备份", True, detail)


def status_report(settings: Settings, engine: Engine, index: SearchIndex | None = None) -> dict:
    """Everything the status page shows, as plain data (also served as JSON)."""
    database = database_check(engine)
    volumes, volume_rows = volumes_check(settings, engine, with_outlook=database.ok)
    home_free, home_total = disk_free(settings.resolved_home)
    return {
        "healthy": database.ok and volumes.ok,
        "checks": [database.__dict__, volumes.__dict__, search_check(index).__dict__,
                   *([backup_check(engine).__dict__] if database.ok else [])],
        "volumes": volume_rows,
        "queue": queue_counts(engine) if database.ok else {},
        "components": component_versions(),
        "settings": {
            "数据目录": str(settings.resolved_home),
            "数据库": engine.url.render_as_string(hide_password=True),
            "文件存储": settings.blob_backend,
            "加密算法": settings.cipher,
            "检索引擎": settings.search_backend,
            "任务队列": settings.resolved_broker_url.split("://")[0],
        },
        "home_disk": {"free": home_free, "total": home_total},
        "python": sys.version.split()[0],
    }
