"""Re-collect one source for one record (重新采集, D2), asked for on the record page.

Failed items of the record from that source go back to where they stopped; a pull source is
also made due now, so its ordinary run fetches what changed at the source. The sweeper sends the
retried items to the workers within one sweep interval (nothing is sent before the commit).
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.access.audit import Actor, record_event
from bingan.errors import NotFound, Refusal
from bingan.ingest.pipeline import retry_items
from bingan.ingest.scheduler import PULL_TRANSPORTS
from bingan.records.collection import collection_picture
from bingan.storage.models import Record, Source, utcnow


def recollect(session: Session, actor: Actor, record: Record, source_id: int) -> str:
    """Queue the re-collection; returns what was done, in Chinese. Refused when nothing can be
    asked of the source (a push interface with nothing failed: the source system must resend)."""
    source = session.get(Source, source_id)
    if source is None:
        raise NotFound("采集来源不存在")
    picture = next((p for p in collection_picture(session, record) if p.source.id == source.id), None)
    failed = [item.id for item in picture.failed] if picture else []
    retried = retry_items(session, failed) if failed else []
    pulled = source.enabled and source.transport in PULL_TRANSPORTS
    if not retried and not pulled:
        raise Refusal(f"来源“{source.name}”没有失败的采集项，且为推送接口（或已停用）："
                      "请在来源系统重新发送该病案的文书")
    if pulled:
        session.execute(sa.update(Source).where(Source.id == source.id).values(next_run_at=utcnow())
                        .execution_options(synchronize_session=False))
    done = "；".join(filter(None, [f"{len(retried)} 个失败项已重新排队" if retried else "",
                                   "已安排立即从来源拉取" if pulled else ""]))
    record_event(session, actor, "recollect", object_type="source", object_id=source.id, record_id=record.id,
                 detail={"来源": source.name, "结果": done})
    return done
