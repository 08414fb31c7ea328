"""An OCSP responder (RFC 6960) of a test CA, in a thread: POST a DER OCSPRequest
(application/ocsp-request), get a signed OCSPResponse (application/ocsp-response) with one
SingleResponse per requested certificate — good, revoked (time and reason from ``revoked``) or
unknown (a serial in ``unknown``, or a CertID of another issuer) — echoing the request's nonce.

The CA (ECDSA P-256) issues signing certificates with ``issue``: each names this responder in its
Authority Information Access, and with ``ca_issuers=True`` also where to download the CA's
certificate (id-ad-caIssuers, RFC 5280 §4.2.2.1), which this server serves at GET /ca.crt as DER,
PEM or a certs-only PKCS #7 (``state.issuer_format``; ``state.issuer_body`` serves other bytes;
``state.issuer_fetches`` counts the downloads). With ``intermediate=True`` that CA is an
intermediate issued by a root (``root_pem``), as at real CAs. The responder signs as the CA
itself, or, with ``delegated=True``, with its own certificate issued by the CA for OCSP signing
(extended key usage id-kp-OCSPSigning, RFC 6960 §4.2.2.2; ``responder_eku=False`` leaves that
usage out), which the response carries.

Built from the RFC with cryptography's response builder, not with bingan's client code. Faults
the client must refuse, set on ``state``: ``wrong_key`` (signed by an impostor: a key that is not
the CA's nor its responder's, under the same name, its certificate attached), ``nonce`` = "wrong"
(another nonce) or "omit", ``stale`` (nextUpdate in the past), ``status`` (an unsuccessful
responseStatus such as TRY_LATER), ``delay`` seconds before answering; ``lifetime``: how far
nextUpdate lies ahead (None: none). ``served`` counts the questions answered.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID
from peers.loopback import LoopbackPeer


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "测试数字证书认证中心"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@dataclass
class OcspState:
    revoked: dict[int, tuple[datetime, x509.ReasonFlags]] = field(default_factory=dict)
    unknown: set[int] = field(default_factory=set)
    wrong_key: bool = False
    nonce: str = "echo"  # echo | wrong | omit
    stale: bool = False
    status: ocsp.OCSPResponseStatus | None = None
    delay: float = 0.0
    lifetime: timedelta | None = timedelta(hours=1)  # nextUpdate - now; None: answers without nextUpdate
    served: int = 0
    issuer_format: str = "der"  # der | pem | p7c
    issuer_body: bytes | None = None
    issuer_fetches: int = 0
    nonces: list[bytes | None] = field(default_factory=list)


class OcspPeer(LoopbackPeer):
    def __init__(self, name: str = "测试CA", *, delegated: bool = False, responder_eku: bool = True,
                 intermediate: bool = False) -> None:
        self.state = OcspState()
        self.root_key = ec.generate_private_key(ec.SECP256R1())
        root_name = f"{name} 根" if intermediate else name
        self.root = self._ca_cert(root_name, self.root_key, root_name, self.root_key)
        self.ca_key, self.ca = self.root_key, self.root
        if intermediate:
            self.ca_key = ec.generate_private_key(ec.SECP256R1())
            self.ca = self._ca_cert(name, self.ca_key, root_name, self.root_key)
        self.delegated = delegated
        self.responder_key = ec.generate_private_key(ec.SECP256R1()) if delegated else self.ca_key
        self.responder = (self._issue_cert(self.responder_key, f"{name} OCSP 服务", ocsp_signing=responder_eku)
                          if delegated else self.ca)
        super().__init__()

    @property
    def url(self) -> str:
        return f"{self.base_url}/ocsp"

    @property
    def issuer_url(self) -> str:
        return f"{self.base_url}/ca.crt"

    @property
    def root_pem(self) -> bytes:
        return self.root.public_bytes(serialization.Encoding.PEM)

    @staticmethod
    def _ca_cert(name: str, key, issuer_name: str, issuer_key):
        now = datetime.now(UTC)
        return (x509.CertificateBuilder().subject_name(_name(name)).issuer_name(_name(issuer_name))
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - timedelta(days=30)).not_valid_after(now + timedelta(days=3650))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .sign(issuer_key, hashes.SHA256()))

    def issuer_download(self) -> bytes:
        """What GET /ca.crt serves."""
        if self.state.issuer_body is not None:
            return self.state.issuer_body
        if self.state.issuer_format == "pem":
            return self.ca_pem
        if self.state.issuer_format == "p7c":
            from asn1crypto import cms
            from asn1crypto import x509 as asn1_x509

            signed = cms.SignedData({"version": "v1", "digest_algorithms": [],
                                     "encap_content_info": {"content_type": "data"},
                                     "certificates": [asn1_x509.Certificate.load(self.ca_der)], "signer_infos": []})
            return cms.ContentInfo({"content_type": "signed_data", "content": signed}).dump()
        return self.ca_der

    @property
    def ca_der(self) -> bytes:
        return self.ca.public_bytes(serialization.Encoding.DER)

    @property
    def ca_pem(self) -> bytes:
        return self.ca.public_bytes(serialization.Encoding.PEM)

    def issue(self, common_name: str, *, names_responder: bool = True, ca_issuers: bool = False) -> tuple[bytes, bytes]:
        """(PKCS#8 DER key, DER certificate) of a signer; its AIA names this responder unless told not,
        and where to download its issuer when ``ca_issuers``."""
        key = ec.generate_private_key(ec.SECP256R1())
        cert = self._issue_cert(key, common_name, aia=self.url if names_responder else None,
                                issuers_url=self.issuer_url if ca_issuers else None)
        return (key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()),
                cert.public_bytes(serialization.Encoding.DER))

    def revoke(self, cert_der: bytes, when: datetime,
               reason: x509.ReasonFlags = x509.ReasonFlags.key_compromise) -> None:
        self.state.revoked[x509.load_der_x509_certificate(cert_der).serial_number] = (when, reason)

    def forget(self, cert_der: bytes) -> None:
        """The CA answers "unknown" for this certificate from now on."""
        self.state.unknown.add(x509.load_der_x509_certificate(cert_der).serial_number)

    def _issue_cert(self, key, common_name: str, *, aia: str | None = None, issuers_url: str | None = None,
                    ocsp_signing: bool = False):
        now = datetime.now(UTC)
        builder = (x509.CertificateBuilder().subject_name(_name(common_name)).issuer_name(self.ca.subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=365))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True))
        access = [x509.AccessDescription(method, x509.UniformResourceIdentifier(url)) for method, url in (
            (AuthorityInformationAccessOID.OCSP, aia), (AuthorityInformationAccessOID.CA_ISSUERS, issuers_url)) if url]
        if access:
            builder = builder.add_extension(x509.AuthorityInformationAccess(access), critical=False)
        if ocsp_signing:
            builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False)
        return builder.sign(self.ca_key, hashes.SHA256())

    def respond(self, body: bytes) -> bytes:
        try:
            request = ocsp.load_der_ocsp_request(body)
        except ValueError:
            return ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST).public_bytes(
                serialization.Encoding.DER)
        if self.state.status is not None:
            refusal = ocsp.OCSPResponseBuilder.build_unsuccessful(self.state.status)
            return refusal.public_bytes(serialization.Encoding.DER)
        try:
            sent = request.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
        except x509.ExtensionNotFound:
            sent = None
        self.state.served += 1
        self.state.nonces.append(sent)
        now = datetime.now(UTC).replace(microsecond=0)
        this_update, next_update = (now - timedelta(days=3), now - timedelta(days=2)) if self.state.stale else (
            now - timedelta(minutes=1), now + self.state.lifetime if self.state.lifetime is not None else None)
        status, revoked_at, reason = self._status(request)
        key, responder = self.responder_key, self.responder
        if self.state.wrong_key:  # an impostor: its own key under the CA's name, its certificate attached
            key, responder = self._impostor()
        builder = (ocsp.OCSPResponseBuilder()
                   .add_response_by_hash(request.issuer_name_hash, request.issuer_key_hash, request.serial_number,
                                         request.hash_algorithm, status, this_update, next_update, revoked_at, reason)
                   .responder_id(ocsp.OCSPResponderEncoding.NAME, responder))
        if self.delegated or self.state.wrong_key:
            builder = builder.certificates([responder])
        if sent is not None and self.state.nonce != "omit":
            builder = builder.add_extension(
                x509.OCSPNonce(os.urandom(16) if self.state.nonce == "wrong" else sent), critical=False)
        return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    def _impostor(self):
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        cert = (x509.CertificateBuilder().subject_name(self.responder.subject).issuer_name(self.responder.subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False)
                .sign(key, hashes.SHA256()))
        return key, cert

    def _status(self, request: ocsp.OCSPRequest):
        own = ocsp.OCSPRequestBuilder().add_certificate(self.ca, self.ca, request.hash_algorithm).build()
        ours = request.issuer_key_hash == own.issuer_key_hash and request.issuer_name_hash == self._name_hash(request)
        if not ours or request.serial_number in self.state.unknown:
            return ocsp.OCSPCertStatus.UNKNOWN, None, None
        if request.serial_number in self.state.revoked:
            when, reason = self.state.revoked[request.serial_number]
            return ocsp.OCSPCertStatus.REVOKED, when, reason
        return ocsp.OCSPCertStatus.GOOD, None, None

    def _name_hash(self, request: ocsp.OCSPRequest) -> bytes:
        digest = hashes.Hash(request.hash_algorithm)
        digest.update(self.ca.subject.public_bytes())
        return digest.finalize()

    def _handler(self):
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if peer.state.delay:
                    time.sleep(peer.state.delay)
                if self.path != "/ca.crt":
                    self.send_response(404)
                    self.end_headers()
                    return
                peer.state.issuer_fetches += 1
                body = peer.issuer_download()
                kind = {"pem": "application/x-pem-file", "p7c": "application/pkcs7-mime"}.get(
                    peer.state.issuer_format, "application/pkix-cert")
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", kind)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if peer.state.delay:
                    time.sleep(peer.state.delay)
                if self.headers.get("Content-Type") != "application/ocsp-request":
                    self.send_response(415)
                    self.end_headers()
                    return
                reply = peer.respond(body)
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/ocsp-response")
                    self.send_header("Content-Length", str(len(reply)))
                    self.end_headers()
                    self.wfile.write(reply)
                except OSError:  # the client gave up (timeout test)
                    pass

            def log_message(self, *_: object) -> None:
                pass

        return Handler
