"""The CA vendor's certificate validation service (证书验证服务), through a generic JSON API that an
adapter in front of a vendor's own interface can offer (docs/security.md has the contract):

    POST BINGAN_CA_VALIDATION_URL   (Authorization: Bearer BINGAN_CA_VALIDATION_TOKEN when set)
    {"certificate": "<base64 DER>", "issuer": "<base64 DER>" | null, "nonce": "<32 hex>"}

    200 {"status": "good" | "revoked" | "unknown", "nonce": "<the same>",
         "revoked_at": "<ISO 8601 with offset>" | null, "revocation_reason": "keyCompromise" | …,
         "message": "<free text>", "responder": "<the service's name>"}

An answer without the nonce sent back, or with another, is refused (a cached or replayed answer);
so is one that is not this shape. Network, no database.
"""
from __future__ import annotations

import base64
import os
from datetime import UTC, datetime

import httpx

from bingan.records.ca_validation.ocsp import Answer, client

STATUSES = {"good", "revoked", "unknown"}


def ask(cert_der: bytes, issuer_der: bytes | None, url: str, *, token: str = "", timeout: float) -> Answer:
    nonce = os.urandom(16).hex()
    body = {"certificate": base64.b64encode(cert_der).decode(),
            "issuer": base64.b64encode(issuer_der).decode() if issuer_der else None, "nonce": nonce}
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        reply = client().post(url, json=body, headers=headers, timeout=timeout)
    except httpx.TimeoutException:
        return Answer("unreachable", f"CA 验证服务在 {timeout:g} 秒内未应答（超时）", url, offline=True)
    except httpx.HTTPError as error:
        why = "连接被拒绝或地址不可达" if isinstance(error, httpx.ConnectError) else type(error).__name__
        return Answer("unreachable", f"无法连接 CA 验证服务（{why}）", url, offline=True)
    if reply.status_code != 200:
        return Answer("unreachable", f"CA 验证服务返回 HTTP {reply.status_code}", url, offline=True)
    try:
        answer = reply.json()
        status = answer["status"]
        echoed = answer.get("nonce")
        revoked_at = _instant(answer.get("revoked_at"))
    except (ValueError, KeyError, TypeError, AttributeError):
        return Answer("rejected", "CA 验证服务的应答格式不正确，不予采信", url)
    if status not in STATUSES:
        return Answer("rejected", f"CA 验证服务给出未知的状态“{str(status)[:40]}”，不予采信", url)
    if echoed != nonce:
        return Answer("rejected", "CA 验证服务的应答未带回本次请求的随机数（nonce），"
                      "可能是缓存或重放的应答，不予采信", url)
    responder = str(answer.get("responder") or url)[:500]
    message = str(answer.get("message") or "")[:500]
    if status == "revoked":
        return Answer("revoked", message, responder, revoked_at=revoked_at,
                      revocation_reason=str(answer.get("revocation_reason") or "")[:32])
    if status == "unknown":
        return Answer("unknown", message or "CA 验证服务不认识此证书", responder)
    return Answer("good", message, responder)


def _instant(value: object) -> datetime | None:
    """An ISO 8601 time; one without an offset is taken as UTC."""
    if value in (None, ""):
        return None
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
