"""The administrator's status page (T2) and /healthz: components, versions, database, volumes, queue."""
from __future__ import annotations

import platform
import shutil
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import Engine

from bingan.config import Settings
from bingan.search.port import SearchIndex
from bingan.storage.migrate import current_revision, head_revision

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


def volumes_check(settings: Settings) -> tuple[Check, list[dict]]:
    """Blob volumes with free space; unhealthy when no volume can take new files."""
    from bingan.storage.blobs.port import BlobError, open_blob_store

    try:
        volumes = [v.__dict__ for v in open_blob_store(settings).volumes_status()]
    except (BlobError, OSError) as exc:
        return Check("文件存储", False, str(exc)), []
    writable = [v for v in volumes if v["mode"] == "rw"]
    if settings.blob_backend == "local" and not writable:
        return Check("文件存储", False, "没有可写入的存储卷"), volumes
    return Check("文件存储", True, f"{settings.blob_backend}，{len(volumes)} 个存储卷"), volumes


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


def status_report(settings: Settings, engine: Engine, index: SearchIndex | None = None) -> dict:
    """Everything the status page shows, as plain data (also served as JSON)."""
    database = database_check(engine)
    volumes, volume_rows = volumes_check(settings)
    home_free, home_total = disk_free(settings.resolved_home)
    return {
        "healthy": database.ok and volumes.ok,
        "checks": [database.__dict__, volumes.__dict__, search_check(index).__dict__],
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
