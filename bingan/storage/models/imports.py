"""Historical archive imports (历史病案批量导入, V9): one import of a scanned archive — from a CSV
manifest or a folder tree under the import root — and its entries, one per file, walked in order
by a background job that marks each entry done with its pages, so a stopped or killed import
resumes at the first entry not done."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bingan.storage.models.base import Base, utcnow
from bingan.storage.models.organisation import User

# running 导入中 · paused 已暂停 · done 已完成
IMPORT_STATES = {"running": "导入中", "paused": "已暂停", "done": "已完成"}
# waiting 待导入 · done 已导入 · duplicate 重复（已导入过） · problem 未导入（见原因）
ENTRY_STATES = {"waiting": "待导入", "done": "已导入", "duplicate": "重复，已跳过", "problem": "未导入"}


class ScanImport(Base):
    """One bulk import: where its files come from (``kind`` csv or folder, ``origin`` the manifest's
    name or the folder under the import root), its state and the job walking it now."""

    __tablename__ = "scan_imports"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    origin: Mapped[str] = mapped_column(String(500), default="")
    state: Mapped[str] = mapped_column(String(16), default="running")
    total: Mapped[int] = mapped_column(default=0)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    owner: Mapped[User | None] = relationship()


class ScanImportEntry(Base):
    """One file of an import: what the manifest says (path under the import root, record number,
    stay, category), and what became of it — the collected item and its page count, or why not."""

    __tablename__ = "scan_import_entries"
    __table_args__ = (UniqueConstraint("import_id", "seq", name="uq_scan_import_entries_seq"),
                      Index("ix_scan_import_entries_state", "import_id", "state", "seq"))
    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("scan_imports.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column()
    path: Mapped[str] = mapped_column(String(1000))
    record_number: Mapped[str] = mapped_column(String(64), default="")
    stay: Mapped[str] = mapped_column(String(16), default="")
    category: Mapped[str] = mapped_column(String(64), default="")
    state: Mapped[str] = mapped_column(String(16), default="waiting")
    problem: Mapped[str] = mapped_column(Text, default="")
    record_id: Mapped[int | None] = mapped_column(ForeignKey("records.id", ondelete="SET NULL"))
    file_sha256: Mapped[str] = mapped_column(String(64), default="")
    item_id: Mapped[int | None]  # the collected item (collected_items.id) that brought the file in
    pages: Mapped[int] = mapped_column(default=0)
    done_at: Mapped[datetime | None]
