"""Statistics: monthly indicator figures typed in, the documents D&T-04/06 require, saved report definitions,
and the per-record facts the reports count (records/statistics/facts.py keeps them)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
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


FACT_FLAGS = ("has_paper", "defective", "surgical", "transfusion", "admission_note_24h", "operation_note_in_time",
              "discharge_note_24h", "front_page_24h", "dt04_complete", "dt06_complete")


class RecordFact(Base):
    """What one discharged inpatient record holds, as the statistics count it (facts.py says what each flag
    means and how the row is kept up to date). One row per record; no foreign key: a deleted record's row
    is removed by the refresh its dirty marker asks for."""

    __tablename__ = "record_facts"
    __table_args__ = (
        # Every column, led by the discharge time: a period's reports read this index alone.
        Index("ix_record_facts_discharged", "discharged_at", "department_id", "campus_id", "kind", "deadline_kind",
              "submitted_at", "discharge_reviewed_at", "archived_at", *FACT_FLAGS, "grade", "record_id"),
    )
    record_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    discharged_at: Mapped[datetime]
    department_id: Mapped[int | None] = mapped_column(Integer)  # 出院科室
    campus_id: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # the record's kind (病历类别 dimension)
    deadline_kind: Mapped[str] = mapped_column(String(16))  # death | special | normal: whose archive deadline
    submitted_at: Mapped[datetime | None]
    discharge_reviewed_at: Mapped[datetime | None]  # 出科审核时间 (the archive-rate report's other basis)
    archived_at: Mapped[datetime | None]
    has_paper: Mapped[bool]
    defective: Mapped[bool]
    surgical: Mapped[bool]
    transfusion: Mapped[bool]
    admission_note_24h: Mapped[bool]
    operation_note_in_time: Mapped[bool]
    discharge_note_24h: Mapped[bool]
    front_page_24h: Mapped[bool]
    dt04_complete: Mapped[bool]
    dt06_complete: Mapped[bool]
    grade: Mapped[str | None] = mapped_column(String(2))  # the latest final score's grade (终末质控)


class RecordFactDirty(Base):
    """A record whose facts may have changed: appended by database triggers in the writer's transaction,
    consumed by facts.refresh. Append-only (no unique key), so a writer never waits for a refresh."""

    __tablename__ = "record_facts_dirty"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    record_id: Mapped[int] = mapped_column(Integer)
