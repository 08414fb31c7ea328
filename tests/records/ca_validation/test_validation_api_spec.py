"""联机验证 through the CA vendor's validation service (the generic JSON contract of
docs/security.md), against a real service on loopback (tests/peers/ca_validation_api.py)."""
from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from ca_support import closed_port, configure, signed_report
from cryptography import x509

from bingan.formats.signer_certificates import signing_certificates
from bingan.records.ca_validation import service

pytestmark = pytest.mark.timeout(60)


def answer(settings, data: bytes):
    [checked] = service.check_certificates(settings, signing_certificates(data, "application/pdf"))
    return checked


def api_settings(monkeypatch, peer, **more: str):
    return configure(monkeypatch, ca_validation="api", ca_validation_url=peer.url,
                     ca_validation_token=peer.state.token, **more)


def test_a_good_certificate_is_good_and_names_the_service(responder, validation_api, monkeypatch):
    data, _ = signed_report(responder)
    checked = answer(api_settings(monkeypatch, validation_api), data)
    assert (checked.method, checked.answer.status, checked.answer.responder) == ("api", "good", "测试CA证书验证服务")
    assert responder.state.served == 0  # the OCSP responder is not asked in this mode


def test_a_revoked_certificate_is_revoked_with_time_and_reason(responder, validation_api, monkeypatch):
    data, cert = signed_report(responder)
    serial = x509.load_der_x509_certificate(cert).serial_number
    validation_api.state.revoked[serial] = (datetime(2026, 9, 1, 12, 0, tzinfo=UTC), "superseded")
    got = answer(api_settings(monkeypatch, validation_api), data).answer
    assert (got.status, got.revoked_at, got.revocation_reason) == (
        "revoked", datetime(2026, 9, 1, 12, 0, tzinfo=UTC), "superseded")


def test_a_certificate_of_another_ca_is_unknown_with_the_services_message(responder, validation_api, monkeypatch):
    validation_api.state.issuers = {"别的CA"}
    data, _ = signed_report(responder)
    got = answer(api_settings(monkeypatch, validation_api), data).answer
    assert (got.status, got.reason) == ("unknown", "非本CA签发的证书")


def test_a_wrong_token_is_an_http_refusal_not_a_verdict(responder, validation_api, monkeypatch):
    data, _ = signed_report(responder)
    settings = configure(monkeypatch, ca_validation="api", ca_validation_url=validation_api.url,
                         ca_validation_token="wrong")
    got = answer(settings, data).answer
    assert (got.status, got.reason) == ("unreachable", "CA 验证服务返回 HTTP 401")


def test_an_answer_that_is_not_the_contracts_json_is_refused(responder, validation_api, monkeypatch):
    data, _ = signed_report(responder)
    validation_api.state.garbage = True
    got = answer(api_settings(monkeypatch, validation_api), data).answer
    assert (got.status, got.reason) == ("rejected", "CA 验证服务的应答格式不正确，不予采信")


def test_an_answer_without_our_nonce_is_refused(responder, validation_api, monkeypatch):
    data, _ = signed_report(responder)
    validation_api.state.nonce = "omit"
    got = answer(api_settings(monkeypatch, validation_api), data).answer
    assert got.status == "rejected" and "随机数（nonce）" in got.reason


def test_a_closed_port_and_a_slow_service_are_unreachable(responder, validation_api, monkeypatch):
    data, _ = signed_report(responder)
    closed = configure(monkeypatch, ca_validation="api", ca_validation_url=f"http://127.0.0.1:{closed_port()}/v")
    assert answer(closed, data).answer.reason == "无法连接 CA 验证服务（连接被拒绝或地址不可达）"
    validation_api.state.delay = 3
    slow = api_settings(monkeypatch, validation_api, ca_validation_timeout="0.5")
    assert answer(slow, data).answer.reason == "CA 验证服务在 0.5 秒内未应答（超时）"


def test_without_a_service_url_nothing_is_asked(responder, monkeypatch):
    data, _ = signed_report(responder)
    got = answer(configure(monkeypatch, ca_validation="api"), data).answer
    assert (got.status, got.reason) == ("unreachable", "未设置 CA 验证服务地址（BINGAN_CA_VALIDATION_URL）")


def test_an_sm2_signed_pdf_of_a_chinese_ca_is_checked_through_the_service(monkeypatch):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fixtures"))
    import formats_gen
    import ofd_sign_gen
    from ca_support import REPORT
    from ingest_support import pdf
    from peers.ca_validation_api import CaValidationApiPeer

    ca = ofd_sign_gen.default_ca()
    data = ofd_sign_gen.with_sm2_signature(formats_gen.signed_pdf(pdf(REPORT), formats_gen.test_ca()))
    with CaValidationApiPeer(ca.name) as service_peer:
        checked = answer(api_settings(monkeypatch, service_peer), data)
    assert (checked.subject, checked.answer.status) == ("李医生", "good")
