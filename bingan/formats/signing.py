"""The signing port (签名服务): ``sign(digest, algorithm) -> CMS`` — a digest in, a detached CMS
SignedData (RFC 5652; GB/T 35275 algorithms for SM2) out — and its local adapter, a key held by
the caller (PKCS#12 or PEM, or one issued by the hospital's own CA). The remote adapter (a CA
vendor's signing server) and the RFC 3161 time-stamp client are in signing_remote.py, the
verification in signing_check.py.

The digest algorithm follows the certificate: SM3 for an SM2 key (SM2 with SM3 over the
signed attributes, Z_A with the default user ID), SHA-256 for RSA (PKCS #1 v1.5) and ECDSA.
Pure: keys and certificates come from the caller; formats never stores one.
"""
from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from asn1crypto import algos, cms, core, keys, pem, x509

from bingan.formats.ofd.gm import SM2_SM3_OID, SM3_OID, sm3

SM2_CURVE_OID = "1.2.156.10197.1.301"
TIMESTAMP_ATTRIBUTE = "signature_time_stamp_token"  # id-aa-timeStampToken, RFC 3161 appendix A
_SIGNATURE_OIDS = {"rsa": "1.2.840.113549.1.1.11", "ecdsa": "1.2.840.10045.4.3.2", "sm2": SM2_SM3_OID}
_DIGEST_OIDS = {"sha256": "2.16.840.1.101.3.4.2.1", "sm3": SM3_OID}


class _Pkcs8(core.Sequence):
    """PrivateKeyInfo (RFC 5208) laid out by hand: asn1crypto's own class refuses a curve it has no
    key length for (SM2), and registering one would change how every other module reads SM2 keys."""

    _fields = [("version", core.Integer), ("private_key_algorithm", keys.PrivateKeyAlgorithm),
               ("private_key", core.OctetString)]


class SigningError(Exception):
    """The signing service or the time-stamp authority could not sign (unreachable, refused)."""


class Signer(Protocol):
    """One signer's port: its certificate chain (the leaf first, DER) and ``sign``."""

    def chain(self) -> list[bytes]: ...

    def sign(self, digest: bytes, algorithm: str) -> bytes: ...


def digest_algorithm(cert_der: bytes) -> str:
    """``sm3`` for an SM2 certificate, ``sha256`` otherwise."""
    return "sm3" if key_kind(x509.Certificate.load(cert_der).public_key) == "sm2" else "sha256"


def digest(algorithm: str, data: bytes) -> bytes:
    if algorithm not in _DIGEST_OIDS:
        raise SigningError(f"不支持的摘要算法：{algorithm}")
    return sm3(data) if algorithm == "sm3" else hashlib.sha256(data).digest()


def key_kind(public: keys.PublicKeyInfo) -> str:
    algorithm = public["algorithm"]
    if algorithm["algorithm"].native == "rsa":
        return "rsa"
    curve = algorithm["parameters"].chosen
    return "sm2" if getattr(curve, "dotted", curve.native) == SM2_CURVE_OID else "ecdsa"


# --- keys --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SigningKey:
    """A private key of one of the three kinds: a cryptography key (RSA, ECDSA P-256), or an
    SM2 private scalar (64 hex digits) with its public point (x || y, 128 hex digits)."""

    kind: str
    private: object
    sm2_public: str = ""

    @classmethod
    def generate(cls, kind: str) -> SigningKey:
        from cryptography.hazmat.primitives.asymmetric import ec, rsa

        if kind == "rsa":
            return cls("rsa", rsa.generate_private_key(public_exponent=65537, key_size=2048))
        if kind == "ecdsa":
            return cls("ecdsa", ec.generate_private_key(ec.SECP256R1()))
        if kind == "sm2":
            return _sm2_key(secrets.randbelow(_sm2_order() - 2) + 1)
        raise SigningError(f"不支持的密钥类型：{kind}（应为 sm2、rsa 或 ecdsa）")

    @classmethod
    def load(cls, data: bytes, password: bytes | None = None) -> SigningKey:
        """A PKCS#8 or SEC 1 key, PEM or DER (SM2 keys too, which cryptography cannot read)."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec, rsa

        try:
            der = pem.unarmor(data)[2] if pem.detect(data) else data
            sm2 = _sm2_scalar(der)
            key = _sm2_key(sm2) if sm2 is not None else serialization.load_der_private_key(der, password)
        except (ValueError, TypeError) as exc:
            raise SigningError("私钥文件无法读取：应为 PKCS#8 或 SEC 1 格式（PEM 或 DER）") from exc
        if isinstance(key, SigningKey):
            return key
        if isinstance(key, rsa.RSAPrivateKey):
            return cls("rsa", key)
        if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
            return cls("ecdsa", key)
        raise SigningError("不支持的私钥类型：签名密钥应为 SM2、RSA 或 ECDSA P-256")

    def pem(self) -> str:
        """PKCS#8 PEM (unencrypted: the caller seals it)."""
        from cryptography.hazmat.primitives import serialization

        if self.kind != "sm2":
            return self.private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()).decode()
        sec1 = keys.ECPrivateKey({"version": "ecPrivkeyVer1", "private_key": int(self.private, 16),
                                  "public_key": bytes.fromhex("04" + self.sm2_public)})
        sec1.set_key_size(32)
        info = _Pkcs8({"version": 0, "private_key": sec1.dump(),
                       "private_key_algorithm": {"algorithm": "ec", "parameters": ("named", SM2_CURVE_OID)}})
        return pem.armor("PRIVATE KEY", info.dump()).decode()

    def public_info(self) -> keys.PublicKeyInfo:
        from cryptography.hazmat.primitives import serialization

        if self.kind == "sm2":
            return keys.PublicKeyInfo({"algorithm": {"algorithm": "ec", "parameters": ("named", SM2_CURVE_OID)},
                                       "public_key": bytes.fromhex("04" + self.sm2_public)})
        return keys.PublicKeyInfo.load(self.private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))

    @property
    def signature_oid(self) -> str:
        return _SIGNATURE_OIDS[self.kind]

    def sign_raw(self, message: bytes) -> bytes:
        """The signature value over ``message``: SHA-256 with RSA or ECDSA, SM3 (with Z_A) with SM2."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec, padding

        if self.kind == "rsa":
            return self.private.sign(message, padding.PKCS1v15(), hashes.SHA256())
        if self.kind == "ecdsa":
            return self.private.sign(message, ec.ECDSA(hashes.SHA256()))
        return _sm2_sign(self, message)


def _sm2_order() -> int:
    from gmssl import sm2

    return int(sm2.default_ecc_table["n"], 16)


def _sm2_key(scalar: int) -> SigningKey:
    from gmssl import sm2

    private = f"{scalar:064x}"
    public = sm2.CryptSM2(private_key=private, public_key="")._kg(scalar, sm2.default_ecc_table["g"])
    return SigningKey("sm2", private, public.rjust(128, "0"))


def _sm2_scalar(der: bytes) -> int | None:
    """The private scalar of an SM2 key (PKCS#8 or SEC 1), or None for any other key."""
    try:
        info = keys.PrivateKeyInfo.load(der)
        curve = info["private_key_algorithm"]["parameters"].chosen
        if info["private_key_algorithm"]["algorithm"].native != "ec" or curve.dotted != SM2_CURVE_OID:
            return None
        return info["private_key"].parsed["private_key"].native
    except Exception:  # not PKCS#8: perhaps SEC 1
        pass
    try:
        sec1 = keys.ECPrivateKey.load(der)
        curve = sec1["parameters"].chosen
        return sec1["private_key"].native if curve is not None and curve.dotted == SM2_CURVE_OID else None
    except Exception:
        return None


def _sm2_sign(key: SigningKey, message: bytes) -> bytes:
    from gmssl import sm2

    signer = sm2.CryptSM2(private_key=key.private, public_key="")
    signer.public_key = key.sm2_public  # the constructor strips a leading "04" that is part of x
    k = f"{secrets.randbelow(_sm2_order() - 2) + 1:064x}"
    rs = signer.sign_with_sm3(message, k)
    return algos.DSASignature({"r": int(rs[:64], 16), "s": int(rs[64:], 16)}).dump()


# --- certificates ------------------------------------------------------------------------------

def issue_certificate(key: SigningKey, subject: dict, *, issuer_key: SigningKey, issuer: x509.Name | None,
                      serial: int, valid_from: datetime, valid_to: datetime, ca: bool = False,
                      extended_usage: tuple[str, ...] = ()) -> bytes:
    """A DER certificate for ``key`` (self-signed when ``issuer`` is None), signed by
    ``issuer_key`` with its kind's algorithm (SM2 with SM3 for SM2 keys)."""
    name = x509.Name.build(subject)
    algorithm = {"algorithm": issuer_key.signature_oid}
    usage = {"key_cert_sign", "crl_sign"} if ca else {"digital_signature", "non_repudiation"}
    extensions = [{"extn_id": "basic_constraints", "critical": True, "extn_value": {"ca": ca}},
                  {"extn_id": "key_usage", "critical": True, "extn_value": usage}]
    if extended_usage:
        extensions.append({"extn_id": "extended_key_usage", "critical": True, "extn_value": list(extended_usage)})
    tbs = x509.TbsCertificate({
        "version": "v3", "serial_number": serial, "signature": algorithm, "issuer": issuer or name,
        "validity": {"not_before": x509.Time(name="utc_time", value=valid_from.astimezone(UTC)),
                     "not_after": x509.Time(name="utc_time", value=valid_to.astimezone(UTC))},
        "subject": name, "subject_public_key_info": key.public_info(), "extensions": extensions})
    return x509.Certificate({"tbs_certificate": tbs, "signature_algorithm": algorithm,
                             "signature_value": issuer_key.sign_raw(tbs.dump())}).dump()


# --- the local adapter -------------------------------------------------------------------------

@dataclass(frozen=True)
class KeySigner:
    """The local adapter: a key and its certificate chain (DER, the leaf first)."""

    key: SigningKey
    certificates: list[bytes]

    def chain(self) -> list[bytes]:
        return self.certificates

    def sign(self, digest_value: bytes, algorithm: str) -> bytes:
        return signed_data(digest_value, algorithm, self.certificates, self.key.signature_oid, self.key.sign_raw)


def signed_data(digest_value: bytes, algorithm: str, chain: list[bytes], signature_oid: str,
                sign_raw: Callable[[bytes], bytes]) -> bytes:
    """A detached CMS SignedData over content whose ``algorithm`` digest is ``digest_value``,
    signed attributes (content type, signing time, message digest) signed by ``sign_raw``."""
    if algorithm not in _DIGEST_OIDS:
        raise SigningError(f"不支持的摘要算法：{algorithm}")
    leaf = x509.Certificate.load(chain[0])
    when = datetime.now(UTC).replace(microsecond=0)
    attributes = cms.CMSAttributes([
        {"type": "content_type", "values": ["data"]},
        {"type": "signing_time", "values": [cms.Time(name="utc_time", value=when)]},
        {"type": "message_digest", "values": [digest_value]},
    ])
    digest_id = {"algorithm": _DIGEST_OIDS[algorithm]}
    signer = cms.SignerInfo({
        "version": "v1",
        "sid": cms.SignerIdentifier(name="issuer_and_serial_number", value={
            "issuer": leaf.issuer, "serial_number": leaf.serial_number}),
        "digest_algorithm": digest_id, "signed_attrs": attributes,
        "signature_algorithm": {"algorithm": signature_oid}, "signature": sign_raw(attributes.dump()),
    })
    data = cms.SignedData({
        "version": "v1", "digest_algorithms": [digest_id], "encap_content_info": {"content_type": "data"},
        "certificates": [x509.Certificate.load(der) for der in chain], "signer_infos": [signer]})
    return cms.ContentInfo({"content_type": "signed_data", "content": data}).dump()


# --- the timestamp inside the signature --------------------------------------------------------

def signature_value(signature: bytes) -> tuple[bytes, str]:
    """The first signer's signature value and its digest algorithm (``sm3`` or ``sha256``):
    what an RFC 3161 timestamp of this signature stamps."""
    signer = _signer_info(signature)
    oid = signer["digest_algorithm"]["algorithm"].dotted
    return signer["signature"].native, "sm3" if oid == SM3_OID else "sha256"


def with_timestamp(signature: bytes, token: bytes) -> bytes:
    """``signature`` with the TimeStampToken ``token`` as its first signer's unsigned attribute
    id-aa-timeStampToken (the signed part is unchanged)."""
    data = cms.ContentInfo.load(signature)["content"]
    signer = data["signer_infos"][0]
    attributes = [a for a in (signer["unsigned_attrs"] if signer["unsigned_attrs"].native else [])
                  if a["type"].native != TIMESTAMP_ATTRIBUTE]
    attributes.append(cms.CMSAttribute({"type": TIMESTAMP_ATTRIBUTE, "values": [cms.ContentInfo.load(token)]}))
    signer["unsigned_attrs"] = cms.CMSAttributes(attributes)
    data["signer_infos"] = cms.SignerInfos([signer, *list(data["signer_infos"])[1:]])
    return cms.ContentInfo({"content_type": "signed_data", "content": data}).dump()


def _signer_info(signature: bytes) -> cms.SignerInfo:
    try:
        info = cms.ContentInfo.load(signature)
        if info["content_type"].native != "signed_data":
            raise ValueError("not SignedData")
        return info["content"]["signer_infos"][0]
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise SigningError(f"不是 CMS 签名：{exc}") from exc
