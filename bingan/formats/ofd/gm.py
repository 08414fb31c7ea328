"""SM3 digests and SM2 signature verification (GB/T 32905, GB/T 32918.2), and the other
digests OFD files name.

The digest comes from cryptography (OpenSSL); gmssl, whose SM3 is pure Python, only does
the curve arithmetic.
"""
from __future__ import annotations

import hashlib

from asn1crypto.algos import DSASignature
from cryptography.hazmat.primitives import hashes
from gmssl import sm2

SM2_SM3_OID = "1.2.156.10197.1.501"
SM2_SIGN_OID = "1.2.156.10197.1.301.1"  # "SM2 signature", named by some CMS producers
SM3_OID = "1.2.156.10197.1.401"
# GM/T 0006 "SM3 with public key": SM3(Z_A || data), Z_A the signer's SM2 pre-hash.
SM3_KEYED_OID = "1.2.156.10197.1.401.2"
# Digests by OID or by the names OFD producers write (CheckMethod, CertDigestObj.type).
_DIGESTS = {
    SM3_OID: "sm3", "sm3": "sm3", "2.16.840.1.101.3.4.2.1": "sha256", "sha256": "sha256",
    "sha-256": "sha256", "2.16.840.1.101.3.4.2.2": "sha384", "sha384": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512", "sha512": "sha512", "1.3.14.3.2.26": "sha1",
    "sha1": "sha1", "sha-1": "sha1", "1.2.840.113549.2.5": "md5", "md5": "md5",
}
_SIGNATURE_DIGESTS = {
    SM2_SM3_OID: "sm3", SM2_SIGN_OID: "sm3",
    "1.2.840.113549.1.1.5": "sha1", "1.2.840.113549.1.1.11": "sha256",
    "1.2.840.113549.1.1.12": "sha384", "1.2.840.113549.1.1.13": "sha512",
    "1.2.840.10045.4.1": "sha1", "1.2.840.10045.4.3.2": "sha256",
    "1.2.840.10045.4.3.3": "sha384", "1.2.840.10045.4.3.4": "sha512",
}
SM2_USER_ID = b"1234567812345678"  # GB/T 35276 default signer ID
_ECC = sm2.default_ecc_table


def sm3(data: bytes) -> bytes:
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


def digest_name(method: str) -> str | None:
    """hashlib's name of a digest named by OID or name, or None when unsupported."""
    return _DIGESTS.get(method.strip().lower())


def signature_digest(algorithm: str) -> str | None:
    """The digest a signature algorithm (OID) hashes with: SM3 for SM2, SHA-1 for
    sha1WithRSA, …; None when unknown."""
    return _SIGNATURE_DIGESTS.get(algorithm.strip())


def digest(method: str, data: bytes) -> bytes | None:
    name = digest_name(method)
    if name is None:
        return None
    return sm3(data) if name == "sm3" else hashlib.new(name, data).digest()


def sm2_z(public_xy: bytes, user_id: bytes = SM2_USER_ID) -> bytes:
    """Z_A = SM3(ENTL || ID || a || b || xG || yG || xA || yA), GB/T 32918.2 §5.5."""
    curve = bytes.fromhex(_ECC["a"] + _ECC["b"] + _ECC["g"])
    return sm3((len(user_id) * 8).to_bytes(2, "big") + user_id + curve + public_xy)


def sm2_verify(public_xy: bytes, message: bytes, signature: bytes) -> bool:
    rs = _signature_rs(signature)
    if rs is None:
        return False
    e = sm3(sm2_z(public_xy) + message)
    verifier = sm2.CryptSM2(private_key=None, public_key="")
    verifier.public_key = public_xy.hex()  # gmssl's constructor lstrip("04")s keys starting 04
    try:
        return bool(verifier.verify(rs, e))
    except Exception:
        return False


def _signature_rs(signature: bytes) -> str | None:
    """r||s as 128 hex digits, from a DER SEQUENCE {r, s} or a raw 64-byte value."""
    if len(signature) == 64:
        return signature.hex()
    try:
        native = DSASignature.load(signature).native
        r, s = native["r"], native["s"]
    except Exception:
        return None
    if not (0 < r < 1 << 256 and 0 < s < 1 << 256):
        return None
    return f"{r:064x}{s:064x}"
