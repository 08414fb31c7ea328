"""Verification of a detached CMS signature made through the signing port (signing.py): the
signed digest against the data, the signature value against the signer's certificate, the
certificate against the trust roots, and the RFC 3161 timestamp in its unsigned attributes
(id-aa-timeStampToken, its imprint the digest of the signature value: ofd/timestamp.py, shared
with OFD seals, checks it). Problems are in Chinese for the record page and ``bingan verify``.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from asn1crypto import cms, core

from bingan.formats.ofd import certs, timestamp
from bingan.formats.ofd import cms as cms_gm
from bingan.formats.ofd.gm import SM3_OID
from bingan.formats.signing import TIMESTAMP_ATTRIBUTE, digest

# Producers such as OpenSSL name the key type (rsaEncryption, ecPublicKey) where the signature
# algorithm belongs; with our SHA-256 digests that means SHA-256 with RSA or ECDSA.
_KEY_ONLY = {"1.2.840.113549.1.1.1": "1.2.840.113549.1.1.11", "1.2.840.10045.2.1": "1.2.840.10045.4.3.2"}


@dataclass(frozen=True)
class SignatureCheck:
    intact: bool  # the data is what was signed, by the certificate's key, and the timestamp is not forged
    problem: str  # why not intact, Chinese
    signer: str = ""  # the certificate's CN
    trusted: bool = False  # the certificate chains to a trust root
    trust_note: str = ""  # why not trusted, or the certificate's validity problem
    signed_at: datetime | None = None  # the signer's own claim (signingTime), naive UTC
    timestamp: datetime | None = None  # genTime vouched for by a trusted TSA, naive UTC
    timestamp_authority: str = ""  # the TSA certificate's CN
    timestamp_note: str = ""  # why the token's time is not used; "未加盖时间戳" without one

    @property
    def valid(self) -> bool:
        return self.intact and self.trusted and self.timestamp is not None


def check(signature: bytes, data: bytes, roots: tuple) -> SignatureCheck:
    """The verdict of ``signature`` (detached CMS) over ``data``, trusting ``roots``."""
    try:  # not cms_gm.parse: its full parse of the signer takes seconds over a timestamp token
        content = cms.ContentInfo.load(signature)["content"]
        signer = content["signer_infos"][0]
        cert = cms_gm.signer_cert(content, signer["sid"])
        signer["signed_attrs"].native  # noqa: B018 - parse now, not in the middle of a verdict
    except (ValueError, TypeError, KeyError, IndexError):
        return SignatureCheck(False, "签名数据无法解析")
    if cert is None:
        return SignatureCheck(False, "签名中缺少签名人证书")
    name = certs.common_name(cert)
    algorithm = "sm3" if signer["digest_algorithm"]["algorithm"].dotted == SM3_OID else "sha256"
    signed = cms_gm.signed_message(signer, digest(algorithm, data))
    if signed is None:
        return SignatureCheck(False, "签名后内容已被改动：摘要与签名时不符", name)
    named = signer["signature_algorithm"]["algorithm"].dotted
    ok = certs.verify(cert, _KEY_ONLY.get(named, named), signed, signer["signature"].native)
    if not ok:
        return SignatureCheck(False, "签名值与签名证书不符" if ok is False else "不支持的签名算法", name)
    return _with_time(signer, cert, name, roots)


def _with_time(signer: cms.SignerInfo, cert, name: str, roots: tuple) -> SignatureCheck:
    signed_at = cms_gm.signing_time(signer)
    token = _token(signer)
    if token is None:
        stamp = timestamp.TimeCheck(note="未加盖时间戳")
        authority = ""
    else:
        stamp = timestamp.check(token.dump(), signer["signature"].native, roots)
        authority = _authority(token)
    if stamp.tampered:
        return SignatureCheck(False, stamp.tampered, name, timestamp_authority=authority)
    trusted, note = _trust(cert, stamp.time or signed_at, roots)
    return SignatureCheck(True, "", name, trusted, note, signed_at, stamp.time, authority, stamp.note)


def _authority(token: cms.ContentInfo) -> str:
    """The TSA certificate's CN, or "" when the token cannot say."""
    try:
        data = token["content"]
        return certs.common_name(cms_gm.signer_cert(data, data["signer_infos"][0]["sid"]))
    except (ValueError, TypeError, KeyError, IndexError):
        return ""


def _token(signer: cms.SignerInfo) -> cms.ContentInfo | None:
    attributes = signer["unsigned_attrs"]
    for attribute in [] if isinstance(attributes, core.Void) else attributes:
        if attribute["type"].native == TIMESTAMP_ATTRIBUTE:
            return cms.ContentInfo.load(attribute["values"][0].dump())  # parsed on its own: fast
    return None


def _trust(cert, when: datetime | None, roots: tuple) -> tuple[bool, str]:
    if not certs.chains(cert, roots):
        return False, f"签名证书「{certs.common_name(cert)}」不在受信任列表中"
    expired = certs.validity_problem(cert, when) if when is not None else None
    if expired:
        return False, f"签名证书在签名时不在有效期内（{expired}）"
    return True, ""
