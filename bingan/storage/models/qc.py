"""Archive QC (归档质控): one review per submission for archiving, comments by document and page,
the returns they travelled in, and whom each return went to."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bingan.storage.models.base import Base, utcnow
from bingan.storage.models.documents import Document
from bingan.storage.models.organisation import User
from bingan.storage.models.records import Record

# open 质控中 (or waiting to be taken) · returned 已退回 · passed 已通过归档
REVIEW_STATUSES = ("open", "returned", "passed")
COMMENT_KINDS = {"medical": "医疗", "nursing": "护理"}


class QcReview(Base):
    """One pass of a record through archive QC, from its submission to its archiving. ``steps`` is
    the campus's archive_qc flow as it was when the review began (editing a flow never changes a
    running review). ``assigned_to`` is whose worklist ("mine") holds it: who took it, and after a
    return the reviewer who returned it, so the resubmission goes straight back to them."""

    __tablename__ = "qc_reviews"
    __table_args__ = (Index("ix_qc_reviews_record", "record_id", "status"),
                      Index("ix_qc_reviews_assigned", "assigned_to_id", "status"),
                      # the workload report by pass date, from the index alone
                      Index("ix_qc_reviews_finished", "finished_at", "status", "passed_by_id", "record_id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"))
    flow_name: Mapped[str] = mapped_column(String(100), default="")
    steps: Mapped[list] = mapped_column(default=list)
    current_step: Mapped[int] = mapped_column(default=0)  # 0-based index into steps
    status: Mapped[str] = mapped_column(String(16), default="open")
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    passed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    override_reason: Mapped[str] = mapped_column(Text, default="")  # passed despite self-check errors
    record: Mapped[Record] = relationship()
    assigned_to: Mapped[User | None] = relationship(foreign_keys=[assigned_to_id])
    passed_by: Mapped[User | None] = relationship(foreign_keys=[passed_by_id])


class QcReturn(Base):
    """退回: the reviewer sent the record back with its open comments; resubmitted when the owners
    answered."""

    __tablename__ = "qc_returns"
    __table_args__ = (Index("ix_qc_returns_returned", "returned_at", "returned_by_id", "record_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"), index=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("qc_reviews.id", ondelete="CASCADE"), index=True)
    step: Mapped[int] = mapped_column(default=0)
    returned_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    returned_at: Mapped[datetime] = mapped_column(default=utcnow)
    resubmitted_at: Mapped[datetime | None]
    resubmitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    returned_by: Mapped[User] = relationship(foreign_keys=[returned_by_id])
    resubmitted_by: Mapped[User | None] = relationship(foreign_keys=[resubmitted_by_id])
    owners: Mapped[list[QcReturnOwner]] = relationship(cascade="all, delete-orphan", order_by="QcReturnOwner.id")


class QcReturnOwner(Base):
    """Who a return went to: the record's doctors and head of department for medical comments,
    the ward's nurses for nursing comments (``kinds``: which of the two reached them)."""

    __tablename__ = "qc_return_owners"
    __table_args__ = (UniqueConstraint("return_id", "user_id"), Index("ix_qc_return_owners_user", "user_id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    return_id: Mapped[int] = mapped_column(ForeignKey("qc_returns.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kinds: Mapped[list] = mapped_column(default=list)  # ["medical"], ["nursing"] or both
    user: Mapped[User] = relationship()


class QcComment(Base):
    """质控意见 on one page of one document (the version it was read in), medical or nursing; sent in
    a return, answered by an owner with what they fixed."""

    __tablename__ = "qc_comments"
    __table_args__ = (Index("ix_qc_comments_record", "record_id", "return_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"))
    review_id: Mapped[int] = mapped_column(ForeignKey("qc_reviews.id", ondelete="CASCADE"), index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    version_id: Mapped[int | None] = mapped_column(ForeignKey("versions.id"))
    page: Mapped[int] = mapped_column(default=1)
    kind: Mapped[str] = mapped_column(String(16))  # medical | nursing
    text: Mapped[str] = mapped_column(Text)
    step: Mapped[int] = mapped_column(default=0)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    return_id: Mapped[int | None] = mapped_column(ForeignKey("qc_returns.id", ondelete="SET NULL"))
    reply: Mapped[str] = mapped_column(Text, default="")  # 整改说明
    replied_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    replied_at: Mapped[datetime | None]
    document: Mapped[Document] = relationship()
    author: Mapped[User] = relationship(foreign_keys=[author_id])
    replied_by: Mapped[User | None] = relationship(foreign_keys=[replied_by_id])


class QcOverdueNotice(Base):
    """超期提醒: the record passed its archive deadline before it was archived; told once."""

    __tablename__ = "qc_overdue_notices"
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"), primary_key=True)
    notified_at: Mapped[datetime] = mapped_column(default=utcnow)
