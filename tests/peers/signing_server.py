"""A CA vendor's signing server (签名服务器) built from the generic contract in
bingan/formats/signing_remote.py, in a thread, with its own root CA:

* ``GET /api/certificate?signer=<staff number>`` → ``{"certificates": [leaf, root]}`` (base64 DER);
* ``POST /api/sign`` ``{"signer", "digest_algorithm": "sha256", "digest"}`` → ``{"cms"}``: a
  detached CMS SignedData whose signed attributes carry that digest, signed by the signer's key
  (RSA or ECDSA P-256), which never leaves the server;
* unknown signer → 404, wrong algorithm or digest → 400, each with ``{"error"}``.

Built with asn1crypto and cryptography directly, not with bingan's signing code.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from asn1crypto import cms, x509
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from peers.loopback import LoopbackPeer

# RSA named by its key type (rsaEncryption), as OpenSSL's CMS writes it; ECDSA by its signature algorithm.
SIGNATURE_OIDS = {"rsa": "rsassa_pkcs1v15", "ecdsa": "sha256_ecdsa"}


def _name(common_name: str) -> cx509.Name:
    return cx509.Name([cx509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                       cx509.NameAttribute(NameOID.ORGANIZATION_NAME, "测试数字证书认证中心"),
                       cx509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@dataclass
class Enrolled:
    kind: str
    key: object
    certificate: bytes  # DER


@dataclass
class SigningServerState:
    signers: dict[str, Enrolled] = field(default_factory=dict)
    signed: list[str] = field(default_factory=list)  # who signed, in order


class SigningServerPeer(LoopbackPeer):
    CA_NAME = "测试CA签名服务根证书"

    def __init__(self) -> None:
        self.state = SigningServerState()
        self.root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.root = self._issue(self.root_key.public_key(), self.CA_NAME, ca=True)
        super().__init__()

    @property
    def url(self) -> str:
        return f"{self.base_url}/api"

    @property
    def root_pem(self) -> bytes:
        return self.root.public_bytes(serialization.Encoding.PEM)

    def enrol(self, staff_number: str, name: str, kind: str = "rsa") -> None:
        """The CA issues a key pair and certificate to a person (their USB key, held by the server)."""
        key = (rsa.generate_private_key(public_exponent=65537, key_size=2048) if kind == "rsa"
               else ec.generate_private_key(ec.SECP256R1()))
        cert = self._issue(key.public_key(), name, ca=False)
        self.state.signers[staff_number] = Enrolled(kind, key, cert.public_bytes(serialization.Encoding.DER))

    def _issue(self, public_key, common_name: str, *, ca: bool) -> cx509.Certificate:
        now = datetime.now(UTC)
        return (cx509.CertificateBuilder().subject_name(_name(common_name)).issuer_name(_name(self.CA_NAME))
                .public_key(public_key).serial_number(cx509.random_serial_number())
                .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=730))
                .add_extension(cx509.BasicConstraints(ca=ca, path_length=None), critical=True)
                .sign(self.root_key, hashes.SHA256()))

    def certificates(self, signer: str) -> tuple[int, dict]:
        enrolled = self.state.signers.get(signer)
        if enrolled is None:
            return 404, {"error": f"未登记的签名人：{signer}"}
        root = self.root.public_bytes(serialization.Encoding.DER)
        return 200, {"certificates": [base64.b64encode(d).decode() for d in (enrolled.certificate, root)]}

    def sign(self, body: dict) -> tuple[int, dict]:
        enrolled = self.state.signers.get(str(body.get("signer", "")))
        if enrolled is None:
            return 404, {"error": f"未登记的签名人：{body.get('signer')}"}
        if body.get("digest_algorithm") != "sha256":
            return 400, {"error": "该证书只支持 SHA-256 摘要"}
        try:
            digest = base64.b64decode(body["digest"], validate=True)
        except (KeyError, ValueError, TypeError):
            return 400, {"error": "摘要不是 base64"}
        if len(digest) != 32:
            return 400, {"error": "SHA-256 摘要应为 32 字节"}
        self.state.signed.append(str(body["signer"]))
        return 200, {"cms": base64.b64encode(self._signed_data(enrolled, digest)).decode()}

    def _signed_data(self, enrolled: Enrolled, digest: bytes) -> bytes:
        cert = x509.Certificate.load(enrolled.certificate)
        now = datetime.now(UTC).replace(microsecond=0)
        attributes = cms.CMSAttributes([
            {"type": "content_type", "values": ["data"]},
            {"type": "signing_time", "values": [cms.Time(name="utc_time", value=now)]},
            {"type": "message_digest", "values": [digest]},
        ])
        if enrolled.kind == "rsa":
            value = enrolled.key.sign(attributes.dump(), padding.PKCS1v15(), hashes.SHA256())
        else:
            value = enrolled.key.sign(attributes.dump(), ec.ECDSA(hashes.SHA256()))
        signer = cms.SignerInfo({
            "version": "v1",
            "sid": cms.SignerIdentifier(name="issuer_and_serial_number",
                                        value={"issuer": cert.issuer, "serial_number": cert.serial_number}),
            "digest_algorithm": {"algorithm": "sha256"}, "signed_attrs": attributes,
            "signature_algorithm": {"algorithm": SIGNATURE_OIDS[enrolled.kind]}, "signature": value})
        data = cms.SignedData({
            "version": "v1", "digest_algorithms": [{"algorithm": "sha256"}],
            "encap_content_info": {"content_type": "data"},
            "certificates": [cert, x509.Certificate.load(self.root.public_bytes(serialization.Encoding.DER))],
            "signer_infos": [signer]})
        return cms.ContentInfo({"content_type": "signed_data", "content": data}).dump()

    def _handler(self):
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path != "/api/certificate":
                    return self._reply(404, {"error": "没有这个接口"})
                return self._reply(*peer.certificates(parse_qs(url.query).get("signer", [""])[0]))

            def do_POST(self) -> None:
                if urlsplit(self.path).path != "/api/sign":
                    return self._reply(404, {"error": "没有这个接口"})
                try:
                    body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                except ValueError:
                    return self._reply(400, {"error": "请求不是 JSON"})
                return self._reply(*peer.sign(body if isinstance(body, dict) else {}))

            def _reply(self, status: int, body: dict) -> None:
                data = json.dumps(body, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: object) -> None:
                pass

        return Handler
