"""The device's signature on each upload: its own Ed25519 key, made at first start and kept in
the state folder, or the key of the certificate the hospital issued it (R4)."""
from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from bingan_agent import ed25519
from bingan_agent.config import Config, ConfigError

SIGNED_PREFIX = "bingan-device-upload/1"
# DER prefixes of an Ed25519 private key (PKCS #8) and public key (SubjectPublicKeyInfo), RFC 8410.
PKCS8_ED25519 = bytes.fromhex("302e020100300506032b657004220420")
SPKI_ED25519 = bytes.fromhex("302a300506032b6570032100")


def signed_text(sha256: str, source_document_id: str, record_number: str, stay: int, document_type: str) -> bytes:
    """What is signed for one upload; Bingan rebuilds the same text from what it received."""
    return "\n".join([SIGNED_PREFIX, sha256, source_document_id, record_number, str(stay), document_type]).encode()


def _pem(label: str, der: bytes) -> str:
    body = base64.encodebytes(der).decode().replace("\n", "")
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----"]) + "\n"


def _der(pem: str, label: str) -> bytes:
    begin, end = f"-----BEGIN {label}-----", f"-----END {label}-----"
    if begin not in pem or end not in pem:
        raise ValueError(label)
    return base64.b64decode(pem.split(begin, 1)[1].split(end, 1)[0])


def device_seed(path: Path) -> bytes:
    """The device's own private key, made at first start (readable by its owner only)."""
    if path.exists():
        der = _der(path.read_text(encoding="ascii"), "PRIVATE KEY")
        if not der.startswith(PKCS8_ED25519) or len(der) != len(PKCS8_ED25519) + 32:
            raise ConfigError(f"{path} 不是 Ed25519 私钥")
        return der[len(PKCS8_ED25519):]
    path.parent.mkdir(parents=True, exist_ok=True)
    seed = secrets.token_bytes(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as out:
        out.write(_pem("PRIVATE KEY", PKCS8_ED25519 + seed))
        out.flush()
        os.fsync(out.fileno())
    return seed


def public_pem(seed: bytes) -> str:
    """The public key to register on Bingan's device page."""
    return _pem("PUBLIC KEY", SPKI_ED25519 + ed25519.public_key(seed))


def registration_text(config: Config) -> str:
    """What the record room pastes on the device page: the certificate if there is one, else the public key."""
    if config.certificate is not None:
        return config.certificate.read_text(encoding="ascii")
    return public_pem(device_seed(config.key_path))


def signer(config: Config) -> Callable[[bytes], str]:
    """A function giving the base64 signature of a text."""
    if config.certificate is None:
        seed = device_seed(config.key_path)
        return lambda text: base64.b64encode(ed25519.sign(seed, text)).decode()
    if config.certificate_key is None:
        raise ConfigError("[signing] 有 certificate 时须给出 key（证书的私钥文件）")
    return _certificate_signer(config.certificate_key.read_text(encoding="ascii"))


def _certificate_signer(pem: str) -> Callable[[bytes], str]:
    try:
        der = _der(pem, "PRIVATE KEY")
    except ValueError:
        der = b""
    if der.startswith(PKCS8_ED25519) and len(der) == len(PKCS8_ED25519) + 32:
        seed = der[len(PKCS8_ED25519):]
        return lambda text: base64.b64encode(ed25519.sign(seed, text)).decode()
    return _library_signer(pem)


def _library_signer(pem: str) -> Callable[[bytes], str]:
    """ECDSA P-256 or RSA certificate keys, through the cryptography package when it is installed."""
    try:
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec, rsa
        from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
    except ImportError as exc:
        raise ConfigError("证书私钥不是 Ed25519：请安装 cryptography（pip install 'bingan-agent[cert]'）") from exc
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return lambda text: base64.b64encode(key.sign(text, ec.ECDSA(hashes.SHA256()))).decode()
    if isinstance(key, rsa.RSAPrivateKey):
        return lambda text: base64.b64encode(key.sign(text, PKCS1v15(), hashes.SHA256())).decode()
    raise ConfigError("证书私钥类型不受支持：请使用 Ed25519、ECDSA P-256 或 RSA")
