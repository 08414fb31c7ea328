"""Sealing an OFD we wrote (电子签章, GB/T 33190 §18 with a GB/T 38540 V4 seal signature in SM2).

    key = SealKey.generate()                                # or SealKey.from_pem(stored, certificate)
    key = key.with_certificate(self_issued_certificate(key, "某某医院", "某某医院 电子印章", valid, serial))
    sealed = seal_ofd(write_ofd(pages), key, SealFacts("病案导出专用章", png, valid), when)

The package gains Doc_0/Signs/Signatures.xml and Sign_0/{Signature.xml, SignedValue.dat}: the
signature description lists every other part with its SM3 digest, the SES_Signature signs the
SM3 digest of that description, and the seal it carries (made and signed by the same key, which
its certificate list authorises) holds the picture stamped on the first page. So any change to
a page, an image or the description breaks the signature (bingan.formats.ofd.signature checks
it). Pure: the key comes from the caller, which keeps it sealed.
"""
from __future__ import annotations

import base64
import io
import zipfile
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from asn1crypto import core, keys, pem, x509

from bingan.formats.base import FormatError
from bingan.formats.ofd import ses
from bingan.formats.ofd.gm import SM2_SM3_OID, SM3_OID, sm2_new_key, sm2_public, sm2_sign, sm3
from bingan.formats.ofd.reader import OfdDocument
from bingan.formats.ofd.writer import NS, pack

SIGNS = "Doc_0/Signs"
SIGNATURES = f"{SIGNS}/Signatures.xml"
SIGNATURE = f"{SIGNS}/Sign_0/Signature.xml"
SIGNED_VALUE = f"{SIGNS}/Sign_0/SignedValue.dat"
STAMP_MM = 40  # the seal picture's side on the page
PEM_LABEL = "EC PRIVATE KEY"  # RFC 5915, as OpenSSL writes SM2 keys


@dataclass(frozen=True)
class SealKey:
    """An SM2 key (private scalar as hex, public point x || y) and its certificate (DER)."""

    private_hex: str
    public_xy: bytes
    certificate: bytes = b""

    @classmethod
    def generate(cls) -> SealKey:
        private, public = sm2_new_key()
        return cls(private, public)

    @classmethod
    def from_pem(cls, text: str, certificate: bytes = b"") -> SealKey:
        _, _, der = pem.unarmor(text.encode())
        private = f"{keys.ECPrivateKey.load(der)['private_key'].native:064x}"
        return cls(private, sm2_public(private), certificate)

    def to_pem(self) -> str:
        der = keys.ECPrivateKey({"version": "ecPrivkeyVer1", "private_key": int(self.private_hex, 16),
                                 "parameters": ("named", "sm2p256v1"), "public_key": b"\x04" + self.public_xy}).dump()
        return pem.armor(PEM_LABEL, der).decode()

    def with_certificate(self, certificate: bytes) -> SealKey:
        return replace(self, certificate=certificate)

    def sign(self, message: bytes) -> bytes:
        return sm2_sign(self.private_hex, self.public_xy, message)


def self_issued_certificate(key: SealKey, organisation: str, common_name: str,
                            valid: tuple[datetime, datetime], serial: int) -> bytes:
    """A self-issued SM2 certificate (SM2 with SM3) for the seal: a trust anchor of its own that
    the hospital hands to verifiers, until it installs one from its CA."""
    name = x509.Name.build({"country_name": "CN", "organization_name": organisation, "common_name": common_name})
    algorithm = {"algorithm": SM2_SM3_OID}
    tbs = x509.TbsCertificate({
        "version": "v3", "serial_number": serial, "signature": algorithm, "issuer": name,
        "validity": {"not_before": _time(valid[0]), "not_after": _time(valid[1])}, "subject": name,
        "subject_public_key_info": {"algorithm": {"algorithm": "ec", "parameters": ("named", "sm2p256v1")},
                                    "public_key": b"\x04" + key.public_xy},
        "extensions": [
            {"extn_id": "basic_constraints", "critical": True, "extn_value": {"ca": True}},
            {"extn_id": "key_usage", "critical": True,
             "extn_value": {"digital_signature", "non_repudiation", "key_cert_sign"}}]})
    return x509.Certificate({"tbs_certificate": tbs, "signature_algorithm": algorithm,
                             "signature_value": key.sign(tbs.dump())}).dump()


def _time(when: datetime) -> x509.Time:
    return x509.Time(name="generalized_time" if when.year >= 2050 else "utc_time", value=_aware(when))


def _aware(when: datetime) -> datetime:
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


@dataclass(frozen=True)
class SealFacts:
    """What the seal says: its name, picture (PNG), and the period it is valid (its certificate's)."""

    name: str
    picture_png: bytes
    valid: tuple[datetime, datetime]
    provider: str = "Bingan"


def seal_ofd(data: bytes, key: SealKey, facts: SealFacts, when: datetime) -> bytes:
    """``data`` (an unsigned OFD from write_ofd) with one seal signature over all its parts,
    stamped at the lower right of the first page, signed at ``when``."""
    parts = _parts(data)
    if SIGNATURES in parts or b"<ofd:Signatures>" in parts["OFD.xml"]:
        raise FormatError("该 OFD 已经签章", "seal_ofd on a signed OFD")
    document = OfdDocument(data)
    parts["OFD.xml"] = parts["OFD.xml"].replace(
        b"</ofd:DocRoot>", f"</ofd:DocRoot><ofd:Signatures>{SIGNATURES}</ofd:Signatures>".encode(), 1)
    width, height = document.box[2], document.box[3]
    side = min(STAMP_MM, width / 3, height / 3)
    box = (width - side - width / 12, height - side - height / 14, side, side)
    description = _signature_xml(parts, facts, when, document.pages[0].id, box)
    parts[SIGNATURES] = _xml(
        f'<ofd:Signatures xmlns:ofd="{NS}"><ofd:MaxSignId>1</ofd:MaxSignId>'
        f'<ofd:Signature ID="1" Type="Seal" BaseLoc="/{SIGNATURE}"/></ofd:Signatures>')
    parts[SIGNATURE] = description
    parts[SIGNED_VALUE] = ses_signature(key, facts, description, when)
    return pack(parts)


def _parts(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as packed:
        return {info.filename: packed.read(info) for info in packed.infolist() if not info.is_dir()}


def _xml(body: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body).encode("utf-8")


def _signature_xml(parts: dict[str, bytes], facts: SealFacts, when: datetime, page_id: str,
                   box: tuple[float, float, float, float]) -> bytes:
    """Signature.xml: every part but the signature list with its SM3 digest, the stamp's place."""
    references = "".join(
        f'<ofd:Reference FileRef="/{name}"><ofd:CheckValue>{base64.b64encode(sm3(content)).decode()}'
        "</ofd:CheckValue></ofd:Reference>" for name, content in sorted(parts.items()) if name != SIGNATURES)
    boundary = " ".join(f"{value:.2f}" for value in box)
    return _xml(
        f'<ofd:Signature xmlns:ofd="{NS}"><ofd:SignedInfo>'
        f'<ofd:Provider ProviderName="{facts.provider}" Version="1.0"/>'
        f"<ofd:SignatureMethod>{SM2_SM3_OID}</ofd:SignatureMethod>"
        f"<ofd:SignatureDateTime>{_aware(when):%Y%m%d%H%M%S}Z</ofd:SignatureDateTime>"
        f'<ofd:References CheckMethod="{SM3_OID}">{references}</ofd:References>'
        f'<ofd:StampAnnot ID="1" PageRef="{page_id}" Boundary="{boundary}"/>'
        f"</ofd:SignedInfo><ofd:SignedValue>/{SIGNED_VALUE}</ofd:SignedValue></ofd:Signature>")


def ses_signature(key: SealKey, facts: SealFacts, description: bytes, when: datetime) -> bytes:
    """SES_Signature V4 (GB/T 38540 §7): the seal (made by ``key``'s certificate, which it
    authorises), the time, the SM3 digest of Signature.xml, all signed with SM2."""
    start, end = (_aware(value) for value in facts.valid)
    info = ses.SesSealInfo({
        "header": ses.SesHeader({"id": "ES", "version": 4, "vid": facts.provider}),
        "esID": f"{int.from_bytes(sm3(key.certificate)[:8], 'big')}",
        "property": ses.SesPropertyV4({
            "type": 1, "name": facts.name, "certListType": 1,
            "certList": core.SequenceOf(spec=core.OctetString, value=[key.certificate]),
            "createDate": start, "validStart": start, "validEnd": end}),
        "picture": ses.SesPicture({"type": "PNG", "data": facts.picture_png, "width": STAMP_MM,
                                   "height": STAMP_MM})})
    made = ses.SealTbs({"esealInfo": core.Any.load(info.dump()), "cert": key.certificate,
                        "signAlgID": SM2_SM3_OID}).dump()
    seal = ses.SealV4({"esealInfo": info, "cert": key.certificate, "signAlgID": SM2_SM3_OID,
                       "signedValue": _bits(key.sign(made))})
    to_sign = ses.TbsSignV4({"version": 4, "eseal": seal, "timeInfo": _aware(when),
                             "dataHash": _bits(sm3(description)), "propertyInfo": f"/{SIGNATURE}"})
    return ses.SesSignatureV4({"toSign": to_sign, "cert": key.certificate, "signatureAlgID": SM2_SM3_OID,
                               "signature": _bits(key.sign(to_sign.dump()))}).dump()


def _bits(data: bytes) -> core.BitString:
    return core.BitString.load(core.OctetBitString(data).dump())
