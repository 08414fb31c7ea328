"""CA-service validation (联机验证) of the signatures in collected documents: each check of a
signing certificate with the CA's OCSP responder or validation service, kept beside the local
verdict (``Version.signatures``), which it never changes."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bingan.storage.models.base import Base, utcnow


class SignatureCheck(Base):
    """One online check of the certificate of signature ``signature_index`` (its place in
    ``Version.signatures``) of a version. A re-check adds a row; the latest per signature counts."""

    __tablename__ = "signature_checks"
    __table_args__ = (Index("ix_signature_checks_version", "version_id", "signature_index", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id", ondelete="CASCADE"))
    signature_index: Mapped[int] = mapped_column(default=0)
    method: Mapped[str] = mapped_column(String(8))  # ocsp | api
    # good | revoked | unknown: the responder's answer; unreachable: no usable answer (offline,
    # timeout, no responder, no issuer); rejected: an answer refused (signature, nonce, stale).
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")  # Chinese: why not checked, or the revocation
    responder: Mapped[str] = mapped_column(String(500), default="")  # the URL asked
    certificate_serial: Mapped[str] = mapped_column(String(80), default="")  # hex
    certificate_subject: Mapped[str] = mapped_column(String(255), default="")  # CN
    certificate_sha256: Mapped[str] = mapped_column(String(64), default="")
    revoked_at: Mapped[datetime | None]
    revocation_reason: Mapped[str] = mapped_column(String(32), default="")  # RFC 5280 CRLReason name
    this_update: Mapped[datetime | None]
    next_update: Mapped[datetime | None]
    checked_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)



class OcspAnswer(Base):
    """The OCSP answer last believed about one certificate, reused until it expires: by every
    document the certificate signed and every process, so a signer's hundred reports cost the CA
    one question. Keyed as OCSP names a certificate (RFC 6960 CertID): its issuer's key hash and
    its serial. Only "good" and "revoked" are kept; a later answer replaces the row."""

    __tablename__ = "ocsp_answers"
    issuer_key_hash: Mapped[str] = mapped_column(String(40), primary_key=True)  # SHA-1, hex
    serial: Mapped[str] = mapped_column(String(80), primary_key=True)  # hex
    status: Mapped[str] = mapped_column(String(16))  # good | revoked
    responder: Mapped[str] = mapped_column(String(500), default="")
    revoked_at: Mapped[datetime | None]
    revocation_reason: Mapped[str] = mapped_column(String(32), default="")
    this_update: Mapped[datetime | None]
    next_update: Mapped[datetime | None]
    asked_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)  # nextUpdate, or asked_at + BINGAN_OCSP_CACHE_SECONDS
