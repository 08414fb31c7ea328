"""CMS SignedData signed with SM2 (GB/T 35275), as OFD "Sign" signatures and PDF signatures by
Chinese CAs carry them, and the signer-info check shared with RFC 3161 timestamps.

GB/T 35275 names its content types under 1.2.156.10197.6.1.4.2 (data .1, signedData .2)
where RFC 5652 uses 1.2.840.113549.1.7; asn1crypto knows only the latter, so the outer
ContentInfo is read here by its shape, whatever the OID.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from asn1crypto import cms, core, x509

from bingan.formats.ofd import certs
from bingan.formats.ofd.gm import SM2_SIGN_OID, SM2_SM3_OID, sm2_z, sm3

SIGNED_DATA_OIDS = ("1.2.840.113549.1.7.2", "1.2.156.10197.6.1.4.2.2")
SM2_OIDS = (SM2_SM3_OID, SM2_SIGN_OID)


class _AnyContentInfo(core.Sequence):
    _fields = [("content_type", core.ObjectIdentifier),
               ("content", core.Any, {"explicit": 0, "optional": True})]


@dataclass
class SignedMessage:
    """One signer of a SignedData: what it signed and with which key."""

    signer: cms.SignerInfo
    cert: x509.Certificate | None
    content: bytes | None  # the encapsulated content, None when detached


@dataclass
class CmsCheck:
    """The verdict material of a CMS signature over ``data``."""

    ok: bool | None  # None: an algorithm we do not support
    problem: str = ""  # why not ok, Chinese
    cert: x509.Certificate | None = None
    signed_at: datetime | None = None  # the signingTime attribute, naive UTC
    changed: bool = False  # the signed digest is not the data's: the data changed


def parse(value: bytes) -> SignedMessage:
    """The first signer of a (GB/T 35275 or RFC 5652) SignedData; raises ValueError otherwise."""
    try:
        outer = _AnyContentInfo.load(value)
        if outer["content_type"].dotted not in SIGNED_DATA_OIDS:
            raise ValueError("not SignedData")
        data = outer["content"].parse(cms.SignedData)
        signer = data["signer_infos"][0]
        signer.native  # noqa: B018 - parse every field now, not in the middle of a verdict
        encap = data["encap_content_info"]["content"]
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise ValueError(f"not a CMS SignedData: {exc!r}") from exc
    return SignedMessage(signer, signer_cert(data, signer["sid"]), _octets(encap))


def _octets(encap: core.Asn1Value) -> bytes | None:
    if isinstance(encap, core.Void):
        return None
    if isinstance(encap, core.Any):  # content of a type asn1crypto does not map (GB/T 35275 data)
        return encap.parse(core.OctetString).native
    return bytes(encap.contents)


def signer_cert(data: cms.SignedData, sid: cms.SignerIdentifier) -> x509.Certificate | None:
    for choice in data["certificates"] or []:
        if choice.name != "certificate":
            continue
        cert = choice.chosen
        if sid.name == "subject_key_identifier":
            if cert.key_identifier == sid.chosen.native:
                return cert
        elif (certs.same_name(cert.issuer, sid.chosen["issuer"])
              and cert.serial_number == sid.chosen["serial_number"].native):
            return cert
    return None


def signed_message(signer: cms.SignerInfo, content_digest: bytes | list[bytes]) -> bytes | None:
    """What the signature value covers: the signed attributes (as a SET OF) when there are
    any and their messageDigest is one of ``content_digest``; None when it is not."""
    wanted = content_digest if isinstance(content_digest, list) else [content_digest]
    attrs = signer["signed_attrs"]
    digests = [v.native for a in attrs if a["type"].native == "message_digest" for v in a["values"]]
    if len(digests) != 1 or digests[0] not in wanted:
        return None
    return b"\x31" + attrs.dump()[1:]  # signed as a SET OF, stored [0] IMPLICIT


def check_sm2(message: SignedMessage, data: bytes) -> CmsCheck:
    """An SM2 signer over ``data`` (GB/T 35275: the content or its SM3 digest, with or without
    signed attributes)."""
    signer, cert = message.signer, message.cert
    if signer["signature_algorithm"]["algorithm"].dotted not in SM2_OIDS:
        return CmsCheck(None, "签名算法不是 SM2", cert)
    if cert is None:
        return CmsCheck(False, "签名中缺少签名人证书", cert)
    point = certs.sm2_point(cert)
    if point is None:
        return CmsCheck(None, "签名证书的公钥不是 SM2 公钥", cert)
    candidates = [sm3(data), sm3(sm2_z(point) + data)]
    if message.content is not None and message.content not in (data, *candidates):
        return CmsCheck(False, "签名所含的原文摘要与被签名的数据不符", cert, changed=True)
    if signer["signed_attrs"].native is None:
        signed = [data, *candidates]  # the value signs the content, or its digest
    else:
        one = signed_message(signer, candidates)
        if one is None:
            return CmsCheck(False, "签名属性中的消息摘要与被签名的数据不符", cert, changed=True)
        signed = [one]
    value = signer["signature"].native
    ok = any(certs.verify(cert, SM2_SM3_OID, m, value) for m in signed)
    return CmsCheck(ok, "" if ok else "签名值与签名证书不符", cert, signing_time(signer))


def signing_time(signer: cms.SignerInfo) -> datetime | None:
    for attr in signer["signed_attrs"] or []:
        if attr["type"].native == "signing_time":
            when = attr["values"][0].native
            return when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when
    return None
