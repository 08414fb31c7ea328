"""Borrowing (借阅): requests for several records, purposes, views tracked during a grant."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bingan.storage.models.access import Grant
from bingan.storage.models.approvals import ApprovalRequest
from bingan.storage.models.base import Base, utcnow
from bingan.storage.models.organisation import User
from bingan.storage.models.records import Record


class BorrowPurpose(Base):
    """借阅用途: the dictionary the record room edits (科研, 教学, 医疗纠纷…)."""

    __tablename__ = "borrow_purposes"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    position: Mapped[int] = mapped_column(default=100)
    active: Mapped[bool] = mapped_column(default=True)


class Borrowing(Base):
    """One record of one application (借阅单): an application for several records is several
    borrowings sharing ``batch_id`` (the first one's id), each with its own approval request, so
    each record runs through the flow chosen for it. The borrowing's id is its approval request's
    id (the API's /borrowing/{id} and /approvals/{id} name the same application). After approval
    ``grant`` opens the record (only ``categories`` when given); returning early or a revocation
    ends it."""

    __tablename__ = "borrowings"
    __table_args__ = (Index("ix_borrowings_applicant", "applicant_id", "id"),
                      Index("ix_borrowings_record", "record_id"),
                      Index("ix_borrowings_created", "created_at"))
    id: Mapped[int] = mapped_column(ForeignKey("approval_requests.id", ondelete="CASCADE"), primary_key=True,
                                    autoincrement=False)
    batch_id: Mapped[int]
    applicant_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"))
    grant_id: Mapped[int | None] = mapped_column(ForeignKey("grants.id", ondelete="SET NULL"))
    purpose: Mapped[str] = mapped_column(String(50))
    reason: Mapped[str] = mapped_column(Text, default="")
    days: Mapped[int]
    categories: Mapped[list] = mapped_column(default=list)  # category codes; empty = the whole record
    ended_at: Mapped[datetime | None]  # returned early or revoked
    end_kind: Mapped[str] = mapped_column(String(16), default="")  # returned | revoked
    end_note: Mapped[str] = mapped_column(Text, default="")
    expiry_reminded: Mapped[bool] = mapped_column(default=False)  # the two-days-before message was sent
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    applicant: Mapped[User] = relationship()
    record: Mapped[Record] = relationship()
    request: Mapped[ApprovalRequest] = relationship(foreign_keys=[id])
    grant: Mapped[Grant | None] = relationship()


class BorrowRenewal(Base):
    """续借: one renewal application of a borrowing, running through the flow of kind ``renew``;
    its id is its approval request's id."""

    __tablename__ = "borrow_renewals"
    id: Mapped[int] = mapped_column(ForeignKey("approval_requests.id", ondelete="CASCADE"), primary_key=True,
                                    autoincrement=False)
    borrowing_id: Mapped[int] = mapped_column(ForeignKey("borrowings.id", ondelete="CASCADE"), index=True)
    days: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    request: Mapped[ApprovalRequest] = relationship(foreign_keys=[id])
