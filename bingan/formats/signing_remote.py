"""The signing port's remote adapter — a CA vendor's signing server (签名服务器) — and the
RFC 3161 time-stamp client (时间戳服务器).

The signing server's contract (generic HTTP, JSON, base64):

* ``GET {url}/certificate?signer=<id>`` → ``{"certificates": [DER, …]}``, the signer's
  certificate first, then its CA's;
* ``POST {url}/sign`` ``{"signer": <id>, "digest_algorithm": "sm3"|"sha256", "digest": …}``
  → ``{"cms": …}``: a detached CMS SignedData whose messageDigest is that digest;
* a refusal is any other status with ``{"error": "<why>"}``.

``signer`` is the person's staff number (工号), the key the CA's enrolment knows them by.
"""
from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field

import httpx
from asn1crypto import algos, cms, core, tsp

from bingan.formats.signing import SigningError, digest

TIMEOUT = 10.0
TIMESTAMP_QUERY = "application/timestamp-query"
TIMESTAMP_REPLY = "application/timestamp-reply"
_IMPRINT_OIDS = {"sha256": "sha256", "sm3": "1.2.156.10197.1.401"}


@dataclass
class RemoteSigner:
    """A signer whose key stays in the CA's signing server."""

    url: str
    signer: str
    timeout: float = TIMEOUT
    _chain: list[bytes] = field(default_factory=list)

    def chain(self) -> list[bytes]:
        if not self._chain:
            reply = self._call("GET", "/certificate", params={"signer": self.signer})
            self._chain = [base64.b64decode(item) for item in reply.get("certificates", [])]
            if not self._chain:
                raise SigningError(f"签名服务器没有返回签名人“{self.signer}”的证书")
        return self._chain

    def sign(self, digest_value: bytes, algorithm: str) -> bytes:
        reply = self._call("POST", "/sign", json={"signer": self.signer, "digest_algorithm": algorithm,
                                                  "digest": base64.b64encode(digest_value).decode()})
        try:
            return base64.b64decode(reply["cms"], validate=True)
        except (KeyError, ValueError, TypeError) as exc:
            raise SigningError("签名服务器的答复中没有签名（cms）") from exc

    def _call(self, method: str, path: str, **kwargs) -> dict:
        try:
            response = httpx.request(method, self.url.rstrip("/") + path, timeout=self.timeout, **kwargs)
        except httpx.HTTPError as exc:
            raise SigningError(f"无法连接签名服务器 {self.url}：{type(exc).__name__}") from exc
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200:
            why = body.get("error") if isinstance(body, dict) else ""
            raise SigningError(f"签名服务器拒绝签名（HTTP {response.status_code}）：{why or '无说明'}")
        if not isinstance(body, dict):
            raise SigningError("签名服务器的答复无法解析")
        return body


@dataclass(frozen=True)
class TsaClient:
    """RFC 3161 over HTTP (§3.4): a TimeStampReq of a digest in, the TimeStampToken out."""

    url: str
    timeout: float = TIMEOUT

    def stamp(self, data: bytes, algorithm: str) -> bytes:
        """A TimeStampToken (CMS ContentInfo, DER) over the ``algorithm`` digest of ``data``."""
        nonce = secrets.randbits(63)
        request = tsp.TimeStampReq({
            "version": "v1", "nonce": nonce, "cert_req": True,
            "message_imprint": {"hash_algorithm": algos.DigestAlgorithm({"algorithm": _IMPRINT_OIDS[algorithm]}),
                                "hashed_message": digest(algorithm, data)}})
        try:
            response = httpx.post(self.url, content=request.dump(), timeout=self.timeout,
                                  headers={"Content-Type": TIMESTAMP_QUERY})
        except httpx.HTTPError as exc:
            raise SigningError(f"无法连接时间戳服务器 {self.url}：{type(exc).__name__}") from exc
        if response.status_code != 200:
            raise SigningError(f"时间戳服务器返回 HTTP {response.status_code}")
        return _granted_token(response.content, nonce)


class _Reply(core.Sequence):
    """TimeStampResp, its token optional as RFC 3161 says (asn1crypto's class requires it)."""

    _fields = [("status", tsp.PKIStatusInfo), ("time_stamp_token", cms.ContentInfo, {"optional": True})]


def _granted_token(reply: bytes, nonce: int) -> bytes:
    try:
        parsed = _Reply.load(reply)
        status = parsed["status"]["status"].native
        if status not in ("granted", "granted_with_mods"):
            why = "；".join(parsed["status"]["status_string"].native or []) or status
            raise SigningError(f"时间戳服务器拒绝签发：{why}")
        token = parsed["time_stamp_token"]
        sent_back = token["content"]["encap_content_info"]["content"].parsed["nonce"].native
    except (ValueError, TypeError, KeyError) as exc:
        raise SigningError("时间戳服务器的答复不是 RFC 3161 格式") from exc
    if sent_back != nonce:
        raise SigningError("时间戳服务器答复的随机数与请求不符")
    return token.dump()
