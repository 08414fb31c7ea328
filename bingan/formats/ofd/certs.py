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

from bingan.formats.ofd.gm import SM2_SIGN_OID, SM2_SM3_OID, signature_digest, sm2_verify

# Key types of the RSA and ECDSA signature algorithms (their digests: gm.signature_digest).
_KEY_TYPES = {
    "1.2.840.113549.1.1.5": "rsa", "1.2.840.113549.1.1.11": "rsa", "1.2.840.113549.1.1.12": "rsa",
    "1.2.840.113549.1.1.13": "rsa", "1.2.840.10045.4.1": "ecdsa", "1.2.840.10045.4.3.2": "ecdsa",
    "1.2.840.10045.4.3.3": "ecdsa", "1.2.840.10045.4.3.4": "ecdsa",
}


def load(der: bytes) -> x509.Certificate | None:
    """A certificate whose validity and key parse, or None.

    Only what verification reads is parsed: certificates in the field carry odd extensions,
    and names that break strict decoders (UTF-8 inside an IA5String e-mail address), which
    common_name and same_name read leniently instead of losing the signer.
    """
    try:
        cert = x509.Certificate.load(der)
        cert["tbs_certificate"]["validity"].native  # noqa: B018 - parse now, not mid-verdict
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
    """The subject's CN, read attribute by attribute: one undecodable attribute (an e-mail
    address with UTF-8 in an IA5String) does not hide the name."""
    if cert is None:
        return ""
    for rdn in cert.subject.chosen:
        for pair in rdn:
            if pair["type"].native != "common_name":
                continue
            try:
                return str(pair["value"].native)
            except (ValueError, UnicodeDecodeError):
                return bytes(pair["value"].chosen.contents).decode("utf-8", "replace")
    return ""


def same_name(a: x509.Name, b: x509.Name) -> bool:
    """RFC 5280 name comparison, or byte equality when a name cannot be decoded."""
    try:
        return a == b
    except (ValueError, UnicodeDecodeError):
        return a.dump() == b.dump()


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
    if cert is None or issuer is None or not same_name(cert.issuer, issuer.subject):
        return False
    if cert["signature_algorithm"]["algorithm"].dotted == SM2_SM3_OID:
        point = sm2_point(issuer)
        return point is not None and sm2_verify(
            point, cert["tbs_certificate"].dump(), cert["signature_value"].native)
    return _issued_by_other(cert_der, issuer_der)


def verify(cert: x509.Certificate, algorithm: str, message: bytes, value: bytes) -> bool | None:
    """Whether ``value`` is the certificate key's signature over ``message`` by ``algorithm``
    (an OID: SM2 with SM3, RSA PKCS #1 v1.5 or ECDSA with SHA-1/SHA-2); None when the
    algorithm or the key is not supported."""
    if algorithm in (SM2_SM3_OID, SM2_SIGN_OID):
        point = sm2_point(cert)
        return None if point is None else sm2_verify(point, message, value)
    kind, hash_name = _KEY_TYPES.get(algorithm), signature_digest(algorithm)
    if kind is None or hash_name is None:
        return None
    return verify_with_key(cert.dump(), kind, hash_name, message, value)


def verify_with_key(cert_der: bytes, kind: str, hash_name: str, message: bytes,
                    value: bytes) -> bool | None:
    """RSA (PKCS #1 v1.5) or ECDSA (``kind``) by the certificate's key, hashed by ``hash_name``
    (hashlib's name); None when the key or the digest is not supported. Shared with timestamps."""
    from cryptography import x509 as cx509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    try:
        key = cx509.load_der_x509_certificate(cert_der).public_key()
    except Exception:  # a key cryptography cannot load
        return None
    hash_type = {"sha1": hashes.SHA1, "sha256": hashes.SHA256, "sha384": hashes.SHA384,
                 "sha512": hashes.SHA512, "sm3": hashes.SM3}.get(hash_name)
    if hash_type is None:
        return None
    hash_ = hash_type()
    try:
        if kind == "rsa" and isinstance(key, rsa.RSAPublicKey):
            key.verify(value, message, padding.PKCS1v15(), hash_)
        elif kind == "ecdsa" and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(value, message, ec.ECDSA(hash_))
        else:
            return None
    except InvalidSignature:
        return False
    return True


def _issued_by_other(cert_der: bytes, issuer_der: bytes) -> bool:
    """RSA and ECDSA issuers, verified by cryptography."""
    from cryptography import x509 as cx509

    try:
        cert = cx509.load_der_x509_certificate(cert_der)
        cert.verify_directly_issued_by(cx509.load_der_x509_certificate(issuer_der))
    except Exception:  # wrong signature, unsupported key or algorithm
        return False
    return True
