"""Copying and printing (复印打印): the hospital's copy rules (packages, applicant types with their
papers), copy requests with their fee and payment, the papers photographed at the window, and
the register of what was printed for whom (read by bingan/records/prints.py)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bingan.storage.models.base import Base, utcnow
from bingan.storage.models.organisation import User

# registered 已登记 · paid 已缴费 · printed 已打印 · refunded 已退费 · cancelled 已作废; an online
# application first waits for review: pending_review 待审核 → registered, or rejected 已驳回.
COPY_STATUSES = ("pending_review", "registered", "paid", "printed", "refunded", "cancelled", "rejected")
# window 复印窗口 · online 网上申请 (the patient app, through an API token) · kiosk 自助复印打印机
COPY_CHANNELS = ("window", "online", "kiosk")


class CopyPackage(Base):
    """复印套餐: categories and copies the hospital offers as one choice (报销套餐, 复诊套餐…).
    ``categories`` empty means every category the applicant may have copied."""

    __tablename__ = "copy_packages"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    categories: Mapped[list] = mapped_column(default=list)  # category codes
    copies: Mapped[int] = mapped_column(default=1)
    sort_order: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)


class CopyApplicantType(Base):
    """申请人类型 (2013 规定 art. 17–20) with the papers each must show. ``outside``: only the
    copyable categories (art. 19); ``free``: the hospital charges nothing (e.g. 公安、法院)."""

    __tablename__ = "copy_applicant_types"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(50))
    papers: Mapped[list] = mapped_column(default=list)  # [{"code", "name"}]
    outside: Mapped[bool] = mapped_column(default=True)
    free: Mapped[bool] = mapped_column(default=False)
    sort_order: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)


class CopyRequest(Base):
    """One application at the copy window: who applies, what of which records, the exact pages
    (``items``), the fee (in fen, with its lines), payment, refund and the copy job."""

    __tablename__ = "copy_requests"
    __table_args__ = (Index("ix_copy_requests_status", "status", "created_at"),
                      Index("ix_copy_requests_created", "created_at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="registered")
    applicant_type: Mapped[str] = mapped_column(String(32))
    applicant_name: Mapped[str] = mapped_column(String(50))
    applicant_id_number: Mapped[str] = mapped_column(String(32), default="")
    applicant_phone: Mapped[str] = mapped_column(String(32), default="")
    applicant_organisation: Mapped[str] = mapped_column(String(100), default="")
    relation: Mapped[str] = mapped_column(String(50), default="")  # to the patient
    purpose: Mapped[str] = mapped_column(String(100), default="")
    card: Mapped[dict] = mapped_column(default=dict)  # what the ID-card reader gave (its photo is a paper)
    record_ids: Mapped[list] = mapped_column(default=list)
    selection: Mapped[dict] = mapped_column(default=dict)  # {"kind": package|categories|pages, …}
    # the exact pages: [{record_id, document_id, version, sha256, media_type, title, category, pages}]
    items: Mapped[list] = mapped_column(default=list)
    copies: Mapped[int] = mapped_column(default=1)
    pages: Mapped[int] = mapped_column(default=0)  # pages of one copy
    stage: Mapped[bool] = mapped_column(default=False)  # 阶段复印 (art. 21)
    warnings: Mapped[list] = mapped_column(default=list)
    watermark: Mapped[str] = mapped_column(String(100), default="")
    fee_fen: Mapped[int] = mapped_column(default=0)
    fee_lines: Mapped[list] = mapped_column(default=list)
    payment_method: Mapped[str] = mapped_column(String(16), default="")  # cash | card | online
    payment_reference: Mapped[str] = mapped_column(String(64), default="")
    paid_at: Mapped[datetime | None]
    paid_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    refund_reason: Mapped[str] = mapped_column(Text, default="")
    refunded_at: Mapped[datetime | None]
    refunded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"))
    printed_at: Mapped[datetime | None]
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    channel: Mapped[str] = mapped_column(String(16), default="window")
    # the record room's review of an online application
    reviewed_at: Mapped[datetime | None]
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    review_reason: Mapped[str] = mapped_column(Text, default="")
    # the patient's download of an online copy: only the token's SHA-256, usable once printed
    # until ``download_expires_at`` and for ``download_max_views`` downloads
    download_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    download_expires_at: Mapped[datetime | None]
    download_views: Mapped[int] = mapped_column(default=0)
    download_max_views: Mapped[int] = mapped_column(default=0)


class CopyPaper(Base):
    """A paper the applicant showed (身份证、委托书、死亡证明…), photographed or uploaded; the
    image is in the blob store (encrypted)."""

    __tablename__ = "copy_papers"
    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("copy_requests.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    sha256: Mapped[str] = mapped_column(String(64))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(default=0)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class CopyPrint(Base):
    """One document's pages printed for a copy request (复印登记): when, for whom, which
    pages of which version."""

    __tablename__ = "copy_prints"
    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("copy_requests.id", ondelete="CASCADE"), index=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"), index=True)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    title: Mapped[str] = mapped_column(String(200), default="")
    version: Mapped[int | None]
    pages: Mapped[str] = mapped_column(String(500), default="")
    copies: Mapped[int] = mapped_column(default=1)
    for_whom: Mapped[str] = mapped_column(String(200), default="")
    printed_by: Mapped[str] = mapped_column(String(64), default="")
    printed_at: Mapped[datetime] = mapped_column(default=utcnow)


# The ledgers (收费台账, 复印统计) read requests by when they were paid, refunded and printed.
Index("ix_copy_requests_paid_at", CopyRequest.paid_at)
Index("ix_copy_requests_refunded_at", CopyRequest.refunded_at)
Index("ix_copy_requests_printed_at", CopyRequest.printed_at)


class ShareLink(Base):
    """限时分享链接 (F3, S14): chosen documents of one record shown in the watermarked viewer to a
    named recipient, until a date and for a number of openings, revocable. Only the SHA-256 of the
    token is kept; ``items`` pins the versions shared: [{document_id, version_id, title, category,
    category_name, pages}]."""

    __tablename__ = "share_links"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"), index=True)
    recipient: Mapped[str] = mapped_column(String(50))
    purpose: Mapped[str] = mapped_column(String(100), default="")
    categories: Mapped[list] = mapped_column(default=list)  # category codes chosen; [] = all
    items: Mapped[list] = mapped_column(default=list)
    expires_at: Mapped[datetime]
    max_views: Mapped[int] = mapped_column(default=1)
    views: Mapped[int] = mapped_column(default=0)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])


class ShareLinkOpening(Base):
    """One opening of a share link (who: the address and browser; when). The page images of that
    opening are served against ``key_hash`` (the SHA-256 of a cookie set at the opening)."""

    __tablename__ = "share_link_openings"
    id: Mapped[int] = mapped_column(primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("share_links.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(255), default="")
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
