"""Statistics: monthly indicator figures typed in, the documents D&T-04/06 require, saved report definitions."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bingan.storage.models.base import Base, utcnow


class IndicatorInput(Base):
    """One month's typed figure of an indicator (M): its numerator and/or denominator (住院病案人员工作月数…)."""

    __tablename__ = "indicator_inputs"
    __table_args__ = (UniqueConstraint("code", "month"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16))  # MER-HR-01 …
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    numerator: Mapped[float | None] = mapped_column(Float)
    denominator: Mapped[float | None] = mapped_column(Float)
    note: Mapped[str] = mapped_column(String(255), default="")
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    entered_by_name: Mapped[str] = mapped_column(String(64), default="")
    entered_at: Mapped[datetime] = mapped_column(default=utcnow)


class IndicatorRequirement(Base):
    """One item a record must hold for MER-D&T-04 (手术) or -06 (用血): any one of its document types."""

    __tablename__ = "indicator_requirements"
    id: Mapped[int] = mapped_column(primary_key=True)
    indicator: Mapped[str] = mapped_column(String(16), index=True)  # MER-D&T-04 | MER-D&T-06
    position: Mapped[int] = mapped_column(default=0)
    label: Mapped[str] = mapped_column(String(100))
    document_type_ids: Mapped[list] = mapped_column(default=list)


class SavedReport(Base):
    """A report the record room built from the whitelisted blocks, shared with roles (T8)."""

    __tablename__ = "saved_reports"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    definition: Mapped[dict] = mapped_column(default=dict)  # {"subject", "dimension", "measures", "filters", "chart"}
    roles: Mapped[list] = mapped_column(default=list)  # role codes it is shared with
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_by_name: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
