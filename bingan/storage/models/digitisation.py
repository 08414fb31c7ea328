"""Paper records (病案数字化加工): captured pages with their quality verdicts and review state, the
review decisions, and the paper itself — boxes with barcodes on shelves, which box holds which
record, and every move."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bingan.storage.models.base import Base, utcnow
from bingan.storage.models.documents import Category
from bingan.storage.models.organisation import User
from bingan.storage.models.records import Record

# first 待初审 · re 待复审 (re-shot after a rejection) · rework 待重拍 (the operator's queue) · passed 已通过
PAGE_STATES = {"first": "待初审", "re": "待复审", "rework": "待重拍", "passed": "已通过"}
MOVE_KINDS = {"into_box": "装盒", "out_of_box": "出盒", "box_moved": "移架"}


class ScanPage(Base):
    """One captured page of a paper record: its image (a blob, by SHA-256), where it files
    (category, position in that category's scanned document), what the quality checks said and
    where it stands in review. The category's pages together are one scanned document."""

    __tablename__ = "scan_pages"
    __table_args__ = (Index("ix_scan_pages_queue", "state", "flagged"),
                      Index("ix_scan_pages_record", "record_id", "category_id", "position"),
                      Index("ix_scan_pages_captured", "captured_at", "captured_by_id", "record_id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"))
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"))
    position: Mapped[int] = mapped_column(default=1)
    image_sha256: Mapped[str] = mapped_column(String(64))
    media_type: Mapped[str] = mapped_column(String(32), default="image/png")
    width: Mapped[int] = mapped_column(default=0)
    height: Mapped[int] = mapped_column(default=0)
    quality: Mapped[dict] = mapped_column(default=dict)
    flagged: Mapped[bool] = mapped_column(default=False)
    state: Mapped[str] = mapped_column(String(16), default="first")
    reject_reason: Mapped[str] = mapped_column(Text, default="")
    reshoots: Mapped[int] = mapped_column(default=0)
    captured_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    captured_at: Mapped[datetime] = mapped_column(default=utcnow)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None]
    record: Mapped[Record] = relationship()
    category: Mapped[Category] = relationship()
    captured_by: Mapped[User | None] = relationship(foreign_keys=[captured_by_id])


class ScanReview(Base):
    """One review decision on a page (初审 or 复审): the workload count and the page's history."""

    __tablename__ = "scan_reviews"
    __table_args__ = (Index("ix_scan_reviews_decided", "decided_at", "reviewer_id", "decision", "page_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("scan_pages.id", ondelete="CASCADE"), index=True)
    queue: Mapped[str] = mapped_column(String(16))  # first | re
    decision: Mapped[str] = mapped_column(String(16))  # pass | reject
    reason: Mapped[str] = mapped_column(Text, default="")
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)
    reviewer: Mapped[User] = relationship()


class PaperBox(Base):
    """病案盒: a box with its barcode label and its shelf location (库房, 架, 层, 位)."""

    __tablename__ = "paper_boxes"
    id: Mapped[int] = mapped_column(primary_key=True)
    barcode: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(100), default="")
    room: Mapped[str] = mapped_column(String(64), default="")
    rack: Mapped[str] = mapped_column(String(32), default="")
    level: Mapped[int | None]
    position: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PaperPlacement(Base):
    """Which box holds a record's paper now (at most one)."""

    __tablename__ = "paper_placements"
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"), primary_key=True)
    box_id: Mapped[int] = mapped_column(ForeignKey("paper_boxes.id"), index=True)
    placed_at: Mapped[datetime] = mapped_column(default=utcnow)
    placed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    record: Mapped[Record] = relationship()
    box: Mapped[PaperBox] = relationship()


class PaperMove(Base):
    """A move of paper: a record into or out of a box, a box to another shelf place. ``place_from``
    and ``place_to`` are the readable locations as they were (a box's place changes later)."""

    __tablename__ = "paper_moves"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    record_id: Mapped[int | None] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"), index=True)
    box_id: Mapped[int] = mapped_column(ForeignKey("paper_boxes.id"), index=True)
    place_from: Mapped[str] = mapped_column(String(200), default="")
    place_to: Mapped[str] = mapped_column(String(200), default="")
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    moved_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[User | None] = relationship()


class ScanFolderFile(Base):
    """One file the watched scanner folder (扫描仪监控文件夹) filed as captured pages, by the SHA-256 of
    its bytes: the same content is never filed twice, even when it comes back under another name
    or a crash left it in the folder after its pages were committed."""

    __tablename__ = "scan_folder_files"
    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    path: Mapped[str] = mapped_column(String(1000))  # relative to BINGAN_SCAN_WATCH_DIR
    record_id: Mapped[int | None] = mapped_column(ForeignKey("records.id", ondelete="SET NULL"))
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"))
    pages: Mapped[int] = mapped_column(default=0)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    filed_at: Mapped[datetime] = mapped_column(default=utcnow)
