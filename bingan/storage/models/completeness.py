"""Completeness rules, self-check results, missing and special marks (完整性、系统自检、缺项标记)."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bingan.storage.models.base import Base, Timestamped, utcnow
from bingan.storage.models.documents import Category, DocumentType
from bingan.storage.models.organisation import Department
from bingan.storage.models.records import Record

# A record's cases (病案情形), known from its data; a rule applies to one case and may be waived
# by others (a stay under 24 hours has 24小时内入出院记录 instead of 入院记录 and 出院记录).
RECORD_CASES = {
    "all": "所有住院病案",
    "surgery": "手术病案",
    "death": "死亡病案",
    "transfusion": "输血病案",
    "rescue": "抢救病案",
    "short_stay": "24小时内入出院",
    "short_stay_death": "24小时内入院死亡",
}
SEVERITIES = ("error", "warning")
MARK_KINDS = {"missing": "缺项", "special": "特殊病案"}
MARK_STATES = ("open", "closed")


class CompletenessRule(Timestamped, Base):
    """One required item of an inpatient record for archiving (G1–G2) in one case (``applies_to``):
    met when the record has a document of one of ``document_type_ids`` or of ``category_id``.
    Hospital-wide when ``department_id`` is empty, else an extra of that discharge department."""

    __tablename__ = "completeness_rules"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))  # what is missing, as users read it
    applies_to: Mapped[str] = mapped_column(String(24), default="all", index=True)  # a RECORD_CASES key
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id", ondelete="CASCADE"))
    document_type_ids: Mapped[list] = mapped_column(default=list)
    waived_in: Mapped[list] = mapped_column(default=list)  # cases in which the rule does not apply
    active: Mapped[bool] = mapped_column(default=True)
    note: Mapped[str] = mapped_column(String(255), default="")
    department: Mapped[Department | None] = relationship()
    category: Mapped[Category | None] = relationship()


class CheckRun(Base):
    """One run of the self-checks (系统自检) over a record, with its findings."""

    __tablename__ = "check_runs"
    __table_args__ = (Index("ix_check_runs_record_run_at", "record_id", "run_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"))
    run_at: Mapped[datetime] = mapped_column(default=utcnow)
    trigger: Mapped[str] = mapped_column(String(16), default="manual")  # submit | emr | recollect | manual
    passed: Mapped[bool] = mapped_column(default=True)
    errors: Mapped[int] = mapped_column(default=0)
    warnings: Mapped[int] = mapped_column(default=0)
    findings: Mapped[list[CheckFinding]] = relationship(
        back_populates="run", order_by="CheckFinding.seq", cascade="all, delete-orphan"
    )


class CheckFinding(Base):
    """One verdict of one check: Chinese message, severity, the document (and page) it points at."""

    __tablename__ = "check_findings"
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("check_runs.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(default=0)
    check: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(8))
    message: Mapped[str] = mapped_column(Text)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id", ondelete="SET NULL"))
    page: Mapped[int | None]
    run: Mapped[CheckRun] = relationship(back_populates="findings")


class SpecialRecordKind(Base):
    """特殊病案类型: the hospital's dictionary of special-record kinds (Q5), edited by the record room."""

    __tablename__ = "special_record_kinds"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)


class Mark(Base):
    """缺项标记 or 特殊病案标记 on a record by a clinician (H9); the record room closes a missing
    mark when the item was collected later (补收)."""

    __tablename__ = "record_marks"
    __table_args__ = (Index("ix_record_marks_record_state", "record_id", "state"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # missing | special
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    document_type_id: Mapped[int | None] = mapped_column(ForeignKey("document_types.id"))
    special_kind: Mapped[str] = mapped_column(String(64), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    expected_date: Mapped[date | None]
    state: Mapped[str] = mapped_column(String(8), default="open")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_by_name: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_by_name: Mapped[str] = mapped_column(String(64), default="")
    closed_at: Mapped[datetime | None]
    close_note: Mapped[str] = mapped_column(Text, default="")
    record: Mapped[Record] = relationship()
    category: Mapped[Category | None] = relationship()
    document_type: Mapped[DocumentType | None] = relationship()

    @property
    def what(self) -> str:
        """The item marked, as users read it: 病理报告, 辅助检查报告单, or the special kind."""
        if self.kind == "special":
            return self.special_kind
        if self.document_type is not None:
            return self.document_type.name
        return self.category.name if self.category is not None else ""
