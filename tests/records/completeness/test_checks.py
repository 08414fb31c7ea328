"""Self-checks (系统自检) on SQLite and PostgreSQL: each check with real phrasing and times at its
boundaries, the code formats, stored runs and the latest report."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from completeness_support import ADMITTED, DISCHARGED, add_document, make_record

from bingan.records.completeness import checks
from bingan.storage.models import CollectedItem, Operation, Source
from bingan.storage.models.completeness import CheckRun


def _findings(session, record, check: str) -> list[checks.Finding]:
    return [f for f in checks.evaluate(session, record) if f.check == check]


def test_a_complete_ordinary_record_passes_with_no_findings(session):
    record = make_record(session)
    report = checks.run_checks(session, record)
    assert report.findings == () and report.passed


# (document type, counted from, limit in hours) — MER-TL-01..04 and 首次病程 ≤ 8 h.
LIMITS = [("入院记录", ADMITTED, 24), ("首次病程记录", ADMITTED, 8), ("出院记录", DISCHARGED, 24),
          ("住院病案首页", DISCHARGED, 24)]


@pytest.mark.parametrize(("type_name", "start", "hours"), LIMITS, ids=[x[0] for x in LIMITS])
def test_a_document_written_at_its_limit_is_on_time_and_a_minute_later_is_late(session, type_name, start, hours):
    record = make_record(session, documents=())
    on_time = add_document(session, record, type_name, written=start + timedelta(hours=hours))
    late = add_document(session, record, type_name, written=start + timedelta(hours=hours, minutes=1))
    found = _findings(session, record, "timeliness")
    assert [(f.document_id, f.severity) for f in found] == [(late.id, "warning")]
    assert on_time.id not in {f.document_id for f in found}
    assert "超时 1分钟" in found[0].message and type_name in found[0].message


def test_the_late_message_shows_both_times_on_the_hospitals_clock(session):
    record = make_record(session, documents=())
    add_document(session, record, "入院记录", written=ADMITTED + timedelta(hours=26, minutes=5))
    [finding] = _findings(session, record, "timeliness")
    assert finding.message == ("入院记录未在入院后 24 小时内完成：书写于 2026-03-02 11:35，"
                               "起算时间 2026-03-01 09:30，超时 2小时5分钟")


def test_an_operation_note_counts_from_the_operation_before_it(session):
    record = make_record(session)
    first, second = ADMITTED + timedelta(days=1), ADMITTED + timedelta(days=3)
    record.operations = [Operation(seq=0, code="54.2100", name="腹腔镜检查", performed_at=first),
                         Operation(seq=1, code="54.1100", name="剖腹探查", performed_at=second)]
    session.flush()
    add_document(session, record, "手术记录", written=first + timedelta(hours=24))
    late = add_document(session, record, "手术记录", written=second + timedelta(hours=25))
    assert [f.document_id for f in _findings(session, record, "timeliness")] == [late.id]


def test_a_document_without_its_own_time_is_not_judged(session):
    record = make_record(session)
    assert _findings(session, record, "timeliness") == []


DIAGNOSIS_CODES = [
    ("J18.900", True), ("J18.9", True), ("C34.101", True), ("K35.800x001", True), ("M8140/3", True),
    ("M81400/3", True), ("A17.0†G01*", True), ("J18", True), ("U07.1", True), ("I10.x00", True),
    ("I10.x00x002", True),
    ("j18.9", False), ("J189", False), ("18.9", False), ("J18.9000", False), ("M8140", False), ("", False),
]
OPERATION_CODES = [
    ("54.21", True), ("54.2100", True), ("54.2100x001", True), ("36.0700x003", True), ("99.04", True),
    ("74.1x01", True),
    ("5421", False), ("54", False), ("J18.9", False), ("54.21000", False), ("54.2100X001", False),
]


@pytest.mark.parametrize(("code", "valid"), DIAGNOSIS_CODES)
def test_diagnosis_codes_follow_icd10_and_its_national_extensions(code, valid):
    assert checks.valid_diagnosis_code(code) is valid


@pytest.mark.parametrize(("code", "valid"), OPERATION_CODES)
def test_operation_codes_follow_icd9cm3_and_its_national_extensions(code, valid):
    assert checks.valid_operation_code(code) is valid


def test_badly_coded_front_page_entries_are_errors_pointing_at_the_front_page(session):
    record = make_record(session)
    record.diagnoses[0].code = "J189"
    record.operations = [Operation(seq=0, code="5421", name="腹腔镜检查")]
    session.flush()
    found = _findings(session, record, "codes")
    front = checks.context_of(session, record).first_of_type("住院病案首页")
    assert [(f.severity, f.document_id) for f in found] == [("error", front.id)] * 2
    assert "“J189”不符合 ICD-10" in found[0].message and "“5421”不符合 ICD-9-CM-3" in found[1].message


def test_missing_front_page_fields_are_errors_and_the_records_own_data_stands_in(session):
    record = make_record(session)
    record.front_page = {"C04N": "-"}  # delivered empty ("-" is the front page's empty)
    record.diagnoses = []
    record.discharge_method = "7"
    session.flush()
    messages = [f.message for f in _findings(session, record, "front_page")]
    assert messages == ["病案首页缺少主要诊断编码（C03C）", "病案首页缺少主要诊断名称（C04N）",
                        "病案首页离院方式“7”无效，应为 1–5 或 9"]


def test_a_failed_signature_is_an_error_and_an_untrusted_one_is_not(session):
    record = make_record(session, documents=())
    bad = add_document(session, record, "出院记录", signatures=[
        {"verdict": "tampered", "reason": "签名后文件内容被修改", "signer": "张医生"}])
    add_document(session, record, "入院记录", signatures=[{"verdict": "unverifiable", "reason": "签名完整，但…"}])
    [finding] = _findings(session, record, "signatures")
    assert (finding.severity, finding.document_id) == ("error", bad.id)
    assert finding.message == "出院记录的电子签名（张医生）验证未通过：签名后文件内容被修改"


def _item(session, record, state: str, document_id: str, **fields) -> CollectedItem:
    source = session.scalars(sa.select(Source).where(Source.name == "LIS")).first()
    if source is None:
        source = Source(name="LIS", title="检验系统", kind="lis")
        session.add(source)
        session.flush()
    item = CollectedItem(source_id=source.id, source_document_id=document_id, revision=f"r{state}{document_id}",
                         record_number=record.record_number, stay=1, state=state, title="血常规", **fields)
    session.add(item)
    session.flush()
    return item


@pytest.mark.parametrize(("state", "message"), [
    ("pending", "文书“血常规”正在采集处理中，请稍后再提交"),
    ("stored", "文书“血常规”正在采集处理中，请稍后再提交"),
    ("failed", "文书“血常规”采集失败：文件无法解析"),
])
def test_items_waiting_running_or_failed_keep_the_record_out(session, state, message):
    record = make_record(session)
    _item(session, record, state, "L1", failure_reason="文件无法解析" if state == "failed" else "")
    assert [(f.severity, f.message) for f in _findings(session, record, "collection")] == [("error", message)]


def test_a_failed_item_delivered_again_successfully_no_longer_counts(session):
    record = make_record(session)
    _item(session, record, "failed", "L1", failure_reason="网络中断")
    _item(session, record, "indexed", "L1")
    _item(session, record, "extracted", "L2")  # stored as a version; only the search index is behind
    assert _findings(session, record, "collection") == []


def test_a_record_still_collecting_is_an_error(session):
    record = make_record(session, status="collecting")
    assert [f.message for f in _findings(session, record, "collection")] == \
        ["病案仍在采集中（出院后采集期未结束），暂不能提交"]


def test_every_run_is_stored_and_the_latest_is_read_back(session):
    record = make_record(session, documents=())
    assert checks.latest_checks(session, record.id) is None
    checks.run_checks(session, record, "submit")
    add_document(session, record, "住院病案首页")
    second = checks.run_checks(session, record, "recollect")
    latest = checks.latest_checks(session, record.id)
    assert latest == second and not latest.passed
    assert "缺少住院病案首页" not in [f.message for f in latest.findings]
    runs = session.scalars(sa.select(CheckRun).where(CheckRun.record_id == record.id).order_by(CheckRun.id)).all()
    assert [(r.trigger, r.errors) for r in runs] == [("submit", 8), ("recollect", 7)]
