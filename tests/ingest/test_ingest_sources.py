"""Source schedules as data: rate limit, collection delay after discharge, re-collection window, withdrawal."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from ingest_support import ADMISSION, count, pdf
from peers.emr import EmrState, make_app
from peers.loopback import Served
from test_ingest_connectors import add_source, settle

from bingan.ingest.items import Report
from bingan.ingest.pipeline import process_item, run_until_settled
from bingan.ingest.runs import enqueue_reports, run_source
from bingan.search.port import Scope
from bingan.storage.models import CollectedItem, Document, Record, Source, Version, utcnow


def discharge(pipe, number: str, ago: timedelta) -> None:
    with pipe.tx() as session:
        session.scalars(sa.select(Record).where(Record.record_number == number)).one().discharged_at = utcnow() - ago


def items(pipe) -> list[CollectedItem]:
    with pipe.tx() as session:
        found = list(session.scalars(sa.select(CollectedItem).order_by(CollectedItem.id)))
        session.expunge_all()
        return found


def test_rate_limit_holds_fetches_beyond_the_limit_per_minute(pipe, record):
    emr = EmrState()
    with Served(make_app(emr)) as url:
        source_id = add_source(pipe, name="emr", kind="emr", transport="http_pull", endpoint=url,
                               rate_limit_per_minute=2)
        for n in range(3):
            emr.put(f"D{n}", pdf([[f"病程记录 第{n}份"]]), record_number=record, stay=1, type="C0302")
        assert run_source(pipe, source_id) == 3
        ids = [item.id for item in items(pipe)]
        assert [process_item(pipe, i) for i in ids] == ["indexed", "indexed", "retry"]
    held = items(pipe)[2]
    assert (held.state, held.failure_code, held.retry_count) == ("pending", "rate_limited", 0)
    assert "每分钟 2 个" in held.failure_reason and held.next_attempt_at is not None
    assert emr.fetches == 2  # the third document was not fetched at all


def test_collection_waits_for_the_delay_after_discharge(pipe, record):
    discharge(pipe, record, timedelta(hours=2))
    source_id = add_source(pipe, name="emr", transport="http_pull", endpoint="http://127.0.0.1:9",
                           collection_delay_hours=24)
    with pipe.tx() as session:
        source = session.get(Source, source_id)
        [item_id] = enqueue_reports(session, source, [Report("D1", record, 1, "C0201", "r1")], None)
    [item] = items(pipe)
    expected = utcnow() + timedelta(hours=22)
    assert abs((item.next_attempt_at.replace(tzinfo=expected.tzinfo) - expected).total_seconds()) < 60
    # Not due yet: a run in this process leaves it untouched (no fetch, no failure).
    assert run_until_settled(pipe, [item_id], timeout=0.5) == {item_id: "pending"}
    assert items(pipe)[0].failure_code == ""


def test_recollection_stops_after_the_window_and_delay_is_over_before(pipe, record):
    source_id = add_source(pipe, name="emr", transport="http_pull", endpoint="http://127.0.0.1:9",
                           collection_delay_hours=24, recollect_days=30)
    with pipe.tx() as session:
        source = session.get(Source, source_id)
        discharge_at = session.scalars(sa.select(Record)).one()
        discharge_at.discharged_at = utcnow() - timedelta(days=5)
        session.flush()
        inside = enqueue_reports(session, source, [Report("D1", record, 1, "C0201", "r1")], None)
        discharge_at.discharged_at = utcnow() - timedelta(days=31)
        session.flush()
        outside = enqueue_reports(session, source, [Report("D1", record, 1, "C0201", "r2")], None)
    assert len(inside) == 1 and outside == []
    assert [(i.revision, i.next_attempt_at) for i in items(pipe)] == [("r1", None)]  # 5 days: delay over, due now


def test_a_withdrawn_document_is_marked_removed_and_leaves_the_index(pipe, record):
    emr = EmrState()
    with Served(make_app(emr)) as url:
        source_id = add_source(pipe, name="emr", kind="emr", transport="http_pull", endpoint=url)
        emr.put("D1", pdf(ADMISSION), record_number=record, stay=1, type="C0201")
        emr.put("D2", pdf([["出院记录", "出院诊断：社区获得性肺炎。"]]), record_number=record, stay=1, type="C1401")
        assert run_source(pipe, source_id) == 2 and set(settle(pipe).values()) == {"indexed"}
        assert pipe.index.search("肺炎", Scope.everything()).total == 2
        emr.remove("D1")
        assert run_source(pipe, source_id) == 1
        assert set(settle(pipe).values()) == {"indexed"}
        assert run_source(pipe, source_id) == 0  # reported once
    with pipe.tx() as session:
        removed = session.scalars(sa.select(Document).where(Document.source_document_id == "D1")).one()
        assert removed.removed and removed.current_version.number == 1  # versions kept (retention)
        assert not session.scalars(sa.select(Document).where(Document.source_document_id == "D2")).one().removed
    assert count(pipe, Version) == 2  # a removal makes no version
    hits = pipe.index.search("肺炎", Scope.everything())
    assert hits.total == 1 and hits.records[0].hits[0].document_type_name == "出院记录"
    assert pipe.index.search("咳痰", Scope.everything()).total == 0
