"""A CA vendor's certificate validation service speaking Bingan's generic JSON contract
(docs/security.md, bingan/records/ca_validation/vendor_api.py), in a thread.

POST {"certificate": base64 DER, "issuer": base64 DER | null, "nonce": hex} with
``Authorization: Bearer <token>`` → {"status": "good" | "revoked" | "unknown", "nonce": …,
"revoked_at": ISO 8601, "revocation_reason": …, "responder": …}. Certificates are known by the
issuer names in ``issuers`` (CN); serials in ``revoked`` are revoked. Faults: ``nonce`` = "omit",
``garbage`` (a non-JSON body), ``delay`` seconds.
"""
from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler

from cryptography import x509
from cryptography.x509.oid import NameOID
from peers.loopback import LoopbackPeer


@dataclass
class ApiState:
    token: str = "test-token-7f3a"
    issuers: set[str] = field(default_factory=set)  # CNs of the CAs this service knows
    revoked: dict[int, tuple[datetime, str]] = field(default_factory=dict)
    nonce: str = "echo"  # echo | omit
    garbage: bool = False
    delay: float = 0.0
    served: int = 0


class CaValidationApiPeer(LoopbackPeer):
    def __init__(self, *issuers: str) -> None:
        self.state = ApiState(issuers=set(issuers))
        super().__init__()

    @property
    def url(self) -> str:
        return f"{self.base_url}/api/cert/validate"

    def answer(self, body: dict) -> tuple[int, dict]:
        cert = x509.load_der_x509_certificate(base64.b64decode(body["certificate"]))
        issuer = cert.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        reply: dict = {"responder": "测试CA证书验证服务"}
        if self.state.nonce == "echo":
            reply["nonce"] = body.get("nonce")
        if issuer not in self.state.issuers:
            return 200, {**reply, "status": "unknown", "message": "非本CA签发的证书"}
        if cert.serial_number in self.state.revoked:
            when, reason = self.state.revoked[cert.serial_number]
            return 200, {**reply, "status": "revoked", "revoked_at": when.isoformat(), "revocation_reason": reason}
        return 200, {**reply, "status": "good"}

    def _handler(self):
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if peer.state.delay:
                    time.sleep(peer.state.delay)
                peer.state.served += 1
                if self.headers.get("Authorization") != f"Bearer {peer.state.token}":
                    code, reply = 401, b'{"error": "unauthorised"}'
                elif peer.state.garbage:
                    code, reply = 200, b"<html>gateway</html>"
                else:
                    status, answer = peer.answer(json.loads(body))
                    code, reply = status, json.dumps(answer, ensure_ascii=False).encode()
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                    self.send_header("Content-Length", str(len(reply)))
                    self.end_headers()
                    self.wfile.write(reply)
                except OSError:
                    pass

            def log_message(self, *_: object) -> None:
                pass

        return Handler
