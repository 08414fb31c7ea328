"""The hospital's signing certificates (医院签章证书): the PDF certificate that signs seal
packages and exported PDFs (PAdES), and the SM2 electronic seal of exported OFDs (GB/T 38540).

At first use a self-signed certificate (for the seal a self-issued SM2 one) is created for the
hospital, its private key sealed with the master key (the same sealing as TOTP secrets: a copy
of the database alone cannot sign). A hospital that installs its own PDF certificate (from its
CA, PKCS#12) replaces it; earlier packages keep verifying with the certificate embedded in
their signature. Shared by sealing and copying/exports (records/release).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from sqlalchemy.orm import Session

from bingan.access.audit import Actor, record_event
from bingan.access.sealed_secrets import SecretBox
from bingan.errors import Refusal
from bingan.formats.ofd.signing import SealKey, self_issued_certificate
from bingan.storage.models import utcnow
from bingan.storage.models.sealing import SealCertificate

SELF_SIGNED_YEARS = 10
PDF, OFD_SEAL = "pdf", "ofd_seal"


@dataclass(frozen=True)
class SigningIdentity:
    key_der: bytes  # PKCS#8
    chain_der: list[bytes]  # the leaf first
    subject: str
    fingerprint: str


def signing_identity(session: Session, box: SecretBox, hospital: str) -> SigningIdentity:
    """The active certificate and its key; a self-signed one is created at first use."""
    stored = _active(session, PDF) or _create_self_signed(session, box, hospital)
    key = serialization.load_pem_private_key(box.open(stored.private_key).encode(), password=None)
    chain = x509.load_pem_x509_certificates(stored.certificate.encode())
    return SigningIdentity(
        key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                          serialization.NoEncryption()),
        [cert.public_bytes(serialization.Encoding.DER) for cert in chain], stored.subject, stored.fingerprint)


def certificate_pem(session: Session, box: SecretBox, hospital: str) -> str:
    """The certificate chain to give verifiers (BINGAN_SIGNATURE_TRUST_ROOTS, a court's expert)."""
    signing_identity(session, box, hospital)
    return _active(session, PDF).certificate


def seal_key(session: Session, box: SecretBox, hospital: str) -> SealKey:
    """The hospital's SM2 electronic seal for OFDs with its certificate; created at first use."""
    stored = _active(session, OFD_SEAL) or _create_seal(session, box, hospital)
    certificate = x509.load_pem_x509_certificate(stored.certificate.encode())
    return SealKey.from_pem(box.open(stored.private_key), certificate.public_bytes(serialization.Encoding.DER))


def seal_certificate_pem(session: Session, box: SecretBox, hospital: str) -> str:
    """The seal's certificate, for verifiers of exported OFDs."""
    seal_key(session, box, hospital)
    return _active(session, OFD_SEAL).certificate


def install(session: Session, actor: Actor, box: SecretBox, pkcs12_data: bytes, password: str) -> SealCertificate:
    """The hospital's own certificate (PKCS#12 from its CA) replaces the current one."""
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(pkcs12_data, password.encode() or None)
    except ValueError as exc:
        raise Refusal("证书文件无法读取：请确认是 PKCS#12（.p12/.pfx）文件且密码正确") from exc
    if key is None or cert is None:
        raise Refusal("证书文件中没有私钥或证书")
    return _store(session, actor, box, key, [cert, *extra], "installed")


def _active(session: Session, purpose: str) -> SealCertificate | None:
    return session.scalars(sa.select(SealCertificate).where(SealCertificate.active, SealCertificate.purpose == purpose)
                           .order_by(SealCertificate.id.desc())).first()


def _create_seal(session: Session, box: SecretBox, hospital: str) -> SealCertificate:
    """A new SM2 key and its self-issued certificate, valid from the day before (a clock a little
    behind still signs inside it)."""
    now = utcnow()
    key = SealKey.generate()
    der = self_issued_certificate(key, hospital, f"{hospital} 病案导出电子印章（自签）",
                                  (now - timedelta(days=1), now + timedelta(days=365 * SELF_SIGNED_YEARS)),
                                  x509.random_serial_number())
    cert = x509.load_der_x509_certificate(der)
    return _keep(session, Actor(None, "系统"), box, key.to_pem(), [cert], "self_signed", OFD_SEAL)


def _create_self_signed(session: Session, box: SecretBox, hospital: str) -> SealCertificate:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, hospital),
                      x509.NameAttribute(NameOID.COMMON_NAME, f"{hospital} 病案封存签章（自签）")])
    now = utcnow()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=365 * SELF_SIGNED_YEARS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    return _store(session, Actor(None, "系统"), box, key, [cert], "self_signed")


def _store(session: Session, actor: Actor, box: SecretBox, key: object, chain: list[x509.Certificate],
           source: str) -> SealCertificate:
    pem_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,  # type: ignore[attr-defined]
                                serialization.NoEncryption()).decode()
    return _keep(session, actor, box, pem_key, chain, source, PDF)


def _keep(session: Session, actor: Actor, box: SecretBox, pem_key: str, chain: list[x509.Certificate],
          source: str, purpose: str) -> SealCertificate:
    """The new active certificate of its purpose, its key sealed; the one before it retired."""
    for old in session.scalars(sa.select(SealCertificate).where(SealCertificate.active,
                                                                SealCertificate.purpose == purpose)):
        old.active = False
    leaf = chain[0]
    subject = leaf.subject.rfc4514_string()[:255]
    stored = SealCertificate(subject=subject,
                             fingerprint=hashlib.sha256(leaf.public_bytes(serialization.Encoding.DER)).hexdigest(),
                             certificate="".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in chain),
                             private_key=box.seal(pem_key), source=source, active=True, purpose=purpose)
    session.add(stored)
    session.flush()
    record_event(session, actor, "seal.certificate", object_type="seal_certificate", object_id=stored.id,
                 detail={"证书": subject, "来源": "医院安装" if source == "installed" else "系统自签",
                         "用途": "OFD 电子印章" if purpose == OFD_SEAL else "PDF 签章"})
    return stored
