"""Re-collection while recalled, against a real EMR peer (tests/peers/emr.py): the request row that
recall writes makes the record's source due on the tick, and a correction made in the EMR during
the recall arrives as a new version of the document — even long after the source's
re-collection window closed."""
from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/peers as the "peers" package
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "ingest"))

from ingest_support import ADMISSION, pdf
from peers.emr import EmrState, make_app
from peers.loopback import Served

from bingan.config import get_settings, reset_settings
from bingan.formats import guard
from bingan.ingest.pipeline import Pipeline, run_until_settled
from bingan.ingest.recollect import recollect_due
from bingan.ingest.runs import run_source
from bingan.ingest.scheduler import due_sources
from bingan.records import lifecycle
from bingan.storage.models import CollectedItem, Department, Document, Patient, Record, Source, SourceMapping, utcnow
from bingan.storage.models.recall import RecollectionRequest


@pytest.fixture
def pipe(engine, monkeypatch):
    monkeypatch.setenv("BINGAN_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    reset_settings()
    pipeline = Pipeline(settings=get_settings(), engine=engine)
    yield pipeline
    pipeline.close()
    guard.close_shared_pool()


def _settle(pipe) -> None:
    with pipe.tx() as session:
        ids = list(session.scalars(sa.select(CollectedItem.id)))
    assert set(run_until_settled(pipe, ids, timeout=60).values()) <= {"indexed", "done"}


def _versions(pipe) -> list[int]:
    with pipe.tx() as session:
        document = session.scalars(sa.select(Document)).one()
        return [document.current_version.number, len(document.versions)]


def test_a_correction_made_in_the_emr_while_recalled_arrives_as_a_new_version(pipe):
    emr = EmrState()
    with Served(make_app(emr)) as url:
        with pipe.tx() as session:
            department = Department(code="XN", name="心内科")
            patient = Patient(record_number="0012345", name="张三", sex="M", id_number="11010519491231002X")
            record = Record(patient=patient, record_number="0012345", stay_number=1, discharge_department=department,
                            discharged_at=utcnow() - timedelta(days=60))
            source = Source(name="EMR", kind="emr", transport="http_pull", endpoint=url, recollect_days=7,
                            interval_minutes=1440)
            session.add_all([department, patient, record, source])
            session.flush()
            dtype = session.scalar(sa.text("select id from document_types where code = 'C0201'"))
            session.add(SourceMapping(source_id=source.id, source_code="RY01", document_type_id=dtype))
            source_id, record_id = source.id, record.id
        with pipe.tx() as session:  # the first collection predates the window: not planned, so open it once
            session.get(Source, source_id).recollect_days = 0
        emr.put("D1", pdf(ADMISSION), record_number="0012345", stay=1, type="RY01", title="入院记录")
        assert run_source(pipe, source_id) == 1
        _settle(pipe)
        with pipe.tx() as session:
            session.get(Source, source_id).recollect_days = 7
            record = session.get(Record, record_id)
            for status in ("awaiting", "submitted", "qc", "archived", "recalled"):
                lifecycle.move(session, lifecycle.SYSTEM, record, status, "测试")
            session.add(RecollectionRequest(record_id=record_id, every_minutes=30, next_at=utcnow()))
        emr.put("D1", pdf([["入院记录 召回修改稿", "补充诊断：2型糖尿病。"]]))
        now = utcnow()
        with pipe.tx() as session:
            assert recollect_due(session, now) == 1
        assert due_sources(pipe, now) == [source_id]
        assert run_source(pipe, source_id) == 1
        _settle(pipe)
    assert _versions(pipe) == [2, 2]
