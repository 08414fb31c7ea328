"""The signing certificates of a document's signatures, for an online revocation check (OCSP or a
CA's validation service, records/ca_validation): one entry per signature, in the order of the
verdicts (signatures.verify_pdf, ofd.verify_signatures), so entry i belongs to verdict i.

Each entry has the signer's certificate (DER) and the other certificates the signature carries
(usually its chain: the issuer is needed to ask an OCSP responder). Nothing is verified here;
the local verdict already was. Bytes in, bytes out: run it guarded, it parses untrusted files.
"""
from __future__ import annotations

from dataclasses import dataclass

OFD_MEDIA_TYPE = "application/ofd"
PDF_MEDIA_TYPE = "application/pdf"


@dataclass(frozen=True)
class SignerCertificates:
    signer: bytes | None  # DER of the signing certificate; None when the signature carries none
    others: tuple[bytes, ...] = ()  # DER of the other certificates in the signature


def signing_certificates(data: bytes, media_type: str) -> list[SignerCertificates]:
    """One entry per signature of a PDF or OFD file; [] for other files or unreadable ones."""
    try:
        if media_type == PDF_MEDIA_TYPE:
            return _pdf(data)
        if media_type == OFD_MEDIA_TYPE:
            return _ofd(data)
    except Exception:  # a file whose signatures cannot be read has no certificate to check
        return []
    return []


def _pdf(data: bytes) -> list[SignerCertificates]:
    from bingan.formats.signatures import _contents, _signature_fields

    out = []
    for _reader, field, _name in _signature_fields(data):
        out.append(_from_cms(_contents(field.get_object()["/V"].get_object())))  # type: ignore[attr-defined]
    return out


def _ofd(data: bytes) -> list[SignerCertificates]:
    from bingan.formats.ofd import _document
    from bingan.formats.ofd.ses import parse_signature
    from bingan.formats.ofd.signature import _signed_value, entries

    doc = _document(data)
    out = []
    for entry in entries(doc):
        value = _signed_value(doc, entry) if entry.xml is not None else None
        if value is None:
            out.append(SignerCertificates(None))
            continue
        try:
            out.append(SignerCertificates(bytes(parse_signature(value).cert)))
        except ValueError:
            out.append(_from_cms(value))
    return out


def _from_cms(value: bytes) -> SignerCertificates:
    """The signer's certificate and the others of a (RFC 5652 or GB/T 35275) SignedData."""
    from asn1crypto import cms as asn1_cms

    from bingan.formats.ofd import cms

    try:
        outer = cms._AnyContentInfo.load(value)  # a PDF pads it with zeros: read past them
        if outer["content_type"].dotted not in cms.SIGNED_DATA_OIDS:
            return SignerCertificates(None)
        signed = outer["content"].parse(asn1_cms.SignedData)
        signer = cms.signer_cert(signed, signed["signer_infos"][0]["sid"])
        carried = [c.chosen for c in signed["certificates"] or [] if c.name == "certificate"]
    except (ValueError, TypeError, KeyError, IndexError):
        return SignerCertificates(None)
    signer_der = signer.dump() if signer is not None else None
    return SignerCertificates(signer_der, tuple(c.dump() for c in carried if c.dump() != signer_der))
