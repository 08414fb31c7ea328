"""Access data: grants, IP rules, category templates, user scopes, tag permissions, sessions, TOTP,
and the personal lists of a user (history, favourites) plus announcements."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bingan.storage.models.base import Base, utcnow
from bingan.storage.models.documents import Category
from bingan.storage.models.organisation import User


class Grant(Base):
    """A time-bounded right of one user on one record (the base of borrowing, S7/S9)."""

    __tablename__ = "grants"
    __table_args__ = (Index("ix_grants_user_until", "user_id", "valid_until"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"), index=True)
    actions: Mapped[list] = mapped_column(default=list)  # ["view", "print", …]
    # Category codes the grant opens (a borrowing of chosen parts, S13); None = the whole record.
    categories: Mapped[list | None] = mapped_column(default=None)
    valid_from: Mapped[datetime] = mapped_column(default=utcnow)
    valid_until: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(255), default="")
    source: Mapped[str] = mapped_column(String(32), default="manual")  # manual | borrowing | …
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expiry_reminded_at: Mapped[datetime | None]  # 到期提醒 sent for the current end (extending re-arms it)


class IpRule(Base):
    """允许/禁止的客户端地址段 (L5, S11); when any allow rule exists, only those ranges get in."""

    __tablename__ = "ip_rules"
    id: Mapped[int] = mapped_column(primary_key=True)
    cidr: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8), default="block")  # allow | block
    note: Mapped[str] = mapped_column(String(255), default="")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CategoryTemplate(Base):
    """分类权限模板 (AC1): a role or department may only act on the listed categories."""

    __tablename__ = "category_templates"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    role_id: Mapped[int | None] = mapped_column(ForeignKey("roles.id", ondelete="CASCADE"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"))
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id", ondelete="CASCADE"))
    actions: Mapped[list] = mapped_column(default=list)
    # 分级访问 (S7, S9): when the template opens its categories — days (hospital dates, inclusive),
    # hours of the day ("08:00-18:00", may pass midnight) and a terminal group (an address range);
    # empty = always. Outside them the categories stay closed to whom the template names.
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    hours: Mapped[str] = mapped_column(String(11), default="")
    terminals: Mapped[str] = mapped_column(String(64), default="")
    category: Mapped[Category] = relationship()


class UserScope(Base):
    """Extra data scope of a user: another department (S3) or a campus right (P2)."""

    __tablename__ = "user_scopes"
    __table_args__ = (UniqueConstraint("user_id", "kind", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # department | campus
    code: Mapped[str] = mapped_column(String(32))


class TagPermission(Base):
    """Who may see records carrying a restricted tag (AD1): one user or every holder of a role."""

    __tablename__ = "tag_permissions"
    id: Mapped[int] = mapped_column(primary_key=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role_id: Mapped[int | None] = mapped_column(ForeignKey("roles.id", ondelete="CASCADE"))


class WebSession(Base):
    """A server-side login session; the cookie carries a random token, we keep only its hash."""

    __tablename__ = "web_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the cookie token
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    client_ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(255), default="")
    second_factor_done: Mapped[bool] = mapped_column(default=False)
    # password | oidc | cas | certificate: logout also ends the identity provider's session
    login_method: Mapped[str] = mapped_column(String(16), default="password", server_default="password")
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str] = mapped_column(String(32), default="")  # logout | idle | locked
    user: Mapped[User] = relationship()


class LoginFailure(Base):
    """A failed login from a client address, kept for the per-address throttle (then removed)."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_ip_at", "client_ip", "at"), Index("ix_login_failures_at", "at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    client_ip: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)


class TotpEnrolment(Base):
    """A TOTP secret being enrolled, and the last time step used (so a code works only once)."""

    __tablename__ = "totp_enrolments"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    pending_secret: Mapped[str] = mapped_column(String(255), default="")  # sealed (sealed_secrets)
    confirmed_at: Mapped[datetime | None]
    last_step: Mapped[int] = mapped_column(default=0)


class BrowsingHistory(Base):
    """浏览历史 (Y1): the records a user opened, most recent first."""

    __tablename__ = "browsing_history"
    __table_args__ = (Index("ix_browsing_history_user_at", "user_id", "viewed_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"))
    viewed_at: Mapped[datetime] = mapped_column(default=utcnow)


class Favourite(Base):
    """收藏 (AA1) with an optional folder and note."""

    __tablename__ = "favourites"
    __table_args__ = (UniqueConstraint("user_id", "record_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"))
    folder: Mapped[str] = mapped_column(String(64), default="")
    note: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Announcement(Base):
    """公告 on the home pages, optionally for some roles only and for a period."""

    __tablename__ = "announcements"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    roles: Mapped[list] = mapped_column(default=list)  # empty = everyone
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
