"""The issuer a signed report left out, fetched from its certificate's caIssuers address (RFC 5280
§4.2.2.1) so the CA can be asked: DER, PEM or PKCS #7, size-limited, within the timeout — used
only to build the chain, which must reach a root the hospital configured. The peer is a CA with a
root and an intermediate (tests/peers/ocsp.py): it serves the intermediate at GET /ca.crt and
answers OCSP for the certificates the intermediate issues. No database here."""
from __future__ import annotations

import pytest
from ca_support import configure, signed_by
from peers.ocsp import OcspPeer

from bingan.formats.signer_certificates import signing_certificates
from bingan.records.ca_validation import issuers, service

pytestmark = pytest.mark.timeout(60)
PDF = "application/pdf"


@pytest.fixture
def ca():
    """A CA whose signers' certificates are issued by an intermediate, as at real CAs."""
    issuers._fetched.clear()
    with OcspPeer(intermediate=True) as peer:
        yield peer
    issuers._fetched.clear()


@pytest.fixture
def roots(ca, tmp_path):
    """The hospital's trusted list: the CA's root only."""
    path = tmp_path / "roots.pem"
    path.write_bytes(ca.root_pem)
    return str(path)


def report_without_issuer(ca, signer: str = "李医生", **issue) -> bytes:
    """A PDF whose signature carries the signer's certificate only, not the intermediate."""
    key, cert = ca.issue(signer, ca_issuers=True, **issue)
    return signed_by(key, [cert], signer)


def check(settings, data: bytes) -> service.Checked:
    [checked] = service.check_certificates(settings, signing_certificates(data, PDF))
    return checked


@pytest.mark.parametrize("served", ["der", "pem", "p7c"])
def test_the_missing_issuer_is_fetched_and_the_ca_asked(ca, roots, monkeypatch, served):
    ca.state.issuer_format = served
    settings = configure(monkeypatch, ca_validation="ocsp", signature_trust_roots=roots)
    answer = check(settings, report_without_issuer(ca)).answer
    assert (answer.status, answer.responder) == ("good", ca.url)
    assert (ca.state.issuer_fetches, ca.state.served) == (1, 1)


def test_a_fetched_issuer_is_fetched_once_for_the_documents_after(ca, roots, monkeypatch):
    settings = configure(monkeypatch, ca_validation="ocsp", signature_trust_roots=roots)
    for signer in ("李医生", "王护士"):
        assert check(settings, report_without_issuer(ca, signer)).answer.status == "good"
    assert (ca.state.issuer_fetches, ca.state.served) == (1, 2)


def test_a_fetched_issuer_that_reaches_no_configured_root_is_not_used(ca, monkeypatch):
    answer = check(configure(monkeypatch, ca_validation="ocsp"), report_without_issuer(ca)).answer
    assert answer.status == "unreachable" and "不能链到受信任的根证书" in answer.reason
    assert answer.reason.startswith("找不到签名证书的签发机构证书")
    assert ca.state.served == 0  # trust comes from the configured roots, not from the download


def test_a_certificate_that_did_not_issue_the_signers_is_not_used(ca, roots, monkeypatch):
    with OcspPeer("另一CA") as other:
        ca.state.issuer_body = other.ca_der
        answer = check(configure(monkeypatch, ca_validation="ocsp", signature_trust_roots=roots),
                       report_without_issuer(ca)).answer
    assert answer.status == "unreachable" and "提供的证书不是本证书的签发机构证书" in answer.reason
    assert ca.state.served == 0


def test_a_download_that_is_no_certificate_or_too_large_is_refused(ca, roots, monkeypatch):
    settings = configure(monkeypatch, ca_validation="ocsp", signature_trust_roots=roots)
    ca.state.issuer_body = b"<html>404 Not Found</html>"
    assert "提供的不是证书" in check(settings, report_without_issuer(ca)).answer.reason
    ca.state.issuer_body = b"0" * (issuers.MAX_BYTES + 1)
    assert "下载内容过大" in check(settings, report_without_issuer(ca)).answer.reason
    assert ca.state.served == 0


def test_a_slow_download_gives_up_at_the_timeout(ca, roots, monkeypatch):
    ca.state.delay = 2
    settings = configure(monkeypatch, ca_validation="ocsp", signature_trust_roots=roots, ca_validation_timeout="0.5")
    answer = check(settings, report_without_issuer(ca)).answer
    assert answer.status == "unreachable" and "下载签发机构证书超时" in answer.reason


def test_a_certificate_without_a_caissuers_address_says_so(ca, roots, monkeypatch):
    key, cert = ca.issue("李医生")
    answer = check(configure(monkeypatch, ca_validation="ocsp", signature_trust_roots=roots),
                   signed_by(key, [cert])).answer
    assert "证书未注明签发机构证书的下载地址（caIssuers）" in answer.reason and ca.state.issuer_fetches == 0
