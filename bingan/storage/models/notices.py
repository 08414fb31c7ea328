"""Notices sent outside Bingan (企业微信, 钉钉, webhook): channel settings, whom each user is on
WeCom or DingTalk, and the outbox of deliveries with every attempt (the delivery log)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bingan.storage.models.base import Base, utcnow
from bingan.storage.models.organisation import User

# pending 待发送 (also: waiting for a retry) · sent 已发送 · failed 发送失败 (retries used up)
DELIVERY_STATES = ("pending", "sent", "failed")


class NoticeChannel(Base):
    """One external channel as the system administrator set it up. ``secret`` (corpsecret,
    appsecret, robot or webhook secret) and the cached ``access_token`` are sealed with the master
    key; ``settings`` holds the rest (corp id, agent id, addresses, the event kinds it carries)."""

    __tablename__ = "notice_channels"
    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    enabled: Mapped[bool] = mapped_column(default=False)
    settings: Mapped[dict] = mapped_column(default=dict)
    secret: Mapped[str] = mapped_column(String(1000), default="")
    access_token: Mapped[str] = mapped_column(String(1000), default="")
    token_expires_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class NoticeBinding(Base):
    """The user's id on WeCom (userid) or DingTalk (userid), bound on their account page."""

    __tablename__ = "notice_bindings"
    __table_args__ = (UniqueConstraint("user_id", "channel"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))


class NoticeDelivery(Base):
    """One notice for one channel, written in the transaction of the event it reports (so a
    rolled-back action sends nothing) and delivered by the worker with retries and backoff."""

    __tablename__ = "notice_deliveries"
    __table_args__ = (Index("ix_notice_deliveries_due", "status", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(32), default="")
    title: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    error_code: Mapped[str] = mapped_column(String(32), default="")
    error: Mapped[str] = mapped_column(String(500), default="")
    user: Mapped[User | None] = relationship()
    tries: Mapped[list[NoticeAttempt]] = relationship(cascade="all, delete-orphan", order_by="NoticeAttempt.id")


class NoticeAttempt(Base):
    """One try at delivering: when, and the peer's error code and message when it failed."""

    __tablename__ = "notice_attempts"
    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("notice_deliveries.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    ok: Mapped[bool] = mapped_column(default=False)
    error_code: Mapped[str] = mapped_column(String(32), default="")
    error: Mapped[str] = mapped_column(String(500), default="")
