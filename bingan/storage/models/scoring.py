"""Final quality scoring (终末质控): scoring standards as versioned data, sampling tasks and the
records they drew, final scores with their deductions.

A standard row is one version and never changes once a score points at it: editing or importing
makes a new row (same ``name``, ``version`` + 1). ``sections`` holds the whole table as data:
``[{"name", "points", "items": [{"code", "text", "deduction", "max_times", "cap", "veto",
"veto_points", "check"}]}]``; ``thresholds`` the grade limits ``{"甲": 90, "乙": 80}``.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bingan.storage.models.base import Base, utcnow
from bingan.storage.models.documents import Document
from bingan.storage.models.organisation import User
from bingan.storage.models.records import Record

SCORE_STATUSES = ("draft", "final")
GRADES = ("甲", "乙", "丙")
# proposed: suggested from a self-check or QC comment, counts only once accepted; dismissed: set aside.
DEDUCTION_STATES = ("proposed", "accepted", "dismissed")


class ScoringStandard(Base):
    """评分标准, one version of it."""

    __tablename__ = "scoring_standards"
    __table_args__ = (UniqueConstraint("name", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(default=1)
    sections: Mapped[list] = mapped_column(default=list)
    thresholds: Mapped[dict] = mapped_column(default=dict)
    current: Mapped[bool] = mapped_column(default=False)  # the version new tasks use
    origin: Mapped[str] = mapped_column(String(16), default="default")  # default | import | edit
    note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[User | None] = relationship()


class ScoringTask(Base):
    """抽查任务: the rule that drew its records (``rule``: departments, month, kind, percent or
    count), the seed that makes the draw reproducible, and the reviewers it was shared among."""

    __tablename__ = "scoring_tasks"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    standard_id: Mapped[int] = mapped_column(ForeignKey("scoring_standards.id"))
    rule: Mapped[dict] = mapped_column(default=dict)
    seed: Mapped[int] = mapped_column(default=0)
    reviewer_ids: Mapped[list] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | closed
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    standard: Mapped[ScoringStandard] = relationship()
    created_by: Mapped[User | None] = relationship()


class ScoringTaskRecord(Base):
    """One drawn record of a task and the reviewer it was assigned to."""

    __tablename__ = "scoring_task_records"
    __table_args__ = (UniqueConstraint("task_id", "record_id"), Index("ix_scoring_task_records_reviewer",
                                                                      "reviewer_id", "task_id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("scoring_tasks.id", ondelete="CASCADE"))
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"), index=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    seq: Mapped[int] = mapped_column(default=0)
    task: Mapped[ScoringTask] = relationship()
    record: Mapped[Record] = relationship()
    reviewer: Mapped[User] = relationship()


class FinalScore(Base):
    """终末质控评分 of one record: a draft until submitted, then final (one per record per task).
    The record's grade is its latest final score."""

    __tablename__ = "final_scores"
    __table_args__ = (UniqueConstraint("task_id", "record_id"), Index("ix_final_scores_status_scored",
                                                                      "status", "scored_at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("scoring_tasks.id", ondelete="SET NULL"))
    standard_id: Mapped[int] = mapped_column(ForeignKey("scoring_standards.id"))
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    total: Mapped[float] = mapped_column(Float, default=100.0)
    grade: Mapped[str] = mapped_column(String(2), default="")
    status: Mapped[str] = mapped_column(String(8), default="draft")
    scored_at: Mapped[datetime | None]  # when it became final (UTC)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    record: Mapped[Record] = relationship()
    standard: Mapped[ScoringStandard] = relationship()
    reviewer: Mapped[User] = relationship()
    task: Mapped[ScoringTask | None] = relationship()
    deductions: Mapped[list[ScoreDeduction]] = relationship(cascade="all, delete-orphan",
                                                            order_by="ScoreDeduction.id")


class ScoreDeduction(Base):
    """One deduction: an item of the standard (by its code), how many times, on which document and
    page. ``source`` says where it came from (manual, check, qc_comment) and ``state`` whether a
    proposal was accepted or dismissed."""

    __tablename__ = "score_deductions"
    id: Mapped[int] = mapped_column(primary_key=True)
    score_id: Mapped[int] = mapped_column(ForeignKey("final_scores.id", ondelete="CASCADE"), index=True)
    item_code: Mapped[str] = mapped_column(String(32))
    times: Mapped[int] = mapped_column(default=1)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id", ondelete="SET NULL"))
    page: Mapped[int | None]
    note: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(16), default="manual")  # manual | check | qc_comment
    state: Mapped[str] = mapped_column(String(16), default="accepted")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    document: Mapped[Document | None] = relationship()
