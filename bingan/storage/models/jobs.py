"""Background jobs (后台任务): long work run by the worker, with progress and a result file."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bingan.storage.models.base import Base, utcnow
from bingan.storage.models.organisation import User
from bingan.storage.models.records import Record

# queued 排队中 · running 进行中 · done 已完成 · failed 失败
JOB_STATES = ("queued", "running", "done", "failed")


class Job(Base):
    """One piece of long work (a seal package, a copy job, an export…) of a registered kind.

    ``locked_until`` is the lease of the worker running it: a job whose worker died is taken
    again by the sweeper once the lease has passed (at most ``MAX_ATTEMPTS`` times).
    """

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_state", "state", "locked_until"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(16), default="queued")
    params: Mapped[dict] = mapped_column(default=dict)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    record_id: Mapped[int | None] = mapped_column(ForeignKey("records.id"), index=True)
    done: Mapped[int] = mapped_column(default=0)
    total: Mapped[int] = mapped_column(default=0)
    note: Mapped[str] = mapped_column(String(255), default="")
    error: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column()
    result_sha256: Mapped[str] = mapped_column(String(64), default="")
    result_name: Mapped[str] = mapped_column(String(255), default="")
    result_type: Mapped[str] = mapped_column(String(100), default="")
    result_size: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    owner: Mapped[User | None] = relationship()
    record: Mapped[Record | None] = relationship()
