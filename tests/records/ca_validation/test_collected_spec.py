"""联机验证 of collected signed reports, on SQLite and PostgreSQL: the collection pipeline asks the
CA after the local verification and keeps the answer beside the local verdict, which it never
changes; offline the document is collected all the same and the kept result says why;
`bingan ca-check` asks again about stored documents (a certificate revoked since collection)."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from ca_support import closed_port, configure, signed_by, signed_report
from typer.testing import CliRunner

from bingan.config import get_settings
from bingan.ingest.items import Report, enqueue, manual_source
from bingan.ingest.options import reset_options
from bingan.ingest.pipeline import Pipeline, run_until_settled
from bingan.records.ca_validation import service
from bingan.storage.models import AuditEvent, CollectedItem, Patient, Record, Version
from bingan.storage.models.ca_validation import SignatureCheck

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def pipe(engine, monkeypatch):
    monkeypatch.setenv("BINGAN_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("BINGAN_INGEST_RETRY_BASE_SECONDS", "0.05")
    reset_options()
    with Pipeline(settings=configure(monkeypatch), engine=engine).tx() as session:
        session.add(Record(patient=Patient(record_number="0300001", name="赵敏", sex="F"),
                           record_number="0300001", stay_number=1))
    pipeline = Pipeline(settings=get_settings(), engine=engine)
    yield pipeline
    pipeline.close()
    reset_options()


def collect(pipe: Pipeline, data: bytes, doc_id: str = "US-1") -> CollectedItem:
    staged = pipe.staging / f"t-{doc_id}"
    staged.write_bytes(data)
    with pipe.tx() as session:
        item, _ = enqueue(session, manual_source(session), Report(
            source_document_id=doc_id, record_number="0300001", stay=1, document_type_code="C0201",
            revision=doc_id, filename="超声报告.pdf"), staged_path=str(staged))
        item_id = item.id
    run_until_settled(pipe, [item_id], timeout=60)
    with pipe.tx() as session:
        found = session.get(CollectedItem, item_id)
        session.expunge(found)
        return found


def checks_of(pipe: Pipeline, version_id: int) -> list[SignatureCheck]:
    with pipe.tx() as session:
        rows = list(session.scalars(sa.select(SignatureCheck).where(SignatureCheck.version_id == version_id)
                                    .order_by(SignatureCheck.id)))
        session.expunge_all()
        return rows


def test_a_collected_signed_report_is_checked_online_and_kept_beside_the_local_verdict(pipe, responder,
                                                                                        monkeypatch):
    pipe.settings = configure(monkeypatch, ca_validation="ocsp")
    data, _ = signed_report(responder)
    item = collect(pipe, data)
    assert item.state == "indexed", item.failure_reason
    [check] = checks_of(pipe, item.version_id)
    assert (check.method, check.status, check.signature_index, check.responder) == ("ocsp", "good", 0, responder.url)
    assert check.certificate_subject == "李医生" and check.next_update is not None
    checked_at = check.checked_at.replace(tzinfo=check.checked_at.tzinfo or UTC)
    assert abs((checked_at - datetime.now(UTC)).total_seconds()) < 60
    label = service.online_label(check)
    assert label.startswith("已联机验证（OCSP，") and label.endswith("：有效")
    with pipe.tx() as session:
        version = session.get(Version, item.version_id)
        assert [s["verdict"] for s in version.signatures] == ["unverifiable"]  # the local verdict is untouched
        events = session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "signature.online_check")).all()
        assert [(e.username, e.document_id) for e in events] == [("采集", item.document_id)]


def test_a_second_report_of_the_same_signer_is_checked_with_the_kept_answer(pipe, responder, monkeypatch):
    pipe.settings = configure(monkeypatch, ca_validation="ocsp")
    key, cert = responder.issue("李医生")
    first = collect(pipe, signed_by(key, [cert, responder.ca_der]), "US-1")
    second = collect(pipe, signed_by(key, [cert, responder.ca_der], lines=[["检查报告", "复查：未见异常。"]]), "US-2")
    assert responder.state.served == 1  # the CA was asked once for both
    [kept_first], [kept_second] = checks_of(pipe, first.version_id), checks_of(pipe, second.version_id)
    assert (kept_second.status, kept_second.checked_at) == ("good", kept_first.checked_at)


def test_offline_the_report_is_collected_and_the_kept_result_says_why(pipe, responder, monkeypatch):
    pipe.settings = configure(monkeypatch, ca_validation="ocsp",
                              ca_ocsp_url=f"http://127.0.0.1:{closed_port()}/ocsp")
    data, _ = signed_report(responder)
    item = collect(pipe, data)
    assert item.state == "indexed"
    [check] = checks_of(pipe, item.version_id)
    assert check.status == "unreachable"
    assert service.online_label(check).endswith("：无法连接 OCSP 服务（连接被拒绝或地址不可达）；以本地验证结果为准")
    assert service.online_label(check).startswith("未能联机验证（OCSP，")


def test_with_validation_off_nothing_is_asked_or_kept(pipe, responder):
    data, _ = signed_report(responder)
    item = collect(pipe, data)
    assert item.state == "indexed" and checks_of(pipe, item.version_id) == []
    assert responder.state.served == 0


def test_ca_check_finds_a_certificate_revoked_since_collection(pipe, responder, monkeypatch):
    from bingan.cli import app

    pipe.settings = configure(monkeypatch, ca_validation="ocsp")
    data, cert = signed_report(responder)
    item = collect(pipe, data)
    responder.revoke(cert, datetime(2026, 12, 1, 2, 0, tzinfo=UTC))
    done = CliRunner().invoke(app, ["ca-check", "--record", "0300001"])
    assert done.exit_code == 1, done.output  # a revoked certificate: scripts notice
    assert "病案 0300001 第1次" in done.output and "（李医生）：已联机验证（OCSP，" in done.output
    assert "已吊销（吊销时间 2026-12-01 10:00，原因：密钥泄露）" in done.output  # the hospital's time zone
    assert "复核文书 1 份：有效 0，已吊销 1，未知 0，未能联机验证 0" in done.output
    first, second = checks_of(pipe, item.version_id)
    assert (first.status, second.status) == ("good", "revoked")  # the history stays; the latest counts
    with pipe.tx() as session:
        lines = service.record_signatures(session, session.scalar(sa.select(Record.id)), lambda _: True)
        assert lines[0].lines[0].online.status == "revoked"


def test_ca_check_since_a_date_and_its_refusals(pipe, responder, monkeypatch):
    from bingan.cli import app

    runner = CliRunner()
    assert "联机验证未开启" in runner.invoke(app, ["ca-check"]).output
    pipe.settings = configure(monkeypatch, ca_validation="ocsp")
    collect(pipe, signed_report(responder)[0])
    assert "复核文书 1 份：有效 1" in runner.invoke(app, ["ca-check", "--since", "2020-01-01"]).output
    assert "复核文书 0 份" in runner.invoke(app, ["ca-check", "--since", "2999-01-01"]).output
    assert "日期格式不正确" in runner.invoke(app, ["ca-check", "--since", "昨天"]).output
    assert "找不到病案：0999999" in runner.invoke(app, ["ca-check", "--record", "0999999"]).output
