"""Certificates of OFD seal signatures: validity at signing time and the chain to trust roots.

SM2 certificates are signed with SM2/SM3, which `cryptography` cannot verify: their
signatures are checked with the issuer's SM2 key by gm.sm2_verify, as SES signatures are.
Issuers with RSA or ECDSA keys go through `cryptography`. Every certificate in the trust
list is an anchor, as for PDF signatures (bingan.formats.signatures).
"""
from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

from asn1crypto import x509

from bingan.formats.ofd.gm import SM2_SM3_OID, sm2_verify


def load(der: bytes) -> x509.Certificate | None:
    """A certificate whose subject, validity and key parse, or None.

    Only what verification reads is parsed: certificates in the field carry odd extensions.
    """
    try:
        cert = x509.Certificate.load(der)
        cert.subject.native  # noqa: B018 - parse now, not in the middle of a verdict
        cert["tbs_certificate"]["validity"].native  # noqa: B018
        cert.public_key.native  # noqa: B018
        return cert
    except Exception:
        return None


def sm2_point(cert: x509.Certificate) -> bytes | None:
    """The SM2 public key x || y (64 bytes), or None when the key is not an SM2/EC point."""
    try:
        point = bytes(cert.public_key["public_key"].contents[1:])
    except Exception:
        return None
    return point[1:] if len(point) == 65 and point[0] == 4 else None


def common_name(cert: x509.Certificate | None) -> str:
    if cert is None:
        return ""
    return str(cert.subject.native.get("common_name", ""))


def validity_problem(cert: x509.Certificate, when: datetime, label: str = "签名时间") -> str | None:
    """Why the certificate was not valid at ``when`` (naive means UTC), or None when it was;
    ``label`` names the moment in the reason."""
    validity = cert["tbs_certificate"]["validity"]
    start, end = validity["not_before"].native, validity["not_after"].native
    at = when if when.tzinfo else when.replace(tzinfo=UTC)
    if start <= at <= end:
        return None
    return f"有效期 {start:%Y-%m-%d} 至 {end:%Y-%m-%d}，{label} {at:%Y-%m-%d %H:%M}"


def chains(cert: x509.Certificate, roots: tuple[x509.Certificate, ...]) -> bool:
    """True when the certificate is a trust anchor or is signed by one."""
    der = cert.dump()
    return any(root.dump() == der or issued_by(der, root.dump()) for root in roots)


@lru_cache(maxsize=256)  # one hospital certificate signs thousands of records
def issued_by(cert_der: bytes, issuer_der: bytes) -> bool:
    cert, issuer = load(cert_der), load(issuer_der)
    if cert is None or issuer is None or cert.issuer != issuer.subject:
        return False
    if cert["signature_algorithm"]["algorithm"].dotted == SM2_SM3_OID:
        point = sm2_point(issuer)
        return point is not None and sm2_verify(
            point, cert["tbs_certificate"].dump(), cert["signature_value"].native)
    return _issued_by_other(cert_der, issuer_der)


def _issued_by_other(cert_der: bytes, issuer_der: bytes) -> bool:
    """RSA and ECDSA issuers, verified by cryptography."""
    from cryptography import x509 as cx509

    try:
        cert = cx509.load_der_x509_certificate(cert_der)
        cert.verify_directly_issued_by(cx509.load_der_x509_certificate(issuer_der))
    except Exception:  # wrong signature, unsupported key or algorithm
        return False
    return True
