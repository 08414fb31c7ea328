"""The archive signature (归档签章): signing certificates of the hospital's own CA and of its
reviewers, and each archived record's signature over its manifest of document hashes."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bingan.storage.models.base import Base, utcnow
from bingan.storage.models.organisation import User
from bingan.storage.models.records import Record


class SigningCertificate(Base):
    """A key the local signing adapter holds: the hospital CA (``user_id`` NULL, ``is_ca``) or a
    reviewer's certificate it issued. The private key is sealed with the master key."""

    __tablename__ = "signing_certificates"
    __table_args__ = (Index("ix_signing_certificates_user", "user_id", "active"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    is_ca: Mapped[bool] = mapped_column(default=False)
    algorithm: Mapped[str] = mapped_column(String(8))  # sm2 | rsa | ecdsa
    subject: Mapped[str] = mapped_column(String(255))
    serial: Mapped[str] = mapped_column(String(64))  # hex
    certificate: Mapped[str] = mapped_column(Text)  # PEM, the leaf first, then its CA
    private_key: Mapped[str] = mapped_column(Text)  # sealed PKCS#8 PEM
    not_after: Mapped[datetime]
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ArchiveSignature(Base):
    """One signature of one archived record: the manifest (every current document version's
    SHA-256 and the record's identity) and the detached CMS over it with its RFC 3161 timestamp,
    both kept as blobs. A re-archive after a recall adds a row; the older ones stay."""

    __tablename__ = "archive_signatures"
    __table_args__ = (Index("ix_archive_signatures_record", "record_id", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"))
    signer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    signer_name: Mapped[str] = mapped_column(String(100))  # the certificate's CN
    certificate_subject: Mapped[str] = mapped_column(String(255))
    adapter: Mapped[str] = mapped_column(String(16))  # local | remote
    documents: Mapped[int] = mapped_column(default=0)
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    signature_sha256: Mapped[str] = mapped_column(String(64))
    copy_sha256: Mapped[str | None] = mapped_column(String(64))  # the signed archive copy (PDF), when made
    signed_at: Mapped[datetime] = mapped_column(default=utcnow)
    timestamp_at: Mapped[datetime | None]  # the TSA's genTime
    timestamp_authority: Mapped[str] = mapped_column(String(255), default="")  # empty: no timestamp
    archived_at: Mapped[datetime | None]  # the archive this signature seals
    checked_at: Mapped[datetime | None]  # the last verification
    check_result: Mapped[str] = mapped_column(Text, default="")  # its verdict, Chinese

    record: Mapped[Record] = relationship()
    signer: Mapped[User | None] = relationship()
