"""Fixtures of the collection tests: a pipeline on the test database, records, real PDFs, peers."""
from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/peers as the "peers" package

from bingan.config import get_settings
from bingan.ingest.demo import CID_FONT
from bingan.ingest.options import reset_options
from bingan.ingest.pipeline import Pipeline
from bingan.storage.models import Department, Patient, Record


@pytest.fixture(autouse=True)
def _fast_ingest(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("BINGAN_INGEST_RETRY_BASE_SECONDS", "0.05")
    monkeypatch.setenv("BINGAN_INGEST_LEASE_SECONDS", "5")
    reset_options()
    yield
    reset_options()


@pytest.fixture
def pipe(engine, monkeypatch: pytest.MonkeyPatch):
    # Worker subprocesses and the push API find the same database through the environment.
    monkeypatch.setenv("BINGAN_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    from bingan.config import reset_settings

    reset_settings()
    pipeline = Pipeline(settings=get_settings(), engine=engine)
    yield pipeline
    pipeline.close()


@pytest.fixture
def record(pipe):
    """Patient 张三, record 0012345 stay 1, discharged from 呼吸内科."""
    with pipe.tx() as session:
        department = Department(code="HX", name="呼吸内科")
        patient = Patient(record_number="0012345", name="张三", sex="M", id_number="11010519491231002X")
        session.add_all([department, patient])
        session.flush()
        session.add(Record(patient=patient, record_number="0012345", stay_number=1, discharge_department=department))
    return "0012345"


def pdf(pages: list[list[str]]) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    if CID_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CID_FONT))
    out = io.BytesIO()
    doc = canvas.Canvas(out, pagesize=A4, invariant=1)
    for lines in pages:
        doc.setFont(CID_FONT, 12)
        for n, line in enumerate(lines):
            doc.drawString(72, 770 - 22 * n, line)
        doc.showPage()
    doc.save()
    return out.getvalue()


ADMISSION = [["入院记录", "主诉：咳嗽、咳痰伴发热3天。", "现病史：患者3天前受凉后出现咳嗽。"],
             ["体格检查：双肺呼吸音粗。", "初步诊断：社区获得性肺炎。"]]


@pytest.fixture
def make_pdf():
    return pdf


def count(pipe, model, *where) -> int:
    with pipe.tx() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))
