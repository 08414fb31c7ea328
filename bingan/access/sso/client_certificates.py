"""CA certificate login (R3): the TLS proxy verified the browser's certificate (mutual TLS) and passes
it on; Bingan checks it again — issued by a CA on the hospital's list, within its validity, not
revoked (CRL file, OCSP) — and finds its user by staff number, subject or serial. No name is typed.

The chain and validity checks reuse the certificate helpers of the signature verifier
(bingan.formats.ofd.certs), so SM2 certificates of Chinese CAs are checked as RSA and ECDSA ones.
"""
from __future__ import annotations

import base64
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote

import httpx
from asn1crypto import core
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID

from bingan.access.sessions import LoginRefused
from bingan.access.sso.identities import Asserted
from bingan.config import Settings
from bingan.formats.ofd.certs import issued_by, load, validity_problem

OCSP_TIMEOUT = 5.0


def from_header(value: str) -> bytes:
    """DER of the certificate a proxy passed: URL-escaped PEM (nginx $ssl_client_escaped_cert),
    PEM with its line breaks folded into spaces ($ssl_client_cert), or bare base64 DER."""
    text = unquote(value.strip())
    body = text.replace("-----BEGIN CERTIFICATE-----", "").replace("-----END CERTIFICATE-----", "")
    try:
        return base64.b64decode("".join(body.split()), validate=True)
    except ValueError as error:
        raise LoginRefused("未能读取客户端证书（代理传来的证书格式不正确）") from error


def check(settings: Settings, der: bytes, now: datetime) -> x509.Certificate:
    """The certificate when it may log in; LoginRefused with the reason in Chinese otherwise."""
    parsed = load(der)
    if parsed is None:
        raise LoginRefused("未能读取客户端证书（证书格式不正确）")
    issuer = _issuer(settings, der)
    problem = validity_problem(parsed, now, "登录时间")
    if problem:
        raise LoginRefused(f"证书已过期或尚未生效（{problem}）")
    cert = x509.load_der_x509_certificate(der)
    if settings.client_cert_crl_file:
        _crl_verdict(settings.client_cert_crl_file, cert, issuer, now)
    if settings.client_cert_ocsp:
        _ocsp_verdict(cert, issuer)
    return cert


def asserted(settings: Settings, cert: x509.Certificate) -> Asserted:
    """The identity the certificate stands for, keyed as the hospital chose to bind certificates."""
    serial_key = f"{cert.issuer.rfc4514_string()}|{cert.serial_number:X}"
    if settings.client_cert_match == "subject":
        return Asserted("certificate", f"subject:{cert.subject.rfc4514_string()}", "", _name(cert))
    if settings.client_cert_match == "serial":
        return Asserted("certificate", f"serial:{serial_key}", "", _name(cert))
    return Asserted("certificate", f"serial:{serial_key}", staff_number(cert, settings.client_cert_staff_oid),
                    _name(cert))


def binding_subject(settings: Settings, cert: x509.Certificate) -> str:
    """The key under which an administrator binds this certificate to a user (subject or serial mode)."""
    return asserted(settings, cert).subject


def staff_number(cert: x509.Certificate, oid: str) -> str:
    """The staff number from the subject attribute, or else the extension, named by ``oid``."""
    for attribute in cert.subject.get_attributes_for_oid(x509.ObjectIdentifier(oid)):
        return str(attribute.value).strip()
    try:
        extension = cert.extensions.get_extension_for_oid(x509.ObjectIdentifier(oid)).value
    except x509.ExtensionNotFound:
        return ""
    raw = getattr(extension, "value", b"")
    try:  # CA vendors wrap the number in some ASN.1 string type; a bare value is read as text
        return str(core.Asn1Value.load(raw).native).strip()
    except Exception:
        return raw.decode("utf-8", "replace").strip()


def _name(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


def _issuer(settings: Settings, der: bytes) -> x509.Certificate:
    """The hospital-listed CA that issued the certificate (SM2, RSA or ECDSA)."""
    for ca_der in _trusted(settings.client_cert_ca_file, _mtime(settings.client_cert_ca_file)):
        if issued_by(der, ca_der):
            return x509.load_der_x509_certificate(ca_der)
    raise LoginRefused("证书不是由医院认可的 CA 签发，不能用于登录")


@lru_cache(maxsize=4)  # keyed by the file's modification time: a replaced list is read again
def _trusted(path: Path | None, mtime: float) -> tuple[bytes, ...]:
    if path is None:
        return ()
    return tuple(c.public_bytes(serialization.Encoding.DER) for c in x509.load_pem_x509_certificates(path.read_bytes()))


def _mtime(path: Path | None) -> float:
    try:
        return path.stat().st_mtime if path else 0.0
    except OSError:
        return 0.0


def _crl_verdict(path: Path, cert: x509.Certificate, issuer: x509.Certificate, now: datetime) -> None:
    """Refused when revoked; also when the CRL cannot be trusted or is stale: a login must not pass
    because the revocation list was not kept up to date."""
    crl = _crl(path, _mtime(path))
    if crl is None:
        raise LoginRefused("证书吊销列表 (CRL) 无法读取，暂不能使用证书登录，请联系信息科")
    if crl.issuer != issuer.subject:
        return  # another CA's list says nothing about this certificate
    if not crl.is_signature_valid(issuer.public_key()):
        raise LoginRefused("证书吊销列表 (CRL) 的签名不正确，暂不能使用证书登录，请联系信息科")
    if crl.next_update_utc is not None and crl.next_update_utc < now:
        raise LoginRefused(f"证书吊销列表 (CRL) 已过期（应于 {crl.next_update_utc:%Y-%m-%d %H:%M} 前更新），"
                           "暂不能使用证书登录，请联系信息科")
    revoked = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    if revoked is not None:
        raise LoginRefused(f"证书已吊销（{revoked.revocation_date_utc:%Y-%m-%d}），不能用于登录")


@lru_cache(maxsize=4)
def _crl(path: Path, mtime: float) -> x509.CertificateRevocationList | None:
    try:
        data = path.read_bytes()
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except (OSError, ValueError):
        return None


def _ocsp_verdict(cert: x509.Certificate, issuer: x509.Certificate) -> None:
    """Asks the responder the certificate names; anything but a signed GOOD is a refusal."""
    url = _ocsp_url(cert)
    if not url:
        raise LoginRefused("证书未注明 OCSP 服务地址，无法在线核验吊销状态")
    request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA256()).build()
    try:
        answer = httpx.post(url, content=request.public_bytes(serialization.Encoding.DER),
                            headers={"Content-Type": "application/ocsp-request"}, timeout=OCSP_TIMEOUT)
        response = ocsp.load_der_ocsp_response(answer.raise_for_status().content)
    except Exception as error:
        raise LoginRefused(f"无法连接 OCSP 服务核验证书状态：{str(error)[:120]}") from error
    if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL or not _ocsp_signed(response, issuer):
        raise LoginRefused("OCSP 服务的应答无效，无法核验证书状态")
    if response.serial_number != cert.serial_number:
        raise LoginRefused("OCSP 服务的应答不是本证书的，无法核验证书状态")
    if response.certificate_status == ocsp.OCSPCertStatus.REVOKED:
        raise LoginRefused(f"证书已吊销（{response.revocation_time_utc:%Y-%m-%d}），不能用于登录")
    if response.certificate_status != ocsp.OCSPCertStatus.GOOD:
        raise LoginRefused("OCSP 服务不认识此证书，不能用于登录")


def _ocsp_url(cert: x509.Certificate) -> str:
    try:
        access = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return ""
    urls = [a.access_location.value for a in access if a.access_method == AuthorityInformationAccessOID.OCSP]
    return urls[0] if urls else ""


def _ocsp_signed(response: ocsp.OCSPResponse, issuer: x509.Certificate) -> bool:
    """Signed by the CA itself or by a responder certificate the CA issued (RFC 6960 §4.2.2.2)."""
    issuer_der = issuer.public_bytes(serialization.Encoding.DER)
    signers = [issuer] + [c for c in response.certificates
                          if issued_by(c.public_bytes(serialization.Encoding.DER), issuer_der)]
    for signer in signers:
        try:
            signer.public_key().verify(response.signature, response.tbs_response_bytes,
                                       *_verify_args(signer, response.signature_hash_algorithm))
            return True
        except Exception:
            continue
    return False


def _verify_args(signer: x509.Certificate, algorithm: hashes.HashAlgorithm | None) -> tuple:
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    key = signer.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return (padding.PKCS1v15(), algorithm)
    if isinstance(key, ec.EllipticCurvePublicKey):
        return (ec.ECDSA(algorithm),)
    return ()
