"""ASN.1 of electronic seals and seal signatures: GB/T 38540-2020 (V4) and GM/T 0031-2014 (V1).

Parts whose encoding varies in the field (property info, certificate lists, times, the
timestamp's tagging, extension data) are kept as Any and read leniently, so the many
slightly-off seals still parse.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

from asn1crypto import core

BEIJING = timezone(timedelta(hours=8), "北京时间")  # what a time without a zone means in a Chinese seal


class SesHeader(core.Sequence):
    _fields = [("id", core.IA5String), ("version", core.Integer), ("vid", core.IA5String)]


class SesPicture(core.Sequence):
    _fields = [("type", core.IA5String), ("data", core.OctetString),
               ("width", core.Integer), ("height", core.Integer)]


class SesPropertyV4(core.Sequence):
    _fields = [("type", core.Integer), ("name", core.UTF8String), ("certListType", core.Integer),
               ("certList", core.Any), ("createDate", core.GeneralizedTime),
               ("validStart", core.GeneralizedTime), ("validEnd", core.GeneralizedTime)]


class SesPropertyV1(core.Sequence):
    _fields = [("type", core.Integer), ("name", core.UTF8String), ("certList", core.Any),
               ("createDate", core.Any), ("validStart", core.Any), ("validEnd", core.Any)]


class SesSealInfo(core.Sequence):
    _fields = [("header", SesHeader), ("esID", core.IA5String), ("property", core.Any),
               ("picture", SesPicture), ("extDatas", core.Any, {"optional": True})]


class SealV4(core.Sequence):
    _fields = [("esealInfo", SesSealInfo), ("cert", core.OctetString),
               ("signAlgID", core.ObjectIdentifier), ("signedValue", core.BitString)]


class SignInfoV1(core.Sequence):
    _fields = [("cert", core.OctetString), ("signatureAlgorithm", core.ObjectIdentifier),
               ("signData", core.BitString)]


class SealV1(core.Sequence):
    _fields = [("esealInfo", SesSealInfo), ("signInfo", SignInfoV1)]


class TbsSignV4(core.Sequence):
    _fields = [("version", core.Integer), ("eseal", SealV4), ("timeInfo", core.GeneralizedTime),
               ("dataHash", core.BitString), ("propertyInfo", core.IA5String),
               ("extDatas", core.Any, {"explicit": 0, "optional": True})]


class SesSignatureV4(core.Sequence):
    # timeStamp is [0] BIT STRING: explicitly tagged by most producers, implicitly by some.
    _fields = [("toSign", TbsSignV4), ("cert", core.OctetString),
               ("signatureAlgID", core.ObjectIdentifier), ("signature", core.BitString),
               ("timeStamp", core.Any, {"optional": True})]


class TbsSignV1(core.Sequence):
    _fields = [("version", core.Integer), ("eseal", SealV1), ("timeInfo", core.Any),
               ("dataHash", core.BitString), ("propertyInfo", core.IA5String),
               ("cert", core.OctetString), ("signatureAlgorithm", core.ObjectIdentifier)]


class SesSignatureV1(core.Sequence):
    _fields = [("toSign", TbsSignV1), ("signature", core.BitString)]


class AnyList(core.SequenceOf):
    _child_spec = core.Any


class CertDigestObj(core.Sequence):
    """V4 CertDigestObj: the digest algorithm is a PrintableString, an OID in some seals."""

    _fields = [("type", core.Any), ("value", core.OctetString)]


class SealTbs(core.Sequence):
    """Seal info, maker certificate and algorithm: what some seal makers sign (see SealProof)."""

    _fields = [("esealInfo", core.Any), ("cert", core.OctetString),
               ("signAlgID", core.ObjectIdentifier)]


@dataclass
class SealPicture:
    kind: str  # png | jpg | gif | bmp | ofd (lower case)
    data: bytes
    width_mm: float
    height_mm: float


@dataclass
class CertList:
    """The signers a seal authorises: their certificates, or digests of them (V4 certDigestList)."""

    certs: list[bytes] = field(default_factory=list)
    digests: list[tuple[str, bytes]] = field(default_factory=list)  # (algorithm, digest)


@dataclass
class SealProof:
    """The seal's own signature by its maker (制章人), its dates and the signers it authorises."""

    cert: bytes
    algorithm: str
    signature: bytes
    # GB/T 38540 and GM/T 0031 producers sign either the DER of SES_SealInfo or of
    # SEQUENCE {SealInfo, cert, algorithm}; a signature over either is the maker's.
    signed: list[bytes]
    valid_from: datetime | None
    valid_to: datetime | None
    created: datetime | None = None
    cert_list: CertList | None = None  # None when the property info cannot be read


@dataclass
class ParsedSignature:
    version: int
    to_sign: bytes  # DER of TBS_Sign: what the SM2 signature covers
    data_hash: bytes
    cert: bytes
    algorithm: str  # dotted OID
    signature: bytes
    signed_at: datetime | None
    seal_name: str
    picture: SealPicture | None
    seal: SealProof
    timestamp: bytes | None = None  # V4 RFC 3161 TimeStampToken over the signature value


def _picture(info: SesSealInfo) -> SealPicture | None:
    pic = info["picture"]
    return SealPicture(pic["type"].native.strip().lower(), pic["data"].native,
                       float(pic["width"].native), float(pic["height"].native))


def _property(info: SesSealInfo) -> core.Sequence | None:
    for cls in (SesPropertyV4, SesPropertyV1):
        try:
            prop = cls.load(info["property"].dump())
            prop.native  # noqa: B018 - parse every field now: a V1 property fails V4 here
            return prop
        except Exception:
            continue
    return None


def _seal_name(info: SesSealInfo) -> str:
    prop = _property(info)
    return str(prop["name"].native) if prop is not None else ""


def _seal_proof(info: SesSealInfo, cert: core.OctetString, alg: core.ObjectIdentifier,
                signature: core.BitString) -> SealProof:
    prop = _property(info)
    both = SealTbs({"esealInfo": core.Any.load(info.dump()), "cert": cert.native,
                    "signAlgID": alg.dotted}).dump()
    proof = SealProof(cert.native, alg.dotted, _bits(signature), [info.dump(), both], None, None)
    if prop is None:
        return proof
    proof.valid_from, proof.valid_to, proof.created = (
        parse_time(_any_native(prop[name])) for name in ("validStart", "validEnd", "createDate"))
    proof.cert_list = _cert_list(prop)
    return proof


def _cert_list(prop: core.Sequence) -> CertList | None:
    """V1 lists certificates; V4 lists certificates (certListType 1) or their digests (2).

    Certificates come as OCTET STRINGs, or as bare Certificate SEQUENCEs in some V1 seals.
    """
    digests = isinstance(prop, SesPropertyV4) and prop["certListType"].native == 2
    out = CertList()
    try:
        for item in AnyList.load(prop["certList"].dump()):
            der = item.dump()
            if digests:
                obj = CertDigestObj.load(der)
                out.digests.append((str(_any_native(obj["type"])), obj["value"].native))
            elif der[0] == 0x04:
                out.certs.append(item.parse(core.OctetString).native)
            else:
                out.certs.append(der)
    except Exception:  # any malformed entry: the list cannot be trusted to be complete
        return None
    return out


def _any_native(value: core.Asn1Value) -> object:
    """A field kept as Any, natively; a BIT STRING as its bytes (V1 times: ASCII digits)."""
    if not isinstance(value, core.Any):
        return value.native
    parsed = value.parse()
    return bytes(parsed.contents[1:]) if isinstance(parsed, core.BitString) else parsed.native


def parse_time(value: object) -> datetime | None:
    """A seal or signature time as naive UTC. V1 producers write it as they like: ASN.1
    times, or ASCII in a BIT STRING: UTCTime (``180807153843Z``: 2018), GeneralizedTime,
    Unix seconds (``1537859052``) or milliseconds, ISO 8601 with or without milliseconds.
    An ISO time without a zone is Beijing time (UTC+8): Chinese vendors write their clock's
    time, and reading it as UTC would move every signature eight hours later."""
    if isinstance(value, datetime):
        return _utc(value)
    if not isinstance(value, bytes | str):
        return None
    text = (value.decode("ascii", "ignore") if isinstance(value, bytes) else value).strip()
    digits = re.fullmatch(r"(\d{12}|\d{14})(?:\.\d+)?Z?", text)
    if digits:
        stamp = digits.group(1)
        if len(stamp) == 12:  # UTCTime: YY 50-99 is 19YY, 00-49 is 20YY (RFC 5280 §4.1.2.5.1)
            stamp = ("19" if stamp[:2] >= "50" else "20") + stamp
        return _parsed(lambda: datetime.strptime(stamp, "%Y%m%d%H%M%S"))
    if re.fullmatch(r"\d{10}|\d{13}", text):
        seconds = int(text) / (1000 if len(text) == 13 else 1)
        return _parsed(lambda: datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None))
    return _parsed(lambda: _utc(_zoned(datetime.fromisoformat(text.replace("Z", "+00:00")))))


def _zoned(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=BEIJING)


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def _parsed(make: Callable[[], datetime]) -> datetime | None:
    try:
        return make()
    except (ValueError, OverflowError, OSError):
        return None


def _bits(value: core.BitString) -> bytes:
    """BIT STRING contents as bytes (the unused-bits count is always 0 here)."""
    return bytes(value.contents[1:])


def parse_signature(data: bytes) -> ParsedSignature:
    """SES_Signature, V4 first; raises ValueError when neither layout fits."""
    errors = []
    for parse in (_parse_v4, _parse_v1):
        try:
            return parse(data)
        except Exception as exc:
            errors.append(repr(exc))
    raise ValueError("; ".join(errors))


def _parse_v4(data: bytes) -> ParsedSignature:
    sig = SesSignatureV4.load(data, strict=False)
    tbs = sig["toSign"]
    info = tbs["eseal"]["esealInfo"]
    return ParsedSignature(
        version=int(tbs["version"].native), to_sign=tbs.dump(), data_hash=_bits(tbs["dataHash"]),
        cert=sig["cert"].native, algorithm=sig["signatureAlgID"].dotted,
        signature=_bits(sig["signature"]), signed_at=parse_time(tbs["timeInfo"].native),
        seal_name=_seal_name(info), picture=_picture(info),
        seal=_seal_proof(info, *(tbs["eseal"][k] for k in ("cert", "signAlgID", "signedValue"))),
        timestamp=_timestamp(sig["timeStamp"]))


def _timestamp(el: core.Asn1Value) -> bytes | None:
    """The token inside timeStamp [0] BIT STRING, explicitly or implicitly tagged.

    An unreadable wrapper yields its raw contents: the timestamp check then reports it, and
    the rest of the signature is still verified.
    """
    if isinstance(el, core.Void):
        return None
    contents = el.contents  # what is inside the [0] tag, never parsed by Any here
    if contents[:1] == b"\x00":  # IMPLICIT: a BIT STRING's "0 unused bits", then the token
        return contents[1:]
    try:
        inner = core.Asn1Value.load(contents)
    except ValueError:
        return contents
    return bytes(inner.contents[1:]) if isinstance(inner, core.BitString) else inner.contents


def _parse_v1(data: bytes) -> ParsedSignature:
    sig = SesSignatureV1.load(data, strict=False)
    tbs = sig["toSign"]
    info = tbs["eseal"]["esealInfo"]
    return ParsedSignature(
        version=int(tbs["version"].native), to_sign=tbs.dump(), data_hash=_bits(tbs["dataHash"]),
        cert=tbs["cert"].native, algorithm=tbs["signatureAlgorithm"].dotted,
        signature=_bits(sig["signature"]), signed_at=parse_time(_any_native(tbs["timeInfo"])),
        seal_name=_seal_name(info), picture=_picture(info),
        seal=_seal_proof(info, *(tbs["eseal"]["signInfo"][k]
                                 for k in ("cert", "signatureAlgorithm", "signData"))))


def parse_seal(data: bytes) -> SealPicture | None:
    """The picture of a standalone seal file (.esl), V4 or V1."""
    for cls in (SealV4, SealV1):
        try:
            return _picture(cls.load(data, strict=False)["esealInfo"])
        except Exception:
            continue
    return None
