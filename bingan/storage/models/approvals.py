"""Approval flows (审批流程: data per kind and campus), the requests running through them, each
approver's task, the opinion log, attachments, and in-app messages (站内消息)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bingan.storage.models.base import Base, utcnow
from bingan.storage.models.organisation import User
from bingan.storage.models.records import Record

# pending 审批中 · returned 已退回申请人 · approved 已通过 · rejected 已驳回 · withdrawn 已撤回 · cancelled 已取消
REQUEST_STATUSES = ("pending", "returned", "approved", "rejected", "withdrawn", "cancelled")
OPEN_STATUSES = ("pending", "returned")


class ApprovalFlow(Base):
    """One flow of a kind: its matching rules and ordered steps. Flows of a kind are tried by
    ``position``; the first whose rules match the record wins.

    ``match``: {"min_confidentiality": n, "restricted_tag": true, "other_department": true,
    "record_kind": "death"} — every rule given must hold. ``steps``: [{"name", "mode": "any"|"all",
    "approvers": [{"kind": "role"|"permission"|"head"|"doctors"|"user", "value": …}], "hours",
    "escalate_to": role code}].
    """

    __tablename__ = "approval_flows"
    __table_args__ = (Index("ix_approval_flows_kind", "kind", "position"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(default=100)
    campus_id: Mapped[int | None] = mapped_column(ForeignKey("campuses.id"))  # None: every campus
    match: Mapped[dict] = mapped_column(default=dict)
    steps: Mapped[list] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ApprovalRequest(Base):
    """One application (申请) on one record; ``steps`` is the flow's steps as they were when it was
    submitted, so editing a flow never changes a running request."""

    __tablename__ = "approval_requests"
    __table_args__ = (Index("ix_approval_requests_applicant", "applicant_id", "status"),
                      Index("ix_approval_requests_record", "record_id", "status"))
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"))
    applicant_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    flow_id: Mapped[int | None] = mapped_column(ForeignKey("approval_flows.id", ondelete="SET NULL"))
    flow_name: Mapped[str] = mapped_column(String(100), default="")
    steps: Mapped[list] = mapped_column(default=list)
    reason: Mapped[str] = mapped_column(Text, default="")  # the applicant's words
    payload: Mapped[dict] = mapped_column(default=dict)  # what the kind needs (days, actions…)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    current_step: Mapped[int] = mapped_column(default=0)  # 0-based index into steps
    round: Mapped[int] = mapped_column(default=1)  # bumped each time a step is entered
    step_started_at: Mapped[datetime] = mapped_column(default=utcnow)
    reminded: Mapped[bool] = mapped_column(default=False)
    escalated: Mapped[bool] = mapped_column(default=False)
    outcome_note: Mapped[str] = mapped_column(Text, default="")  # why cancelled
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    record: Mapped[Record] = relationship()
    applicant: Mapped[User] = relationship()


class ApprovalTask(Base):
    """待办: one approver's turn at one step of one request (a 会签 step has one per approver)."""

    __tablename__ = "approval_tasks"
    __table_args__ = (Index("ix_approval_tasks_open", "user_id", "done_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("approval_requests.id", ondelete="CASCADE"), index=True)
    step: Mapped[int]
    round: Mapped[int]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    escalated: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None]
    outcome: Mapped[str] = mapped_column(String(16), default="")  # approve | reject | return | closed


class ApprovalAction(Base):
    """The opinion log (审批意见): every submission, decision, return, withdrawal and cancellation."""

    __tablename__ = "approval_actions"
    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("approval_requests.id", ondelete="CASCADE"), index=True)
    step: Mapped[int | None]  # None: the applicant's own action
    round: Mapped[int] = mapped_column(default=1)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(16))
    opinion: Mapped[str] = mapped_column(Text, default="")
    to_step: Mapped[int | None]
    at: Mapped[datetime] = mapped_column(default=utcnow)
    user: Mapped[User | None] = relationship()


class ApprovalAttachment(Base):
    """A file or photo attached to a request; the bytes are in the encrypted blob store."""

    __tablename__ = "approval_attachments"
    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("approval_requests.id", ondelete="CASCADE"), index=True)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    uploaded_by: Mapped[User] = relationship()


class Message(Base):
    """站内消息: a decision, a return or a reminder for one user (read or unread)."""

    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_user_read", "user_id", "read_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # decision | return | reminder | cancel
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]
