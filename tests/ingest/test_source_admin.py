"""Sources edited on screen (采集源管理), as the service behaves on SQLite and PostgreSQL: settings with
run periods, write-only credentials, push keys shown once, 立即采集, code mappings fed by the unmapped
codes met so far, record-number aliases and their sync, the completion round, the visit type."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
import sqlalchemy as sa
from peers.emr import EmrState, make_app
from peers.loopback import Served

from bingan.access.audit import Actor
from bingan.clock import instant
from bingan.config import get_settings
from bingan.errors import Conflict, Refusal
from bingan.ingest import record_aliases, source_admin
from bingan.ingest.completion import plan_round, start_due_rounds
from bingan.ingest.connectors.http_pull import report_from
from bingan.ingest.items import Report, enqueue
from bingan.ingest.resolve import TYPE_UNKNOWN
from bingan.ingest.scheduler import due_sources
from bingan.ingest.secrets import hash_api_key, open_credentials
from bingan.records.patients import canonical_record_number
from bingan.storage.models import (
    AuditEvent,
    CollectedItem,
    CollectionRound,
    DocumentType,
    Patient,
    Record,
    RecordNumberAlias,
    Source,
    utcnow,
)

ADMIN = Actor(None, "u_sysadmin", "10.0.0.1")
EMR = source_admin.SourceInput(name="emr", title="电子病历系统", kind="emr", transport="http_pull",
                               endpoint="http://emr.hospital.local/api", credentials={"username": "bingan",
                                                                                      "password": "S3cret!"})


def create(session, data: source_admin.SourceInput = EMR) -> Source:
    source = source_admin.create_source(session, get_settings(), ADMIN, data)
    session.commit()
    return source


def test_a_new_source_keeps_its_credentials_sealed_and_shows_only_which_are_set(session):
    source = create(session)
    assert "S3cret!" not in source.credentials and source.credentials
    assert open_credentials(get_settings(), source.credentials) == {"username": "bingan", "password": "S3cret!"}
    shown = source_admin.source_json(get_settings(), session, source)
    assert shown["credentials_set"] == ["username", "password"] and "S3cret!" not in str(shown)
    assert session.scalar(sa.select(AuditEvent.action).where(AuditEvent.object_type == "source")) == "source_create"


def test_blank_credentials_keep_the_stored_ones_and_a_typed_one_replaces_only_itself(session):
    source = create(session)
    change = replace(source_admin.input_of(source), credentials={"password": "", "token": "t0k"})
    source_admin.update_source(session, get_settings(), ADMIN, source.id, change)
    assert open_credentials(get_settings(), source.credentials) == {"username": "bingan", "password": "S3cret!",
                                                                    "token": "t0k"}
    cleared = replace(source_admin.input_of(source), clear_credentials=True)
    source_admin.update_source(session, get_settings(), ADMIN, source.id, cleared)
    assert source.credentials == "" and source_admin.credentials_set(get_settings(), source) == []


@pytest.mark.parametrize(("data", "reason"), [
    (replace(EMR, name="电子病历"), "来源代码须以字母开头"),
    (replace(EMR, endpoint=""), "请填写地址"),
    (replace(EMR, transport="ftp"), "ftp://主机:21/目录"),
    (replace(EMR, interval_minutes=0), "采集间隔（分钟）须在 1–10080 之间"),
    (replace(EMR, periods=[{"days": [8], "start": "22:00", "end": "06:00"}]), "星期须为 1–7"),
    (replace(EMR, campus_id=999999), "院区不存在"),
])
def test_a_malformed_source_is_refused_in_chinese_and_nothing_is_created(session, data, reason):
    with pytest.raises(Refusal, match=reason):
        source_admin.create_source(session, get_settings(), ADMIN, data)
    session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(Source)) == 0


def test_a_source_code_is_used_once(session):
    create(session)
    with pytest.raises(Conflict, match="已被使用"):
        source_admin.create_source(session, get_settings(), ADMIN, replace(EMR, title="另一个"))


def test_run_periods_are_typed_one_a_line_and_read_back_the_same():
    text = "1-5 22:00-06:00\n6,7 00:00-24:00\n每天 12:00-13:30"
    periods = source_admin.parse_periods(text)
    assert periods == [{"days": [1, 2, 3, 4, 5], "start": "22:00", "end": "06:00"},
                       {"days": [6, 7], "start": "00:00", "end": "24:00"},
                       {"days": [1, 2, 3, 4, 5, 6, 7], "start": "12:00", "end": "13:30"}]
    assert source_admin.format_periods(periods) == text
    with pytest.raises(Refusal, match="格式不正确"):
        source_admin.parse_periods("周一 22:00")
    with pytest.raises(Refusal, match="HH:MM"):
        source_admin.parse_periods("1 25:00-26:00")


def test_a_push_key_is_shown_once_rotated_and_revoked(session):
    source = create(session, replace(EMR, name="lis", transport="http_push", endpoint="", credentials={}))
    first = source_admin.issue_key(session, ADMIN, source.id)
    assert first.startswith("bgk_") and source.api_key_hash == hash_api_key(first)  # only its hash is kept
    second = source_admin.issue_key(session, ADMIN, source.id)
    assert source.api_key_hash == hash_api_key(second) != hash_api_key(first)  # the old key stops at once
    source_admin.revoke_key(session, ADMIN, source.id)
    assert source.api_key_hash == ""
    with pytest.raises(Conflict, match="没有有效的 API 密钥"):
        source_admin.revoke_key(session, ADMIN, source.id)
    actions = session.scalars(sa.select(AuditEvent.action).where(AuditEvent.action.like("source_key%"))).all()
    assert sorted(actions) == ["source_key_create", "source_key_revoke", "source_key_rotate"]


def test_only_a_push_source_gets_a_key(session):
    source = create(session)
    with pytest.raises(Refusal, match="只有推送方式"):
        source_admin.issue_key(session, ADMIN, source.id)


def test_run_now_makes_a_pull_source_due_and_refuses_a_push_or_disabled_one(session):
    source = create(session)
    source.next_run_at = utcnow() + timedelta(days=1)
    source_admin.run_now(session, ADMIN, source.id)
    assert source.next_run_at <= utcnow()
    push = create(session, replace(EMR, name="ecg", transport="http_push", endpoint=""))
    with pytest.raises(Refusal, match="推送接口"):
        source_admin.run_now(session, ADMIN, push.id)
    source.enabled = False
    with pytest.raises(Conflict, match="已停用"):
        source_admin.run_now(session, ADMIN, source.id)


def _failed_item(session, source: Source, code: str, n: int) -> CollectedItem:
    item, _ = enqueue(session, source, Report(source_document_id=f"D{n}", record_number="0000001",
                                              document_type_code=code, title=f"文书{n}", revision="r1"))
    item.state, item.failure_code, item.failure_reason = "failed", TYPE_UNKNOWN, "无法识别文书类型"
    return item


def test_unmapped_codes_are_listed_and_mapping_one_queues_its_failed_items_again(session):
    source = create(session)
    for n, code in enumerate(["BL01", "BL01", "XD09"]):
        _failed_item(session, source, code, n)
    session.flush()
    assert [(u.code, u.items) for u in source_admin.unmapped_codes(session, source.id)] == [("BL01", 2), ("XD09", 1)]
    progress_note = session.scalar(sa.select(DocumentType).where(DocumentType.code == "C0302"))
    mapping, retried = source_admin.map_code(session, ADMIN, source.id, "BL01", "病程记录", progress_note.id)
    assert retried == 2 and mapping.document_type_id == progress_note.id
    assert [u.code for u in source_admin.unmapped_codes(session, source.id)] == ["XD09"]
    states = session.scalars(sa.select(CollectedItem.state).where(CollectedItem.document_type_code == "BL01")).all()
    assert "failed" not in states
    with pytest.raises(Refusal, match="请选择对应的标准文书类型"):
        source_admin.map_code(session, ADMIN, source.id, "XD09", "", None)


def test_field_mapping_accepts_our_fields_only(session):
    source = create(session, replace(EMR, name="his", transport="basic_data"))
    source_admin.save_field_mapping(session, ADMIN, source.id, {"patients": {"record_number": "BAH", "name": " XM "},
                                                                "stays": {"stay": ""}})
    assert source.field_mapping == {"patients": {"record_number": "BAH", "name": "XM"}}
    with pytest.raises(Refusal, match=r"patients\.salary"):
        source_admin.save_field_mapping(session, ADMIN, source.id, {"patients": {"salary": "GZ"}})


def _patient(session, number: str) -> None:
    session.add(Patient(record_number=number, name="张三", sex="M"))
    session.flush()


def test_an_alias_means_its_record_number_and_may_not_hide_a_real_one(session):
    _patient(session, "0012345")
    _patient(session, "0012346")
    record_aliases.save_alias(session, ADMIN, "ZY2026001", "0012345", "inpatient", "住院号")
    assert canonical_record_number(session, "ZY2026001") == "0012345"
    with pytest.raises(Refusal, match="本身是一个病案号"):
        record_aliases.save_alias(session, ADMIN, "0012346", "0012345", "old")
    with pytest.raises(Refusal, match="本身是别名"):
        record_aliases.save_alias(session, ADMIN, "MZ77", "ZY2026001", "outpatient")
    record_aliases.save_alias(session, ADMIN, "ZY2026001", "0012346", "inpatient")  # re-pointed, not doubled
    assert session.scalar(sa.select(sa.func.count()).select_from(RecordNumberAlias)) == 1


def test_aliases_sync_from_the_his_through_the_field_mapping(session):
    _patient(session, "0012345")
    emr = EmrState()
    emr.basic["aliases"] = [{"ZYH": "ZY2026001", "BAH": "0012345"}, {"ZYH": "0012345", "BAH": "0099999"},
                            {"ZYH": "ZY2026002", "BAH": "0012345", "kind": "outpatient"}]
    with Served(make_app(emr)) as url:
        source = create(session, replace(EMR, name="his", transport="basic_data", endpoint=url, credentials={}))
        source.field_mapping = {"aliases": {"alias": "ZYH", "record_number": "BAH"}}
        saved, problems = record_aliases.sync_aliases(session, get_settings(), ADMIN, source)
    assert saved == 2 and problems == ["0012345：“0012345”本身是一个病案号，不能作为别名"]
    rows = session.execute(sa.select(RecordNumberAlias.alias, RecordNumberAlias.kind).order_by(RecordNumberAlias.alias))
    assert rows.all() == [("ZY2026001", "inpatient"), ("ZY2026002", "outpatient")]


def test_a_completed_record_gets_a_round_per_pull_source_after_its_own_delay(session):
    _patient(session, "0012345")
    record = Record(record_number="0012345", stay_number=1, patient=session.scalars(sa.select(Patient)).one(),
                    discharged_at=utcnow() - timedelta(hours=2))
    session.add(record)
    emr = create(session)
    lis = create(session, replace(EMR, name="lis", endpoint="http://lis.local", collection_delay_hours=24))
    create(session, replace(EMR, name="ecg", transport="http_push", endpoint=""))
    rounds = {r.source_id: r for r in plan_round(session, record)}
    assert set(rounds) == {emr.id, lis.id}  # push sources send by themselves
    assert rounds[emr.id].due_at <= utcnow()
    assert timedelta(hours=21) < rounds[lis.id].due_at - utcnow() < timedelta(hours=23)
    assert plan_round(session, record) == []  # a round already waiting is not doubled
    emr.next_run_at = lis.next_run_at = utcnow() + timedelta(days=1)
    session.commit()

    assert start_due_rounds(session) == [emr.id]
    assert instant(lis.next_run_at) > utcnow()
    session.commit()
    assert start_due_rounds(session) == []
    started = session.scalar(sa.select(CollectionRound.started_at).where(CollectionRound.source_id == emr.id))
    assert started is not None


def test_the_completion_round_starts_in_the_tick(session, engine):
    from bingan.ingest.pipeline import Pipeline
    from bingan.ingest.scheduler import start_rounds

    _patient(session, "0012345")
    record = Record(record_number="0012345", stay_number=1, patient=session.scalars(sa.select(Patient)).one())
    session.add(record)
    emr = create(session)
    emr.next_run_at = utcnow() + timedelta(days=1)
    plan_round(session, record)
    session.commit()
    pipe = Pipeline(settings=get_settings(), engine=engine)
    assert start_rounds(pipe) == [emr.id]
    assert due_sources(pipe) == [emr.id]


def test_the_visit_type_comes_from_the_entry_or_else_the_source_setting():
    assert report_from({"id": "1", "visit_type": "门诊"}).visit_type == "outpatient"
    assert report_from({"id": "1", "visit_type": "inpatient"}, visit_type="outpatient").visit_type == "inpatient"
    assert report_from({"id": "1"}, visit_type="outpatient").visit_type == "outpatient"
    assert report_from({"id": "1"}).visit_type == "inpatient"
