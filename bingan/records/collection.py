"""A record's collection picture (采集情况, D2): which source delivered what and when, what failed
and why — the collected items of the record, grouped per source."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from bingan.storage.models import CollectedItem, Record, Source
from bingan.storage.models.ingest import ACTIVE_ITEM_STATES

STATE_NAMES = {"pending": "等待采集", "fetched": "已获取", "stored": "已入库", "extracted": "已提取",
               "indexed": "已完成", "failed": "失败"}
TRANSPORT_NAMES = {"http_push": "推送接口", "http_pull": "拉取接口", "ftp": "FTP", "soap": "SOAP",
                   "folder": "共享目录", "basic_data": "基础数据", "upload": "手工上传", "scan": "纸质扫描"}
MAX_ITEMS = 500  # a record has tens of documents; an endless resend loop must not fill the page


@dataclass
class SourcePicture:
    source: Source
    items: list[CollectedItem] = field(default_factory=list)

    @property
    def delivered(self) -> int:
        return sum(item.state == "indexed" for item in self.items)

    @property
    def waiting(self) -> int:
        return sum(item.state in ACTIVE_ITEM_STATES for item in self.items)

    @property
    def failed(self) -> list[CollectedItem]:
        return [item for item in self.items if item.state == "failed"]

    @property
    def last_at(self) -> datetime | None:
        return max((item.updated_at or item.created_at for item in self.items), default=None)

    @property
    def transport_name(self) -> str:
        return TRANSPORT_NAMES.get(self.source.transport, self.source.transport)


def collection_picture(session: Session, record: Record) -> list[SourcePicture]:
    """Per source, newest first, the items of this record — also those that failed before they
    found it (no record yet: matched by record number and stay)."""
    items = session.scalars(
        sa.select(CollectedItem).options(selectinload(CollectedItem.source))
        .where(sa.or_(CollectedItem.record_id == record.id,
                      sa.and_(CollectedItem.record_id.is_(None), CollectedItem.record_number == record.record_number,
                              CollectedItem.stay == record.stay_number,
                              CollectedItem.visit_type == record.visit_type)))
        .order_by(CollectedItem.id.desc()).limit(MAX_ITEMS)
    ).all()
    pictures: dict[int, SourcePicture] = {}
    for item in items:
        pictures.setdefault(item.source_id, SourcePicture(item.source)).items.append(item)
    return sorted(pictures.values(), key=lambda p: p.source.name)


def state_name(state: str) -> str:
    return STATE_NAMES.get(state, state)
