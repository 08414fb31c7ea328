"""Collection monitoring (采集监控, issue 17 D1–D4): reachability probes against real sockets and a real
HTTP server, alert episodes told once, the per-source counts, failures with retry, worker heartbeats
and the big screen's data — on SQLite and PostgreSQL."""
from __future__ import annotations

import itertools
import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa

from bingan.access.accounts import create_user
from bingan.access.audit import Actor
from bingan.errors import Refusal
from bingan.ingest import monitoring
from bingan.ingest.bigscreen import bigscreen
from bingan.storage.models import CollectedItem, Message, Patient, Record, Source
from bingan.storage.models.monitoring import MonitoringAlert, SourceProbe

NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # 10:00 in Beijing
PASSWORD = "Xk7#mPq2$wLz9"
ACTOR = Actor(None, "测试")
REASONS = {"": "", "net": "来源系统无法连接", "type": "文书类型未对照"}
_numbers = itertools.count(1)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def listening() -> Iterator[int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    yield server.getsockname()[1]
    server.close()


class _Answer(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(int(self.path.strip("/")))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args) -> None:
        pass


@pytest.fixture
def http_peer() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def people(session):
    operator = create_user(session, "ops", PASSWORD, ["archivist"], full_name="病案室", must_change_password=False)
    doctor = create_user(session, "doc", PASSWORD, ["clinician"], full_name="医生", must_change_password=False)
    session.commit()
    return operator, doctor


def _source(session, name: str = "lis", endpoint: str = "", transport: str = "ftp") -> Source:
    source = Source(name=name, title=f"{name}系统", transport=transport, endpoint=endpoint)
    session.add(source)
    session.flush()
    return source


def _item(session, source: Source, state: str, *, created: datetime = NOW, failed: datetime | None = None,
          code: str = "", number: str = "0100001") -> CollectedItem:
    item = CollectedItem(source_id=source.id, source_document_id=f"doc-{next(_numbers)}", record_number=number,
                         title="检验报告", state=state, created_at=created, updated_at=failed or created,
                         failure_code=code, failure_reason=REASONS[code],
                         resume_state="pending" if state == "failed" else "")
    session.add(item)
    session.flush()
    return item


def _messages(session, user, kind: str = "collection") -> list[str]:
    return list(session.scalars(sa.select(Message.title).where(Message.user_id == user.id, Message.kind == kind)
                                .order_by(Message.id)))


# --------------------------------------------------------------------------- probes


def test_a_listening_port_is_up_and_a_closed_port_is_down(listening):
    up = monitoring.probe("ftp", f"ftp://127.0.0.1:{listening}/reports")
    down = monitoring.probe("ftp", f"ftp://127.0.0.1:{_closed_port()}/reports")
    assert up.up and up.detail == f"端口 {listening} 可连接"
    assert not down.up and "无法连接" in down.detail


def test_an_http_source_is_up_whatever_it_answers_below_500(http_peer):
    assert monitoring.probe("http_pull", f"{http_peer}/404").up
    assert monitoring.probe("soap", f"{http_peer}/401").up
    answered = monitoring.probe("http_pull", f"{http_peer}/503")
    assert not answered.up and answered.detail == "服务器错误 HTTP 503"


def test_a_shared_folder_is_up_when_it_can_be_read(tmp_path):
    assert monitoring.probe("folder", str(tmp_path)).up
    assert monitoring.probe("folder", str(tmp_path / "gone")).detail == "共享目录不存在或不可读"


def test_a_push_interface_has_nothing_to_probe():
    assert monitoring.probe("http_push", "") is None
    assert monitoring.probe("ftp", "   ") is None


def test_an_unreadable_address_is_down_with_the_form_it_should_have():
    assert "地址无法识别" in monitoring.probe("ftp", "ftp:///reports").detail


# --------------------------------------------------------------------------- episodes


def test_a_source_down_twice_running_alerts_its_operators_once_and_again_when_it_recovers(session, people,
                                                                                          listening):
    operator, doctor = people
    source = _source(session, endpoint=f"127.0.0.1:{_closed_port()}", transport="ftp")
    session.commit()
    monitoring.watch_sources(session, NOW)
    assert _messages(session, operator) == []  # one failed probe is no outage
    for minute in (1, 2, 3):
        monitoring.watch_sources(session, NOW + timedelta(minutes=minute))
    assert _messages(session, operator) == ["采集告警：“lis系统”无法连接"]
    assert _messages(session, doctor) == []
    source.endpoint = f"127.0.0.1:{listening}"
    monitoring.watch_sources(session, NOW + timedelta(minutes=4))
    assert _messages(session, operator)[-1] == "采集恢复：“lis系统”已恢复正常"
    episode = session.scalars(sa.select(MonitoringAlert)).one()
    assert episode.closed_at is not None and episode.kind == "down"


def test_a_second_outage_is_a_second_episode(session, people, listening):
    operator, _doctor = people
    closed = f"127.0.0.1:{_closed_port()}"
    source = _source(session, endpoint=closed, transport="ftp")
    for minute, endpoint in enumerate([closed, closed, f"127.0.0.1:{listening}", closed, closed]):
        source.endpoint = endpoint
        monitoring.watch_sources(session, NOW + timedelta(minutes=minute))
    assert [t[:4] for t in _messages(session, operator)] == ["采集告警", "采集恢复", "采集告警"]
    assert session.scalar(sa.select(sa.func.count()).select_from(MonitoringAlert)) == 2


def test_each_source_is_probed_once_a_minute_and_its_history_kept_seven_days(session, listening):
    source = _source(session, endpoint=f"127.0.0.1:{listening}", transport="ftp")
    session.add(SourceProbe(source_id=source.id, checked_at=NOW - timedelta(days=8), up=True))
    assert monitoring.watch_sources(session, NOW) == 1
    assert monitoring.watch_sources(session, NOW + timedelta(seconds=20)) == 0
    assert monitoring.watch_sources(session, NOW + timedelta(seconds=60)) == 1
    kept = session.scalars(sa.select(SourceProbe.checked_at).order_by(SourceProbe.checked_at)).all()
    assert len(kept) == 2 and all(moment.replace(tzinfo=UTC) >= NOW for moment in kept)


def test_disabled_sources_and_push_interfaces_are_not_probed(session):
    _source(session, "emr", transport="http_push")
    stopped = _source(session, "pacs", endpoint=f"127.0.0.1:{_closed_port()}", transport="ftp")
    stopped.enabled = False
    assert monitoring.watch_sources(session, NOW) == 0


def test_a_jump_of_failures_alerts_once_per_episode(session, people):
    operator, _doctor = people
    source = _source(session)
    for _ in range(6):
        _item(session, source, "failed", failed=NOW - timedelta(minutes=10), code="net")
    monitoring.watch_sources(session, NOW)
    monitoring.watch_sources(session, NOW + timedelta(minutes=1))
    assert _messages(session, operator) == ["采集告警：“lis系统”失败激增"]
    monitoring.watch_sources(session, NOW + timedelta(hours=2))  # the hour went by without new failures
    assert _messages(session, operator)[-1] == "采集恢复：“lis系统”已恢复正常"


def test_failures_as_many_as_usual_are_no_jump(session, people):
    operator, _doctor = people
    source = _source(session)
    for hour in range(1, 168, 2):  # about three failures an hour, all week
        for _ in range(6):
            _item(session, source, "failed", failed=NOW - timedelta(hours=hour, minutes=30), code="net")
    for _ in range(6):
        _item(session, source, "failed", failed=NOW - timedelta(minutes=5), code="net")
    monitoring.watch_sources(session, NOW)
    assert _messages(session, operator) == []


def test_fewer_failures_than_the_minimum_are_no_jump(session, people):
    operator, _doctor = people
    source = _source(session)
    for _ in range(monitoring.JUMP_MIN_FAILURES - 1):
        _item(session, source, "failed", failed=NOW - timedelta(minutes=5), code="net")
    monitoring.watch_sources(session, NOW)
    assert _messages(session, operator) == []


# --------------------------------------------------------------------------- what the pages count


def test_a_source_counts_expected_converted_uploaded_waiting_and_failed(session):
    source = _source(session)
    other = _source(session, "ris")
    for state in ("pending", "fetched", "stored", "extracted", "indexed", "indexed", "failed"):
        _item(session, source, state, created=NOW - timedelta(hours=1), code="net" if state == "failed" else "")
    _item(session, source, "indexed", created=NOW - timedelta(days=2))  # before today
    _item(session, other, "indexed")
    row = next(row for row in monitoring.overview(session, NOW) if row.source.id == source.id)
    assert (row.expected, row.converted, row.uploaded, row.waiting, row.failed) == (7, 4, 2, 4, 1)
    week = next(row for row in monitoring.overview(session, NOW, "7d") if row.source.id == source.id)
    assert week.expected == 8 and week.uploaded == 3


def test_an_unknown_window_is_refused():
    with pytest.raises(Refusal, match="统计范围"):
        monitoring.window_start("year", NOW)


def test_failures_are_grouped_by_reason_most_frequent_first(session):
    source = _source(session)
    for code in ("net", "type", "type"):
        _item(session, source, "failed", code=code)
    reasons = monitoring.failure_reasons(session, source.id)
    assert [(r.code, r.reason, r.count) for r in reasons] == [("type", REASONS["type"], 2), ("net", REASONS["net"], 1)]


def test_retrying_one_item_puts_it_back_where_it_stopped(session):
    source = _source(session)
    item = _item(session, source, "failed", code="net")
    other = _item(session, source, "failed", code="net")
    assert monitoring.retry(session, ACTOR, source.id, item_id=item.id) == 1
    assert (item.state, other.state) == ("pending", "failed")


def test_retrying_a_reason_takes_every_failed_item_of_that_source_with_it_only(session):
    source = _source(session)
    elsewhere = _source(session, "ris")
    mine = [_item(session, source, "failed", code="type") for _ in range(3)]
    kept = [_item(session, source, "failed", code="net"), _item(session, elsewhere, "failed", code="type")]
    assert monitoring.retry(session, ACTOR, source.id, failure_code="type") == 3
    assert {item.state for item in mine} == {"pending"} and {item.state for item in kept} == {"failed"}


def test_retrying_nothing_failed_is_refused_and_changes_nothing(session):
    source = _source(session)
    done = _item(session, source, "indexed")
    with pytest.raises(Refusal, match="没有可重试的失败项"):
        monitoring.retry(session, ACTOR, source.id, item_id=done.id)
    with pytest.raises(Refusal, match="请选择"):
        monitoring.retry(session, ACTOR, source.id)
    assert done.state == "indexed"


def test_the_up_down_strip_counts_each_hours_probes(session):
    source = _source(session)
    session.add_all([SourceProbe(source_id=source.id, checked_at=NOW + timedelta(minutes=m), up=up)
                     for m, up in ((10, True), (20, False), (-30, True), (-40, True))])
    cells = monitoring.uptime_hours(session, source.id, NOW + timedelta(minutes=30))
    assert len(cells) == 24 and [c.state for c in cells[-2:]] == ["up", "partial"] and cells[0].state == "none"


def test_a_worker_without_a_heartbeat_for_three_minutes_is_shown_stopped(session):
    monitoring.beat(session, "host-a:101", NOW - timedelta(minutes=5))
    monitoring.beat(session, "host-b:202", NOW - timedelta(seconds=30))
    assert [(w.name, w.alive) for w in monitoring.workers(session, NOW)] == [("host-a:101", False),
                                                                          ("host-b:202", True)]


# --------------------------------------------------------------------------- the big screen


def test_the_big_screen_counts_days_and_months_and_names_no_patient(session):
    source = _source(session)
    _item(session, source, "indexed", created=NOW - timedelta(days=1), number="0199999")
    _item(session, source, "failed", failed=NOW - timedelta(hours=1), code="net", number="0199999")
    patient = Patient(record_number="0199999", name="周志强", sex="M")
    session.add_all([
        Record(patient=patient, record_number="0199999", stay_number=1, discharged_at=NOW - timedelta(days=3),
               status="archived", archived_at=NOW - timedelta(days=1)),
        Record(patient=patient, record_number="0199999", stay_number=2, discharged_at=NOW - timedelta(days=2)),
    ])
    session.add(MonitoringAlert(source_id=source.id, kind="down", opened_at=NOW - timedelta(days=2), detail="连接超时"))
    session.flush()
    data = bigscreen(session, NOW)
    assert len(data["collected_per_day"]) == 30 and data["collected_per_day"][-2]["count"] == 1
    assert data["months"][-1] == {"month": "2026-12", "discharged": 2, "archived": 1}
    assert len(data["months"]) == 6 and data["months"][0]["month"] == "2026-07"
    assert data["anomalies"]["failed_per_day"][-1]["count"] == 1
    assert data["anomalies"]["alerts"][0]["source"] == "lis系统"
    assert data["services"][0] == {"name": "lis系统", "kind": "来源", "up": False, "status": "中断"}
    text = json.dumps(data, ensure_ascii=False)
    assert "0199999" not in text and "周志强" not in text
