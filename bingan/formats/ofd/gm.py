"""SM3 digests, SM2 keys, signing and signature verification (GB/T 32905, GB/T 32918.2), and
the other digests OFD files name.

The digest comes from cryptography (OpenSSL); gmssl, whose SM3 is pure Python, only does
the curve arithmetic. Nonces and keys come from ``secrets``, never from gmssl's ``random``.
"""
from __future__ import annotations

import hashlib
import secrets

from asn1crypto import keys
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
SM2_CURVE_OID = "1.2.156.10197.1.301"  # sm2p256v1, GB/T 32918.5
# asn1crypto lays out SM2 keys (ECPrivateKey, PublicKeyInfo) once it knows the curve's size.
if SM2_CURVE_OID not in keys.NamedCurve._map:
    keys.NamedCurve.register("sm2p256v1", SM2_CURVE_OID, 32)
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


def sm2_new_key() -> tuple[str, bytes]:
    """A fresh SM2 key pair: the private scalar (64 hex digits) and the public point x || y."""
    order = int(_ECC["n"], 16)
    private = f"{secrets.randbelow(order - 2) + 1:064x}"
    return private, sm2_public(private)


def sm2_public(private_hex: str) -> bytes:
    """The public point x || y (64 bytes) of an SM2 private scalar."""
    curve = sm2.CryptSM2(private_key=private_hex, public_key="")
    return bytes.fromhex(curve._kg(int(private_hex, 16), _ECC["g"]))


def sm2_sign(private_hex: str, public_xy: bytes, message: bytes) -> bytes:
    """The SM2 signature (DER SEQUENCE {r, s}) over SM3(Z_A || message), default signer ID."""
    e = sm3(sm2_z(public_xy) + message)
    signer = sm2.CryptSM2(private_key=private_hex, public_key="")
    order = int(_ECC["n"], 16)
    while True:  # r = 0, r + k = n or s = 0 want another nonce (probability ~2^-256)
        rs = signer.sign(e, f"{secrets.randbelow(order - 1) + 1:064x}")
        if rs:
            return DSASignature({"r": int(rs[:64], 16), "s": int(rs[64:], 16)}).dump()
