"""Sealing (封存): seals, the parties present, seal packages, the hospital's signing certificate."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bingan.storage.models.approvals import ApprovalRequest
from bingan.storage.models.base import Base, utcnow
from bingan.storage.models.organisation import User
from bingan.storage.models.records import Record

# applied 申请中 · sealed 已封存 · unsealed 已解封 · refused 未获批准（驳回、撤回或取消）
SEAL_STATUSES = ("applied", "sealed", "unsealed", "refused")
# pending 待生成 · building 生成中 · ready 已生成 · failed 生成失败
PACKAGE_STATUSES = ("pending", "building", "ready", "failed")


class Seal(Base):
    """One seal of one record, from its application to its unsealing. The parties and the scope
    live here, not in the approval request's payload: the request is listed to many people and
    the parties' names and ID numbers are the patient's personal data."""

    __tablename__ = "seals"
    __table_args__ = (Index("ix_seals_record", "record_id", "status"),
                      Index("ix_seals_package", "package_status"))
    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="applied")
    request_id: Mapped[int] = mapped_column(ForeignKey("approval_requests.id"), unique=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    dispute: Mapped[str] = mapped_column(Text, default="")  # 纠纷情况
    parties: Mapped[list] = mapped_column(default=list)  # [{"role", "name", "id_number", "organisation", "relation"}]
    document_ids: Mapped[list | None] = mapped_column(default=None)  # None: the whole record
    applied_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    applied_at: Mapped[datetime] = mapped_column(default=utcnow)
    sealed_at: Mapped[datetime | None]
    sealed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The seal package (封存件): a signed PDF in the blob store, built by a background job (its
    # progress is the job's; no foreign key: the jobs table comes in a later migration).
    package_status: Mapped[str] = mapped_column(String(16), default="pending")
    package_job_id: Mapped[int | None]
    package_sha256: Mapped[str] = mapped_column(String(64), default="")
    package_size: Mapped[int] = mapped_column(default=0)
    package_built_at: Mapped[datetime | None]
    manifest: Mapped[list] = mapped_column(default=list)  # [{"document_id", "title", "file", "sha256", "size"}]
    # Unsealing (解封): its own application and flow.
    unseal_request_id: Mapped[int | None] = mapped_column(ForeignKey("approval_requests.id"))
    unseal_reason: Mapped[str] = mapped_column(Text, default="")
    unseal_parties: Mapped[list] = mapped_column(default=list)
    unsealed_at: Mapped[datetime | None]
    unsealed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reminded_at: Mapped[datetime | None]  # the three-year reminder (art. 27) went out

    record: Mapped[Record] = relationship()
    request: Mapped[ApprovalRequest] = relationship(foreign_keys=[request_id])
    applied_by: Mapped[User] = relationship(foreign_keys=[applied_by_id])
    sealed_by: Mapped[User | None] = relationship(foreign_keys=[sealed_by_id])


class SealCertificate(Base):
    """The hospital's signing certificates, one active per purpose: "pdf" signs seal packages and
    exported PDFs (PAdES; self-signed at first use until the hospital installs its own), "ofd_seal"
    is the SM2 electronic seal of exported OFDs (GB/T 38540). The private key is sealed with the
    master key (like TOTP secrets)."""

    __tablename__ = "seal_certificates"
    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 of the DER
    certificate: Mapped[str] = mapped_column(Text)  # PEM, chain after the leaf
    private_key: Mapped[str] = mapped_column(Text)  # sealed PEM: PKCS#8 (pdf), RFC 5915 SM2 key (ofd_seal)
    source: Mapped[str] = mapped_column(String(16), default="self_signed")  # self_signed | installed
    purpose: Mapped[str] = mapped_column(String(16), default="pdf", server_default="pdf")  # pdf | ofd_seal
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
