"""Helpers of the CA-validation tests: signed reports and settings."""
from __future__ import annotations

import socket

from ingest_support import pdf

from bingan.config import Settings, get_settings, reset_settings
from bingan.formats.pades import sign_pdf

REPORT = [["检查报告", "超声所见：肝脏大小形态正常。", "超声提示：肝胆胰脾未见明显异常。"]]


def signed_report(peer, signer: str = "李医生", *, with_chain: bool = True, names_responder: bool = True,
                  lines: list[list[str]] | None = None) -> tuple[bytes, bytes]:
    """(PDF signed by a new certificate of the peer's CA, that certificate's DER)."""
    key, cert = peer.issue(signer, names_responder=names_responder)
    chain = [cert, peer.ca_der] if with_chain else [cert]
    data = sign_pdf(pdf(lines or REPORT), key, chain, reason="报告签发", location="检查科", name=signer)
    return data, cert


def signed_by(key: bytes, chain: list[bytes], signer: str = "李医生", lines: list[list[str]] | None = None) -> bytes:
    """Another PDF signed with a key and certificate chain issued before (``signed_report``'s)."""
    return sign_pdf(pdf(lines or REPORT), key, chain, reason="报告签发", location="检查科", name=signer)


def configure(monkeypatch, **values: str) -> Settings:
    """Settings with BINGAN_<NAME>=value for each keyword."""
    for name, value in values.items():
        monkeypatch.setenv(f"BINGAN_{name.upper()}", value)
    reset_settings()
    return get_settings()


def closed_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def countersigned(data: bytes, peer, key: bytes, cert: bytes, field: str) -> bytes:
    """``data`` signed again, in the signature field ``field``, by ``key`` and ``cert`` of the peer's CA."""
    import io

    from asn1crypto import keys, x509
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    pdf_signer = signers.SimpleSigner(signing_cert=x509.Certificate.load(cert),
                                      signing_key=keys.PrivateKeyInfo.load(key),
                                      cert_registry=SimpleCertificateStore.from_certs([x509.Certificate.load(peer.ca_der)]))
    meta = signers.PdfSignatureMetadata(field_name=field)
    return signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(data)), meta, signer=pdf_signer).getvalue()


def sm2_ocsp_response(ca, cert_der: bytes, nonce: bytes, *, sign=None) -> bytes:
    """A good OCSPResponse about ``cert_der`` signed with SM2/SM3 by the SM2 test CA ``ca``
    (tests/fixtures/ofd_sign_gen.py), built with asn1crypto from RFC 6960 §4.2.1: cryptography
    cannot sign with SM2. ``sign`` replaces the CA's signing (another key)."""
    import hashlib
    from datetime import UTC, datetime, timedelta

    from asn1crypto import core, ocsp, x509

    issuer = x509.Certificate.load(ca.cert)
    key_bits = bytes(issuer["tbs_certificate"]["subject_public_key_info"]["public_key"].contents)[1:]
    cert = x509.Certificate.load(cert_der)
    now = datetime.now(UTC).replace(microsecond=0)
    single = {
        "cert_id": {"hash_algorithm": {"algorithm": "sha1"},
                    "issuer_name_hash": hashlib.sha1(cert["tbs_certificate"]["issuer"].dump()).digest(),
                    "issuer_key_hash": hashlib.sha1(key_bits).digest(), "serial_number": cert.serial_number},
        "cert_status": ocsp.CertStatus(name="good", value=core.Null()),
        "this_update": now - timedelta(minutes=1), "next_update": now + timedelta(hours=1)}
    data = ocsp.ResponseData({
        "responder_id": ocsp.ResponderId(name="by_key", value=hashlib.sha1(key_bits).digest()),
        "produced_at": now, "responses": [single],
        "response_extensions": [{"extn_id": "nonce", "extn_value": nonce}]})
    sm2_with_sm3 = {"algorithm": "1.2.156.10197.1.501"}
    basic = ocsp.BasicOCSPResponse({"tbs_response_data": data, "signature_algorithm": sm2_with_sm3,
                                    "signature": (sign or ca.sign)(data.dump())})
    return ocsp.OCSPResponse({"response_status": "successful", "response_bytes": {
        "response_type": "basic_ocsp_response", "response": basic}}).dump()
