"""联机验证 by OCSP (RFC 6960): the signing certificate of a signed report, asked about at the real
responder of its CA (tests/peers/ocsp.py). Good, revoked and unknown are the responder's answers;
an answer not signed by the CA or its authorised responder, with another nonce, or out of date
is refused; no answer (closed port, timeout) is recorded as such. No database here."""
from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from ca_support import closed_port, configure, countersigned, signed_report
from cryptography import x509
from cryptography.x509 import ocsp as x509_ocsp
from peers.ocsp import OcspPeer

from bingan.formats.signer_certificates import signing_certificates
from bingan.records.ca_validation import service

pytestmark = pytest.mark.timeout(60)
PDF = "application/pdf"


def check(settings, data: bytes) -> service.Checked:
    [checked] = service.check_certificates(settings, signing_certificates(data, PDF))
    return checked


def test_a_good_certificate_is_good_with_the_responder_and_its_validity_window(responder, monkeypatch):
    data, cert = signed_report(responder)
    checked = check(configure(monkeypatch, ca_validation="ocsp"), data)
    assert checked.answer.status == "good" and checked.answer.reason == ""
    assert checked.answer.responder == responder.url  # the AIA URL the certificate names
    assert checked.answer.this_update <= datetime.now(UTC) < checked.answer.next_update
    serial = format(x509.load_der_x509_certificate(cert).serial_number, "x")
    assert (checked.subject, checked.serial) == ("李医生", serial)
    assert responder.state.served == 1 and len(responder.state.nonces[0]) == 16  # a nonce was sent


def test_a_revoked_certificate_is_revoked_with_its_time_and_reason(responder, monkeypatch):
    data, cert = signed_report(responder)
    responder.revoke(cert, datetime(2026, 11, 2, 8, 30, tzinfo=UTC), x509.ReasonFlags.key_compromise)
    answer = check(configure(monkeypatch, ca_validation="ocsp"), data).answer
    assert (answer.status, answer.revoked_at, answer.revocation_reason) == (
        "revoked", datetime(2026, 11, 2, 8, 30, tzinfo=UTC), "keyCompromise")


def test_a_certificate_the_ca_does_not_know_is_unknown(responder, monkeypatch):
    data, cert = signed_report(responder)
    responder.forget(cert)
    answer = check(configure(monkeypatch, ca_validation="ocsp"), data).answer
    assert answer.status == "unknown" and "不认识" in answer.reason


def test_a_closed_port_is_unreachable_and_says_so(responder, monkeypatch):
    data, _ = signed_report(responder)
    settings = configure(monkeypatch, ca_validation="ocsp", ca_ocsp_url=f"http://127.0.0.1:{closed_port()}/ocsp")
    answer = check(settings, data).answer
    assert answer.status == "unreachable" and answer.reason == "无法连接 OCSP 服务（连接被拒绝或地址不可达）"


def test_a_responder_slower_than_the_timeout_is_unreachable_after_the_timeout(responder, monkeypatch):
    data, _ = signed_report(responder)
    responder.state.delay = 3
    settings = configure(monkeypatch, ca_validation="ocsp", ca_validation_timeout="0.5")
    started = time.monotonic()
    answer = check(settings, data).answer
    assert answer.status == "unreachable" and answer.reason == "OCSP 服务在 0.5 秒内未应答（超时）"
    assert time.monotonic() - started < 2.5


def test_an_answer_signed_by_another_key_under_the_cas_name_is_refused(responder, monkeypatch):
    data, cert = signed_report(responder)
    responder.revoke(cert, datetime(2026, 11, 2, tzinfo=UTC))  # the impostor would say revoked or good alike
    responder.state.wrong_key = True
    answer = check(configure(monkeypatch, ca_validation="ocsp"), data).answer
    assert answer.status == "rejected" and answer.reason == "OCSP 应答由签发机构以外的证书签名，不予采信"


def test_an_answer_with_another_nonce_is_refused_as_a_replay(responder, monkeypatch):
    data, _ = signed_report(responder)
    responder.state.nonce = "wrong"
    answer = check(configure(monkeypatch, ca_validation="ocsp"), data).answer
    assert answer.status == "rejected" and "随机数（nonce）与请求不符" in answer.reason


def test_a_pre_produced_answer_without_nonce_is_believed_while_current(responder, monkeypatch):
    data, _ = signed_report(responder)
    responder.state.nonce = "omit"  # RFC 5019 responders answer from a cache, without the nonce
    assert check(configure(monkeypatch, ca_validation="ocsp"), data).answer.status == "good"


def test_an_answer_past_its_next_update_is_refused(responder, monkeypatch):
    data, _ = signed_report(responder)
    responder.state.stale = True
    answer = check(configure(monkeypatch, ca_validation="ocsp"), data).answer
    assert answer.status == "rejected" and answer.reason.startswith("OCSP 应答已过期（nextUpdate")


def test_a_responder_that_answers_try_later_gave_no_result(responder, monkeypatch):
    data, _ = signed_report(responder)
    responder.state.status = x509_ocsp.OCSPResponseStatus.TRY_LATER
    answer = check(configure(monkeypatch, ca_validation="ocsp"), data).answer
    assert answer.status == "unreachable" and "tryLater" in answer.reason


def test_a_delegated_responder_of_the_ca_is_believed(monkeypatch):
    with OcspPeer(delegated=True) as delegated:
        data, cert = signed_report(delegated)
        delegated.revoke(cert, datetime(2026, 10, 1, tzinfo=UTC))
        assert check(configure(monkeypatch, ca_validation="ocsp"), data).answer.status == "revoked"


def test_a_delegated_responder_without_the_ocsp_signing_usage_is_refused(monkeypatch):
    with OcspPeer(delegated=True, responder_eku=False) as delegated:
        data, _ = signed_report(delegated)
        answer = check(configure(monkeypatch, ca_validation="ocsp"), data).answer
        assert answer.status == "rejected" and "OCSPSigning" in answer.reason


def test_the_configured_responder_is_asked_instead_of_the_certificates_own(responder, monkeypatch):
    data, _ = signed_report(responder, names_responder=False)
    settings = configure(monkeypatch, ca_validation="ocsp")
    assert check(settings, data).answer.reason == "签名证书未注明 OCSP 服务地址，也未设置 BINGAN_CA_OCSP_URL"
    settings = configure(monkeypatch, ca_validation="ocsp", ca_ocsp_url=responder.url)
    assert check(settings, data).answer.status == "good"


def test_without_the_issuers_certificate_no_request_can_be_made(responder, monkeypatch, tmp_path):
    data, _ = signed_report(responder, with_chain=False)
    answer = check(configure(monkeypatch, ca_validation="ocsp"), data).answer
    assert answer.status == "unreachable" and answer.reason.startswith("找不到签名证书的签发机构证书")
    assert responder.state.served == 0
    roots = tmp_path / "roots.pem"  # the hospital's trusted CA list supplies it
    roots.write_bytes(responder.ca_pem)
    settings = configure(monkeypatch, ca_validation="ocsp", signature_trust_roots=str(roots))
    assert check(settings, data).answer.status == "good"


def test_a_file_is_read_in_a_guarded_child_and_each_signature_checked_once_per_certificate(responder, monkeypatch):
    data, _ = signed_report(responder)
    key, cert = responder.issue("王护士")
    twice = countersigned(countersigned(data, responder, key, cert, "复核一"), responder, key, cert, "复核二")
    checks = service.check_file(configure(monkeypatch, ca_validation="ocsp"), twice, PDF, 3)
    assert [(c.index, c.subject, c.answer.status) for c in checks] == [
        (0, "李医生", "good"), (1, "王护士", "good"), (2, "王护士", "good")]
    assert responder.state.served == 2  # 王护士's certificate signed twice: asked about once


def test_nothing_is_asked_when_validation_is_off(responder, monkeypatch):
    data, _ = signed_report(responder)
    assert service.check_file(configure(monkeypatch, ca_validation="off"), data, PDF, 1) == []
    assert responder.state.served == 0


def test_an_sm2_responder_of_a_chinese_ca_is_believed_and_another_sm2_key_is_not():
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fixtures"))
    import ofd_sign_gen
    from ca_support import sm2_ocsp_response

    from bingan.records.ca_validation.ocsp import judge

    ca = ofd_sign_gen.default_ca()
    cert = ofd_sign_gen.sm2_certificate(ofd_sign_gen.Sm2Key.generate(5), "李医生", issuer=ca)
    nonce, now = b"n" * 16, datetime.now(UTC)
    good = x509_ocsp.load_der_ocsp_response(sm2_ocsp_response(ca, cert, nonce))
    assert judge(good, cert, ca.cert, nonce, "http://ocsp.sm2.example/", now).status == "good"
    forged = x509_ocsp.load_der_ocsp_response(
        sm2_ocsp_response(ca, cert, nonce, sign=ofd_sign_gen.Sm2Key.generate(6).sign))
    answer = judge(forged, cert, ca.cert, nonce, "http://ocsp.sm2.example/", now)
    assert answer.status == "rejected" and "签名无法用签发机构" in answer.reason


def test_a_silent_responder_costs_one_timeout_per_file_not_one_per_signer(responder, monkeypatch):
    data, _ = signed_report(responder)
    key, cert = responder.issue("王护士")
    twice = countersigned(data, responder, key, cert, "复核")
    responder.state.delay = 3
    settings = configure(monkeypatch, ca_validation="ocsp", ca_validation_timeout="1")
    started = time.monotonic()
    checks = service.check_file(settings, twice, PDF, 2)
    assert [c.answer.reason for c in checks] == ["OCSP 服务在 1 秒内未应答（超时）"] * 2
    assert time.monotonic() - started < 1.9  # two questions would have waited 2 s
