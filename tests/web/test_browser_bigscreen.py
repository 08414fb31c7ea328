"""The big screen (大屏, D4) in a real browser at 1920×1080 (Debian chromium, headless): a month of
collection, six months of discharges and archiving, a source down and a worker alive, drawn by
ECharts under the Content-Security-Policy; the screenshot goes to docs/screenshots/bigscreen.png."""
from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import pytest
from test_browser_approvals import people  # noqa: F401
from test_browser_daily_work import server  # noqa: F401

from bingan.ingest.monitoring import beat
from bingan.storage.db import session_factory
from bingan.storage.models import CollectedItem, Patient, Record, Source, utcnow
from bingan.storage.models.monitoring import MonitoringAlert

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PATIENT = "欧阳明月"


@pytest.fixture
def month_of_collection(web_engine) -> None:
    now, chance = utcnow(), random.Random(17)
    with session_factory(web_engine)() as session, session.begin():
        sources = [Source(name=name, title=title, transport="http_pull", endpoint="http://127.0.0.1:9/")
                   for name, title in (("emr", "电子病历"), ("lis", "检验系统"), ("pacs", "影像系统"),
                                       ("ecg", "心电系统"), ("pathology", "病理系统"), ("his", "HIS"))]
        session.add_all(sources)
        session.flush()
        n = 0
        for day in range(30):
            for source in sources:
                for _ in range(chance.randint(2, 9)):
                    n += 1
                    failed = chance.random() < 0.04
                    when = now - timedelta(days=day, minutes=chance.randint(0, 600))
                    session.add(CollectedItem(source_id=source.id, source_document_id=f"d{n}", record_number="0300001",
                                              state="failed" if failed else "indexed", created_at=when,
                                              updated_at=when, failure_code="net" if failed else ""))
        patient = Patient(record_number="0300001", name=PATIENT, sex="F")
        for stay in range(1, 160):
            discharged = now - timedelta(days=chance.randint(0, 175))
            archived = discharged + timedelta(days=chance.randint(1, 9))
            session.add(Record(patient=patient, record_number="0300001", stay_number=stay, discharged_at=discharged,
                               status="archived" if archived < now else "submitted",
                               archived_at=archived if archived < now else None))
        session.add(MonitoringAlert(source_id=sources[2].id, kind="down", opened_at=now - timedelta(minutes=40),
                                    detail="端口 8080 无法连接：Connection refused"))
        session.add(MonitoringAlert(source_id=sources[1].id, kind="failures", opened_at=now - timedelta(days=3),
                                    closed_at=now - timedelta(days=3, minutes=-50), detail="最近一小时失败 12 项"))
        beat(session, "collector-1:4242", now)


def test_the_big_screen_draws_a_month_of_collection_with_no_patient_on_it(people, month_of_collection):  # noqa: F811
    person, base, blocked = people
    wall = person("u_archivist")
    wall.set_viewport_size({"width": 1920, "height": 1080})
    wall.goto(f"{base}/bigscreen")
    wall.wait_for_selector("body[data-loaded=true]")
    for chart in ("chart-daily", "chart-months", "chart-failed"):
        assert wall.locator(f"#{chart} canvas").count() >= 1
    assert wall.inner_text("#t-sources") == "5 / 6"
    assert "影像系统" in wall.inner_text("#services") and "collector-1:4242" in wall.inner_text("#services")
    assert "影像系统 无法连接（持续中）" in wall.inner_text("#alerts")
    wall.wait_for_timeout(1200)  # ECharts' entry animation
    SCREENSHOTS.mkdir(exist_ok=True)
    wall.screenshot(path=str(SCREENSHOTS / "bigscreen.png"))
    body = wall.inner_text("body")
    assert PATIENT not in body and "0300001" not in body
    assert blocked == []
