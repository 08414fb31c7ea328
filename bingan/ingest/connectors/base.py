"""The connector interface and the helpers every pull connector shares."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from bingan.ingest.errors import PermanentFailure, TransientFailure
from bingan.ingest.items import Report
from bingan.storage.models import CollectedItem, Source

if TYPE_CHECKING:
    from bingan.ingest.pipeline import Pipeline


@dataclass
class Discovery:
    reports: list[Report] = field(default_factory=list)
    cursor: str = ""


class Connector(Protocol):
    def discover(self, pipe: Pipeline, source: Source, cursor: str) -> Discovery: ...

    def fetch(self, pipe: Pipeline, source: Source, item: CollectedItem, dest: Path) -> None: ...


class NoFetch:
    """Sources whose bytes arrive with the report (push, folder, manual)."""

    def discover(self, pipe: Pipeline, source: Source, cursor: str) -> Discovery:
        return Discovery(cursor=cursor)

    def fetch(self, pipe: Pipeline, source: Source, item: CollectedItem, dest: Path) -> None:
        raise PermanentFailure("staged_missing", f"来源“{source.name}”的文件只能由对方推送或重新上传，无法主动获取")


def unreachable(source: Source, exc: Exception) -> TransientFailure:
    return TransientFailure("peer_unreachable", f"无法连接来源“{source.name}”：{exc.__class__.__name__}", repr(exc))


def gone(source: Source, document_id: str) -> PermanentFailure:
    return PermanentFailure("peer_missing", f"来源“{source.name}”中已找不到文书 {document_id}")
