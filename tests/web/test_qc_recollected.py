"""A record re-collected while in QC (H4): the collection pipeline stores version 2 of its 入院记录
— one word changed on page 1, a consultation page inserted, the old last page dropped — and the QC
screen marks the pages (修改 / 新增 / 删除) and links to the comparison, which shows the change."""
from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))

import formats_gen

from bingan.config import get_settings
from bingan.formats import guard
from bingan.ingest.items import Report, enqueue, manual_source
from bingan.ingest.pipeline import Pipeline, run_until_settled
from bingan.records import lifecycle
from bingan.storage.db import session_factory
from bingan.storage.models import CollectedItem, Patient, Record

NUMBER = "0100061"
FIRST = [
    ["入院记录", f"姓名：周志强  病案号：{NUMBER}", "主诉：反复胸闷气促5年，加重3天。"],
    ["体格检查", "双肺呼吸音粗，未闻及干湿啰音。", "心率88次/分，律齐。"],
    ["初步诊断", "冠状动脉粥样硬化性心脏病", "医师签名：李主任"],
]
CONSULTATION = ["会诊记录", "会诊意见：建议加用阿司匹林抗血小板治疗。", "会诊医师：王医生"]
SECOND = [[FIRST[0][0], FIRST[0][1], FIRST[0][2].replace("胸闷", "胸痛")], CONSULTATION, FIRST[1]]


@pytest.fixture
def pipe(web_engine):
    pipeline = Pipeline(settings=get_settings(), engine=web_engine)
    yield pipeline
    pipeline.close()
    guard.close_shared_pool()


def collect(pipe: Pipeline, pages: list[list[str]], revision: str) -> CollectedItem:
    """The EMR delivers the 入院记录 (same source document, a new revision) through the pipeline."""
    staged = pipe.staging / f"qc-recollected-{revision}.pdf"
    staged.write_bytes(formats_gen.text_pdf(pages))
    with pipe.tx() as session:
        item, _ = enqueue(session, manual_source(session), Report(
            source_document_id="EMR-QC-1", record_number=NUMBER, stay=1, document_type_code="C0201",
            revision=revision, filename="入院记录.pdf"), staged_path=str(staged))
        item_id = item.id
    assert run_until_settled(pipe, [item_id], timeout=120)[item_id] == "indexed"
    with pipe.tx() as session:
        found = session.get(CollectedItem, item_id)
        session.expunge(found)
        return found


@pytest.fixture
def recollected(app, web_engine, world, pipe, client_for) -> dict:
    """Record 0100061 submitted with version 1, taken into QC, then version 2 collected."""
    with session_factory(web_engine)() as session, session.begin():
        record = Record(patient=Patient(record_number=NUMBER, name="周志强", sex="M"), record_number=NUMBER,
                        stay_number=1, campus_id=world.cardiology.campus_id,
                        admitted_at=datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
                        discharged_at=datetime(2026, 11, 30, 2, 0, tzinfo=UTC),
                        admission_department_id=world.cardiology.id, discharge_department_id=world.cardiology.id,
                        attending_doctor="李主任")
        session.add(record)
        session.flush()
        for status in ("awaiting", "submitted"):
            lifecycle.move(session, lifecycle.SYSTEM, record, status, "测试")
        record_id = record.id
    first = collect(pipe, FIRST, "1")
    qc = client_for("qc")
    token = qc.get("/api/v1/me").json()["csrf_token"]
    assert qc.post(f"/api/v1/qc/{record_id}/take", headers={"X-CSRF-Token": token}).status_code == 200
    second = collect(pipe, SECOND, "2")
    assert second.document_id == first.document_id and second.version_id != first.version_id
    return {"record": record_id, "document": first.document_id, "qc": qc}


def test_the_qc_screen_marks_the_changed_pages_and_links_to_the_comparison(recollected):
    qc, record, document = recollected["qc"], recollected["record"], recollected["document"]
    answer = qc.get(f"/api/v1/qc/{record}").json()
    entry = next(d for d in answer["documents"] if d["id"] == document)
    assert (entry["version"], entry["pages"]) == (2, 3)
    assert entry["changes"] == {"updated": [1], "added": [2], "removed": [3]}
    assert entry["compare"] == f"/documents/{document}/compare?a=1&b=2"
    screen = qc.get(f"/qc/{record}?doc={document}&page=2").text
    assert "重新采集" in screen and "修改 1页" in screen and "新增 2页" in screen and "删除 3页" in screen
    assert f'href="/documents/{document}/compare?a=1&amp;b=2"' in screen and "对比 v1→v2" in screen
    assert "本页新增" in screen and "已删除：原第3页" in screen


def test_the_comparison_it_opens_shows_the_word_the_inserted_page_and_the_dropped_one(recollected):
    page = recollected["qc"].get(f"/documents/{recollected['document']}/compare?a=1&b=2").text
    assert '<del class="text-change">闷</del>' in page and '<ins class="text-change">痛</ins>' in page
    assert "新增第2页" in page and "删除原第3页" in page
