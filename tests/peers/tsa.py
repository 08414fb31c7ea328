"""A time-stamping authority (时间戳服务器) built from RFC 3161, in a thread: POST a DER
TimeStampReq (application/timestamp-query), get a TimeStampResp (application/timestamp-reply)
whose token is a CMS SignedData over a TSTInfo echoing the message imprint and nonce, signed by
the TSA's own RSA key under its own root CA (certificate with the critical timeStamping extended
key usage, RFC 3161 §2.3), with the ESS signing-certificate-v2 attribute (RFC 5816).

Built with asn1crypto and cryptography directly, not with bingan's signing code, so the peer
does not share the client's mistakes. ``refuse`` makes it answer status "rejection".
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler

from asn1crypto import algos, cms, core, tsp, x509
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from peers.loopback import LoopbackPeer

POLICY = "1.2.156.112562.1.1"  # an arbitrary policy OID of this test TSA


class _Rejection(core.Sequence):
    """A TimeStampResp without its token (asn1crypto's class requires one)."""

    _fields = [("status", tsp.PKIStatusInfo)]


def _name(common_name: str) -> cx509.Name:
    return cx509.Name([cx509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                       cx509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(key, subject: str, issuer: str, issuer_key, *, ca: bool, time_stamping: bool = False):
    now = datetime.now(UTC)
    builder = (cx509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
               .public_key(key.public_key()).serial_number(cx509.random_serial_number())
               .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=3650))
               .add_extension(cx509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if time_stamping:
        builder = builder.add_extension(cx509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
    return builder.sign(issuer_key, hashes.SHA256())


@dataclass
class TsaState:
    name: str = "测试时间戳服务中心"
    refuse: bool = False
    served: int = 0
    imprints: list[bytes] = field(default_factory=list)


class TsaPeer(LoopbackPeer):
    def __init__(self, name: str = "测试时间戳服务中心") -> None:
        self.state = TsaState(name)
        root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.root = _certificate(root_key, f"{name}根证书", f"{name}根证书", root_key, ca=True)
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.certificate = _certificate(self.key, name, f"{name}根证书", root_key, ca=False, time_stamping=True)
        super().__init__()
        self._serial = 0

    @property
    def url(self) -> str:
        return f"{self.base_url}/tsa"

    @property
    def root_pem(self) -> bytes:
        return self.root.public_bytes(serialization.Encoding.PEM)

    def respond(self, body: bytes) -> bytes:
        """The TimeStampResp to a DER TimeStampReq."""
        try:
            request = tsp.TimeStampReq.load(body)
            imprint = request["message_imprint"]
            imprint.native  # noqa: B018 - a malformed request fails here
        except (ValueError, TypeError):
            return self._rejection("bad_data_format", "请求不是 RFC 3161 TimeStampReq")
        if self.state.refuse:
            return self._rejection("system_failure", "时间戳服务暂停")
        self.state.served += 1
        self.state.imprints.append(imprint["hashed_message"].native)
        return tsp.TimeStampResp({"status": {"status": "granted"},
                                  "time_stamp_token": self._token(imprint, request["nonce"].native)}).dump()

    def _token(self, imprint: tsp.MessageImprint, nonce: int | None) -> cms.ContentInfo:
        self._serial += 1
        info = tsp.TSTInfo({"version": "v1", "policy": POLICY, "message_imprint": imprint,
                            "serial_number": self._serial, "gen_time": datetime.now(UTC).replace(microsecond=0),
                            "accuracy": {"seconds": 1}, "nonce": nonce})
        cert_der = self.certificate.public_bytes(serialization.Encoding.DER)
        cert = x509.Certificate.load(cert_der)
        attributes = cms.CMSAttributes([
            {"type": "content_type", "values": ["tst_info"]},
            {"type": "message_digest", "values": [hashlib.sha256(info.dump()).digest()]},
            {"type": "signing_certificate_v2", "values": [{"certs": [{
                "hash_algorithm": {"algorithm": "sha256"}, "cert_hash": hashlib.sha256(cert_der).digest()}]}]},
        ])
        signature = self.key.sign(attributes.dump(), padding.PKCS1v15(), hashes.SHA256())
        signer = cms.SignerInfo({
            "version": "v1",
            "sid": cms.SignerIdentifier(name="issuer_and_serial_number",
                                        value={"issuer": cert.issuer, "serial_number": cert.serial_number}),
            "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}), "signed_attrs": attributes,
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "sha256_rsa"}),
            "signature": signature})
        data = cms.SignedData({
            "version": "v3", "digest_algorithms": [{"algorithm": "sha256"}],
            "encap_content_info": {"content_type": "tst_info", "content": core.ParsableOctetString(info.dump())},
            "certificates": [cert], "signer_infos": [signer]})
        return cms.ContentInfo({"content_type": "signed_data", "content": data})

    def _rejection(self, failure: str, text: str) -> bytes:
        return _Rejection({"status": {"status": "rejection", "status_string": [text], "fail_info": {failure}}}).dump()

    def _handler(self):
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                if self.headers.get("Content-Type") != "application/timestamp-query":
                    self.send_response(415)
                    self.end_headers()
                    return
                reply = peer.respond(self.rfile.read(length))
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *_: object) -> None:
                pass

        return Handler
