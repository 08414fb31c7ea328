"""RFC 3161 timestamps of SES signatures (GB/T 38540 V4 `timeStamp`).

The token's message imprint is the digest of the signature value, so the token proves the
signature existed at its genTime. What a token can do to the verdict:

* prove tampering: its imprint does not match this signature value, or its own signature
  (or its signed message digest) does not match its content;
* supply a signing time, when its TSA certificate is a time-stamping certificate
  (extended key usage timeStamping, RFC 3161 §2.3), valid at genTime and chained to the
  trust roots. Without the key-usage check any certificate of the hospital CA, the signer's
  own included, could backdate its signatures;
* otherwise (untrusted TSA, unsupported algorithm, unreadable token) only add a note: the
  time is then the signer's own claim, as for a signature without a timestamp. The token
  lies outside the signed data and anyone can strip it, so a token that vouches for
  nothing cannot make a signature worse than no token.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from asn1crypto import cms, tsp, x509

from bingan.formats.ofd import certs
from bingan.formats.ofd import cms as cms_gm
from bingan.formats.ofd.gm import SM2_SIGN_OID, SM2_SM3_OID, digest, digest_name, sm2_verify

_TIME_STAMPING = "time_stamping"
_KEY_KINDS = {"rsassa_pkcs1v15": "rsa", "ecdsa": "ecdsa"}  # asn1crypto's names → certs' key kinds


@dataclass
class TimeCheck:
    tampered: str = ""  # why the token proves the signature was changed
    time: datetime | None = None  # genTime (naive UTC), set only when a trusted TSA vouches
    note: str = ""  # why the token's time is not used


@dataclass
class _Token:
    tst: tsp.TSTInfo
    content: bytes  # DER of TSTInfo: what the signed message digest covers
    signer: cms.SignerInfo
    cert: x509.Certificate | None


def check(token: bytes, signature_value: bytes, roots: tuple) -> TimeCheck:
    """What the TimeStampToken ``token`` says about the SES signature ``signature_value``."""
    try:
        parsed = _parse(token)
    except Exception:  # not CMS, not a TSTInfo, or malformed fields
        return TimeCheck(note="时间戳无法解析")
    imprint = parsed.tst["message_imprint"]
    expected = digest(imprint["hash_algorithm"]["algorithm"].dotted, signature_value)
    if expected is None:
        return TimeCheck(note="时间戳使用了不支持的摘要算法")
    if expected != imprint["hashed_message"].native:
        return TimeCheck(tampered="时间戳与签名值不符：该时间戳不是为此签名签发的")
    if parsed.cert is None:
        return TimeCheck(note="时间戳未附带时间戳服务机构的证书")
    verified = _signature_ok(parsed, parsed.cert)
    if verified is None:
        return TimeCheck(note="时间戳使用了不支持的签名算法")
    if not verified:
        return TimeCheck(tampered="时间戳的签名无效：时间戳已被修改或系伪造")
    return _trusted_time(parsed.tst, parsed.cert, roots)


def _parse(token: bytes) -> _Token:
    info = cms.ContentInfo.load(token)
    data = info["content"]
    encap = data["encap_content_info"]
    if info["content_type"].native != "signed_data" or encap["content_type"].native != "tst_info":
        raise ValueError("not a TimeStampToken")
    tst = encap["content"].parsed
    signer = data["signer_infos"][0]  # RFC 3161 §2.4.2: exactly one signer, the TSA
    cert = cms_gm.signer_cert(data, signer["sid"])
    tst.native, signer.native  # noqa: B018 - parse every field now, not in the middle of a verdict
    if cert is not None:
        cert.native  # noqa: B018
    return _Token(tst, bytes(encap["content"]), signer, cert)


def _signature_ok(token: _Token, cert: x509.Certificate) -> bool | None:
    """True or False from the TSA key, None when an algorithm is not supported."""
    signer = token.signer
    method = signer["digest_algorithm"]["algorithm"].dotted
    content_digest = digest(method, token.content)
    if content_digest is None:
        return None
    if signer["signed_attrs"].native is None:  # no signed attributes: the value covers the content
        message = token.content
    else:
        message = cms_gm.signed_message(signer, content_digest)
        if message is None:
            return False
    algorithm = signer["signature_algorithm"]["algorithm"].dotted
    value = signer["signature"].native
    if algorithm in (SM2_SM3_OID, SM2_SIGN_OID):
        point = certs.sm2_point(cert)
        return point is not None and sm2_verify(point, message, value)
    return _verify_other(cert.dump(), signer, digest_name(method), message, value)


def _verify_other(cert_der: bytes, signer: cms.SignerInfo, hash_name: str | None, message: bytes,
                  value: bytes) -> bool | None:
    """RSA (PKCS #1 v1.5) and ECDSA, hashed with the signer's digest (CMS): certs checks the value."""
    try:
        kind = _KEY_KINDS.get(signer["signature_algorithm"].signature_algo)
    except Exception:  # an algorithm asn1crypto does not name
        return None
    if kind is None or hash_name is None:
        return None
    return certs.verify_with_key(cert_der, kind, hash_name, message, value)


def _trusted_time(tst: tsp.TSTInfo, cert: x509.Certificate, roots: tuple) -> TimeCheck:
    gen_time = tst["gen_time"].native
    if gen_time.tzinfo is not None:
        gen_time = gen_time.astimezone(UTC).replace(tzinfo=None)
    name = certs.common_name(cert) or "未署名"
    usage = cert.extended_key_usage_value
    if usage is None or _TIME_STAMPING not in usage.native:
        return TimeCheck(note=f"时间戳签发者「{name}」的证书不是时间戳服务证书")
    expired = certs.validity_problem(cert, gen_time, "时间戳时间")
    if expired:
        return TimeCheck(note=f"时间戳服务机构「{name}」的证书在时间戳时间不在有效期内（{expired}）")
    if not certs.chains(cert, roots):
        return TimeCheck(note=f"时间戳服务机构「{name}」的证书不在受信任列表中")
    return TimeCheck(time=gen_time)
