"""Who signs through the signing port (签名服务): the local adapter's hospital CA (医院自建 CA,
created at first use, for trials and hospitals without a CA vendor) and the reviewers'
certificates it issues to whoever has none; or, when BINGAN_SIGNING=remote, the CA vendor's
signing server, which holds each person's key under their staff number (工号).

Private keys are sealed with the master key: a copy of the database alone cannot sign.
"""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from asn1crypto import pem, x509
from sqlalchemy.orm import Session

from bingan.access.audit import Actor, record_event
from bingan.access.sealed_secrets import SecretBox
from bingan.config import Settings
from bingan.errors import Refusal
from bingan.formats import signatures
from bingan.formats.signing import KeySigner, Signer, SigningError, SigningKey, issue_certificate
from bingan.formats.signing_remote import RemoteSigner
from bingan.storage.models import User, utcnow
from bingan.storage.models.archive_signature import SigningCertificate
from bingan.storage.system_settings import read_setting

CA_YEARS = 20
SIGNER_YEARS = 3
RENEW_BEFORE = timedelta(days=30)


def signer_for(session: Session, box: SecretBox, settings: Settings, user: User, hospital: str) -> Signer:
    """The port for ``user``: the remote signing server, or their local certificate (issued now
    when they have none valid for another month)."""
    if settings.signing == "remote":
        if not settings.signing_url:
            raise Refusal("已设置使用远程签名服务器，但未配置签名服务器地址（BINGAN_SIGNING_URL）")
        return RemoteSigner(settings.signing_url, user.staff_number or user.username)
    stored = _valid(session, user.id) or _issue(session, box, settings, user, hospital)
    return KeySigner(SigningKey.load(box.open(stored.private_key).encode()), _chain(stored.certificate))


def install(session: Session, box: SecretBox, actor: Actor, user: User, key_data: bytes, chain_der: list[bytes]) -> str:
    """A reviewer's own certificate (from the hospital's CA: PKCS#12 or PEM key and certificates)
    replaces the one the hospital CA issued; returns its subject."""
    try:
        key = SigningKey.load(key_data)
        leaf = x509.Certificate.load(chain_der[0])
        matches = leaf.public_key.dump() == key.public_info().dump()
    except (SigningError, ValueError, IndexError) as exc:
        raise Refusal(f"证书或私钥无法读取：{exc}") from exc
    if not matches:
        raise Refusal("私钥与证书不匹配")
    not_after = leaf["tbs_certificate"]["validity"]["not_after"].native
    if not_after <= utcnow():
        raise Refusal(f"证书已于 {not_after:%Y-%m-%d} 过期")
    _retire(session, user.id)
    stored = _row(session, box, key, user.id, False, chain_der, not_after)
    record_event(session, actor, "signing.certificate", object_type="user", object_id=user.id,
                 detail={"用户": user.username, "证书": stored.subject, "来源": "医院安装"})
    return stored.subject


def trust_roots(session: Session) -> tuple[x509.Certificate, ...]:
    """Every hospital CA this system ever had, and BINGAN_SIGNATURE_TRUST_ROOTS (the CA vendor's
    and the TSA's roots)."""
    cas = session.scalars(sa.select(SigningCertificate.certificate).where(SigningCertificate.is_ca))
    return tuple(x509.Certificate.load(der) for stored in cas for der in _chain(stored)) + signatures.trust_roots()


def hospital_ca_pem(session: Session, box: SecretBox, settings: Settings) -> str:
    """The hospital CA's certificate, for verifiers outside Bingan (a court's expert)."""
    return _ca(session, box, settings, hospital_name(session, settings)).certificate


def hospital_name(session: Session, settings: Settings) -> str:
    """The name in certificates and manifests: the appearance setting, else BINGAN_HOSPITAL_NAME."""
    return read_setting(session, "appearance").get("hospital_name") or settings.hospital_name


def _valid(session: Session, user_id: int) -> SigningCertificate | None:
    return session.scalars(sa.select(SigningCertificate).where(
        SigningCertificate.user_id == user_id, SigningCertificate.active,
        SigningCertificate.not_after > utcnow() + RENEW_BEFORE).order_by(SigningCertificate.id.desc())).first()


def _ca(session: Session, box: SecretBox, settings: Settings, hospital: str) -> SigningCertificate:
    stored = session.scalars(sa.select(SigningCertificate).where(
        SigningCertificate.is_ca, SigningCertificate.active,
        SigningCertificate.algorithm == settings.signing_algorithm,
        SigningCertificate.not_after > utcnow() + timedelta(days=365 * SIGNER_YEARS))
        .order_by(SigningCertificate.id.desc())).first()
    if stored is not None:
        return stored
    key = SigningKey.generate(settings.signing_algorithm)
    return _store(session, box, key, None, True, {"country_name": "CN", "organization_name": hospital,
                                                    "common_name": f"{hospital} 病案签章 CA"}, CA_YEARS, None)


def _issue(session: Session, box: SecretBox, settings: Settings, user: User, hospital: str) -> SigningCertificate:
    ca = _ca(session, box, settings, hospital)
    subject = {"country_name": "CN", "organization_name": hospital, "common_name": user.full_name or user.username}
    if user.staff_number:
        subject["serial_number"] = user.staff_number
    _retire(session, user.id)
    return _store(session, box, SigningKey.generate(settings.signing_algorithm), user.id, False, subject,
                  SIGNER_YEARS, (SigningKey.load(box.open(ca.private_key).encode()), ca.certificate))


def _store(session: Session, box: SecretBox, key: SigningKey, user_id: int | None, is_ca: bool, subject: dict,
           years: int, issuer: tuple[SigningKey, str] | None) -> SigningCertificate:
    now = utcnow()
    serial = secrets.randbits(63) | 1 << 62
    ca_chain = _chain(issuer[1]) if issuer else []
    der = issue_certificate(key, subject, issuer_key=issuer[0] if issuer else key,
                            issuer=x509.Certificate.load(ca_chain[0]).subject if issuer else None, serial=serial,
                            valid_from=now - timedelta(minutes=5), valid_to=now + timedelta(days=365 * years),
                            ca=is_ca)
    return _row(session, box, key, user_id, is_ca, [der, *ca_chain], now + timedelta(days=365 * years))


def _row(session: Session, box: SecretBox, key: SigningKey, user_id: int | None, is_ca: bool, chain: list[bytes],
         not_after: datetime) -> SigningCertificate:
    leaf = x509.Certificate.load(chain[0])
    stored = SigningCertificate(
        user_id=user_id, is_ca=is_ca, algorithm=key.kind, subject=leaf.subject.human_friendly[:255],
        serial=f"{leaf.serial_number:x}"[:64], certificate="".join(pem.armor("CERTIFICATE", d).decode() for d in chain),
        private_key=box.seal(key.pem()), not_after=not_after)
    session.add(stored)
    session.flush()
    return stored


def _retire(session: Session, user_id: int) -> None:
    for old in session.scalars(sa.select(SigningCertificate).where(SigningCertificate.user_id == user_id,
                                                                   SigningCertificate.active)):
        old.active = False


def _chain(certificate_pem: str) -> list[bytes]:
    return [der for _, _, der in pem.unarmor(certificate_pem.encode(), multiple=True)]
