"""The record page's collection picture (采集情况, D2) and "re-collect this source for this record"."""
from __future__ import annotations

import re

import sqlalchemy as sa
from web_helpers import csrf_of

from bingan.storage.db import session_factory
from bingan.storage.models import AuditEvent, CollectedItem, Source


def _sources(web_engine, record) -> tuple[int, int]:
    """A pull source with one failed item of the record, a push source that delivered one."""
    with session_factory(web_engine)() as session, session.begin():
        pull = Source(name="LIS", title="检验系统", transport="http_pull", endpoint="http://lis.invalid")
        push = Source(name="EMR-PUSH", title="电子病历", transport="http_push")
        session.add_all([pull, push])
        session.flush()
        base = {"record_number": record.record_number, "stay": record.stay_number}
        session.add_all([
            CollectedItem(source_id=pull.id, source_document_id="R-1", title="血常规", state="failed",
                          resume_state="fetched", failure_code="format", failure_reason="文件无法解析：文件已损坏",
                          **base),
            CollectedItem(source_id=push.id, source_document_id="D-1", title="出院记录", state="indexed",
                          record_id=record.id, **base),
        ])
        return pull.id, push.id


def _recollect(client, record_id: int, source_id: int):
    token = csrf_of(client.get(f"/records/{record_id}").text)
    return client.post(f"/records/{record_id}/sources/{source_id}/recollect", data={"csrf_token": token},
                       follow_redirects=False)


def test_the_record_room_sees_per_source_what_arrived_and_what_failed_and_why(client_for, world, web_engine):
    record = world.records["normal"]
    _sources(web_engine, record)
    page = client_for("archivist").get(f"/records/{record.id}").text
    section = re.search(r'<section class="card" id="collection">(.*?)</section>', page, re.S).group(1)
    assert "LIS" in section and "失败 1" in section and "文件无法解析：文件已损坏" in section
    assert "EMR-PUSH" in section and "已完成 1" in section and "出院记录" in section


def test_a_reader_without_change_rights_sees_no_collection_picture(client_for, world, web_engine):
    record = world.records["normal"]
    _sources(web_engine, record)
    assert 'id="collection"' not in client_for("nurse").get(f"/records/{record.id}").text


def test_recollecting_a_pull_source_retries_its_failed_items_makes_it_due_and_is_audited(
        client_for, world, web_engine):
    record = world.records["normal"]
    pull_id, _ = _sources(web_engine, record)
    archivist = client_for("archivist")
    answer = _recollect(archivist, record.id, pull_id)
    assert answer.status_code == 303 and "#collection" in answer.headers["location"]
    with session_factory(web_engine)() as session:
        item = session.scalars(sa.select(CollectedItem).where(CollectedItem.source_id == pull_id)).one()
        assert item.state == "fetched" and item.next_attempt_at is not None
        assert session.get(Source, pull_id).next_run_at is not None
        event = session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "recollect")).one()
        assert event.record_id == record.id and event.detail["来源"] == "LIS"
    timeline = archivist.get(answer.headers["location"]).text
    assert "重新采集" in timeline and "1 个失败项已重新排队" in timeline


def test_a_push_source_with_nothing_failed_is_refused_with_what_to_do(client_for, world, web_engine):
    record = world.records["normal"]
    _, push_id = _sources(web_engine, record)
    answer = _recollect(client_for("archivist"), record.id, push_id)
    assert answer.status_code == 400 and "请在来源系统重新发送" in answer.text
