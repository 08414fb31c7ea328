"""Campuses (院区), departments (科室), users and roles."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bingan.storage.models.base import Base, Timestamped

# Which visits a department, category or document type applies to (issue 17 item 1).
VISIT_NAMES = {"inpatient": "住院", "outpatient": "门诊"}
VISIT_SCOPES = {"both": "住院和门诊", "inpatient": "仅住院", "outpatient": "仅门诊"}


def scope_covers(scope: str | None, visit_type: str) -> bool:
    """Whether something of this visit scope applies to a visit of this type ("both" or unset: every visit)."""
    return scope in (None, "", "both", visit_type)


user_roles = Table(
    "user_roles",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
)


class Campus(Base):
    """院区: one site of a multi-campus hospital."""

    __tablename__ = "campuses"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(default=True)


class Department(Base):
    """科室: inpatient ward or outpatient clinic of one campus."""

    __tablename__ = "departments"
    __table_args__ = (UniqueConstraint("code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16), default="inpatient")  # inpatient | outpatient | other
    visit_scope: Mapped[str] = mapped_column(String(16), default="both", server_default="both")  # VISIT_SCOPES
    campus_id: Mapped[int | None] = mapped_column(ForeignKey("campuses.id"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    active: Mapped[bool] = mapped_column(default=True)
    campus: Mapped[Campus | None] = relationship()


class Role(Base):
    """A named set of permissions; access/ defines the permission codes."""

    __tablename__ = "roles"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    permissions: Mapped[list] = mapped_column(default=list)
    builtin: Mapped[bool] = mapped_column(default=False)


class User(Timestamped, Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(100), default="")
    staff_number: Mapped[str] = mapped_column(String(32), default="")  # 工号
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    password_hash: Mapped[str] = mapped_column(String(255), default="")
    password_changed_at: Mapped[datetime | None]
    must_change_password: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    # The authenticator secret, sealed with the master key (access/sealed_secrets.py).
    totp_secret: Mapped[str] = mapped_column("totp_sealed", String(255), default="")
    active: Mapped[bool] = mapped_column(default=True)
    valid_until: Mapped[datetime | None]  # temporary accounts expire (等保: remove expired accounts)
    max_confidentiality: Mapped[int] = mapped_column(default=0)  # highest 密级 this user may read
    preferences: Mapped[dict] = mapped_column(default=dict)  # AB1 personal settings
    department: Mapped[Department | None] = relationship()
    roles: Mapped[list[Role]] = relationship(secondary=user_roles)

    def has_role(self, code: str) -> bool:
        return any(role.code == code for role in self.roles)


class PasswordHistory(Base):
    """Earlier password hashes, so a new password cannot repeat the last five."""

    __tablename__ = "password_history"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    changed_at: Mapped[datetime]
