"""An OCSP client (RFC 6960) for the signing certificates of collected documents.

The request names the certificate by a SHA-1 CertID (what every responder answers, RFC 5019
§2.1.1; the hash only identifies the certificate) and carries a random nonce. The answer is
believed only when:

* it is signed by the certificate's issuer, or by a responder certificate that issuer made for
  OCSP signing (extended key usage id-kp-OCSPSigning, valid now; RFC 6960 §4.2.2.2), and the
  signature verifies (RSA, ECDSA, or SM2 through the certificate helpers of formats/);
* its nonce, when it has one, is the one sent (a replayed answer has another);
* its single response is about this certificate (issuer name and key hashes, serial);
* it is current: thisUpdate not in the future, nextUpdate not past; without nextUpdate and
  without our nonce, thisUpdate within a day (a pre-produced answer must not be ancient).

Anything else is "rejected" (an answer we refuse) or "unreachable" (no answer), each with the
reason in Chinese. Network, no database: the caller stores the answer.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import httpx
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from bingan.formats.ofd import certs

CLOCK_SKEW = timedelta(minutes=5)
NO_NEXT_UPDATE_MAX_AGE = timedelta(days=1)
MAX_ANSWER_BYTES = 1 << 20

RESPONSE_STATUS = {
    ocsp.OCSPResponseStatus.MALFORMED_REQUEST: "请求格式错误（malformedRequest）",
    ocsp.OCSPResponseStatus.INTERNAL_ERROR: "服务内部错误（internalError）",
    ocsp.OCSPResponseStatus.TRY_LATER: "服务繁忙，请稍后再试（tryLater）",
    ocsp.OCSPResponseStatus.SIG_REQUIRED: "要求请求签名（sigRequired）",
    ocsp.OCSPResponseStatus.UNAUTHORIZED: "无权查询此证书（unauthorized）",
}


@dataclass(frozen=True)
class Answer:
    """What a responder said about one certificate, or why it said nothing we believe."""

    status: str  # good | revoked | unknown | unreachable | rejected
    reason: str = ""  # Chinese; for unreachable and rejected, why
    responder: str = ""  # the URL asked
    revoked_at: datetime | None = None
    revocation_reason: str = ""  # RFC 5280 CRLReason (cryptography's ReasonFlags value), e.g. keyCompromise
    this_update: datetime | None = None
    next_update: datetime | None = None
    offline: bool = False  # no answer from the responder at all (connection, timeout, HTTP error)
    asked_at: datetime | None = None  # set on an answer kept from an earlier question (cache.py): when asked
    cached: bool = False


def client() -> httpx.Client:
    """One HTTP client per process: a new one costs an SSL context (tens of ms) per question.
    Keyed by process id, so a forked worker never shares its parent's connections."""
    return _client(os.getpid())


@lru_cache(maxsize=1)
def _client(_pid: int) -> httpx.Client:
    return httpx.Client(follow_redirects=False)


def responder_url(cert_der: bytes) -> str:
    """The OCSP responder the certificate names (AIA id-ad-ocsp), or ""."""
    try:
        cert = x509.load_der_x509_certificate(cert_der)
        access = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except (ValueError, x509.ExtensionNotFound):
        return ""
    urls = [a.access_location.value for a in access
            if a.access_method == AuthorityInformationAccessOID.OCSP
            and isinstance(a.access_location, x509.UniformResourceIdentifier)]
    return next((u for u in urls if u.startswith(("http://", "https://"))), "")


def cert_id_hashes(cert_der: bytes, issuer_der: bytes, algorithm: str = "sha1") -> tuple[bytes, bytes, int]:
    """(issuerNameHash, issuerKeyHash, serialNumber) of the certificate's CertID (RFC 6960 §4.1.1):
    read with asn1crypto, so SM2 certificates (whose keys cryptography cannot load) work too."""
    cert, issuer = asn1_x509.Certificate.load(cert_der), asn1_x509.Certificate.load(issuer_der)
    key_bits = bytes(issuer["tbs_certificate"]["subject_public_key_info"]["public_key"].contents)[1:]
    name = cert["tbs_certificate"]["issuer"].dump()
    return hashlib.new(algorithm, name).digest(), hashlib.new(algorithm, key_bits).digest(), cert.serial_number


def ask(cert_der: bytes, issuer_der: bytes, url: str, *, timeout: float, now: datetime | None = None) -> Answer:
    """The responder at ``url``'s believed answer about the certificate issued by ``issuer_der``."""
    now = now or datetime.now(UTC)
    name_hash, key_hash, serial = cert_id_hashes(cert_der, issuer_der)
    nonce = os.urandom(16)
    request = (ocsp.OCSPRequestBuilder()
               .add_certificate_by_hash(name_hash, key_hash, serial, hashes.SHA1())
               .add_extension(x509.OCSPNonce(nonce), critical=False).build())
    body = request.public_bytes(serialization.Encoding.DER)
    try:
        reply = client().post(url, content=body, timeout=timeout,
                           headers={"Content-Type": "application/ocsp-request", "Accept": "application/ocsp-response"})
    except httpx.TimeoutException:
        return Answer("unreachable", f"OCSP 服务在 {timeout:g} 秒内未应答（超时）", url, offline=True)
    except httpx.HTTPError as error:
        return Answer("unreachable", f"无法连接 OCSP 服务（{_network_reason(error)}）", url, offline=True)
    if reply.status_code != 200:
        return Answer("unreachable", f"OCSP 服务返回 HTTP {reply.status_code}", url, offline=True)
    if len(reply.content) > MAX_ANSWER_BYTES:
        return Answer("rejected", "OCSP 应答过大，不予采信", url)
    try:
        response = ocsp.load_der_ocsp_response(reply.content)
    except ValueError:
        return Answer("rejected", "OCSP 应答无法解析（不是 RFC 6960 格式）", url)
    return judge(response, cert_der, issuer_der, nonce, url, now)


def judge(response: ocsp.OCSPResponse, cert_der: bytes, issuer_der: bytes, nonce: bytes | None, url: str,
          now: datetime) -> Answer:
    """The checks of the module's docstring, in order; the first that fails is the reason."""
    if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        return Answer("unreachable", f"OCSP 服务未给出结果：{RESPONSE_STATUS.get(response.response_status, '')}", url)
    problem = _signature_problem(response, issuer_der, now)
    if problem:
        return Answer("rejected", problem, url)
    echoed = _nonce(response)
    if nonce is not None and echoed is not None and echoed != nonce:
        return Answer("rejected", "OCSP 应答中的随机数（nonce）与请求不符，可能是重放的旧应答，不予采信", url)
    single = _single(response, cert_der, issuer_der)
    if single is None:
        return Answer("rejected", "OCSP 应答不是关于本证书的（证书标识不符），不予采信", url)
    this_update, next_update = single.this_update_utc, single.next_update_utc
    stale = _staleness(this_update, next_update, fresh=echoed is not None, now=now)
    if stale:
        return Answer("rejected", stale, url, this_update=this_update, next_update=next_update)
    status = single.certificate_status
    if status == ocsp.OCSPCertStatus.GOOD:
        return Answer("good", "", url, this_update=this_update, next_update=next_update)
    if status == ocsp.OCSPCertStatus.REVOKED:
        reason = single.revocation_reason.value if single.revocation_reason else ""
        return Answer("revoked", "", url, revoked_at=single.revocation_time_utc, revocation_reason=reason,
                      this_update=this_update, next_update=next_update)
    return Answer("unknown", "OCSP 服务不认识此证书（unknown）", url, this_update=this_update, next_update=next_update)


def _network_reason(error: httpx.HTTPError) -> str:
    if isinstance(error, httpx.ConnectError):
        return "连接被拒绝或地址不可达"
    return type(error).__name__


def _nonce(response: ocsp.OCSPResponse) -> bytes | None:
    try:
        return response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
    except x509.ExtensionNotFound:
        return None


def _single(response: ocsp.OCSPResponse, cert_der: bytes, issuer_der: bytes) -> ocsp.OCSPSingleResponse | None:
    for single in response.responses:
        name_hash, key_hash, serial = cert_id_hashes(cert_der, issuer_der, single.hash_algorithm.name)
        if (single.serial_number, single.issuer_name_hash, single.issuer_key_hash) == (serial, name_hash, key_hash):
            return single
    return None


def _staleness(this_update: datetime, next_update: datetime | None, *, fresh: bool, now: datetime) -> str:
    if this_update > now + CLOCK_SKEW:
        return f"OCSP 应答的生效时间（thisUpdate {this_update:%Y-%m-%d %H:%M} UTC）晚于现在，不予采信"
    if next_update is not None and next_update < now - CLOCK_SKEW:
        return f"OCSP 应答已过期（nextUpdate {next_update:%Y-%m-%d %H:%M} UTC），不予采信"
    if next_update is None and not fresh and this_update < now - NO_NEXT_UPDATE_MAX_AGE:
        return f"OCSP 应答过旧（thisUpdate {this_update:%Y-%m-%d %H:%M} UTC，无 nextUpdate），不予采信"
    return ""


def _signature_problem(response: ocsp.OCSPResponse, issuer_der: bytes, now: datetime) -> str:
    """"" when the issuer or a responder it authorised signed the answer; else why not."""
    message, value = response.tbs_response_bytes, response.signature
    algorithm = response.signature_algorithm_oid.dotted_string
    issuer = asn1_x509.Certificate.load(issuer_der)
    if _names_responder(response, issuer) and certs.verify(issuer, algorithm, message, value):
        return ""
    for delegate in response.certificates:
        der = delegate.public_bytes(serialization.Encoding.DER)
        candidate = asn1_x509.Certificate.load(der)
        if not _names_responder(response, candidate) or not certs.verify(candidate, algorithm, message, value):
            continue
        if not certs.issued_by(der, issuer_der):
            return "OCSP 应答由签发机构以外的证书签名，不予采信"
        if not _ocsp_signing(delegate):
            return "OCSP 应答的签名证书未被授权签发 OCSP 应答（缺少 OCSPSigning 扩展用途），不予采信"
        if certs.validity_problem(candidate, now, "核验时间"):
            return "OCSP 应答的签名证书已过期或尚未生效，不予采信"
        return ""
    return "OCSP 应答的签名无法用签发机构或其授权的应答证书验证，不予采信"


def _names_responder(response: ocsp.OCSPResponse, cert: asn1_x509.Certificate) -> bool:
    """The ResponderID (by name or by key hash) is this certificate."""
    if response.responder_key_hash is not None:
        key_bits = bytes(cert["tbs_certificate"]["subject_public_key_info"]["public_key"].contents)[1:]
        return hashlib.sha1(key_bits).digest() == response.responder_key_hash
    return response.responder_name is not None and response.responder_name.public_bytes() == cert.subject.dump()


def _ocsp_signing(cert: x509.Certificate) -> bool:
    try:
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return ExtendedKeyUsageOID.OCSP_SIGNING in usages
