"""Version review and the working-day calendar (版本对比、节假日、归档时限)."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from bingan.storage.models.base import Base, utcnow

CALENDAR_SOURCES = ("chinesecalendar", "manual")
RECORD_KINDS = ("normal", "death", "special")


class CalendarDay(Base):
    """A day that differs from the plain week: a holiday (放假) or a make-up workday (调休上班).

    Days not in this table are working days Monday to Friday and rest days at the weekend.
    """

    __tablename__ = "calendar_days"
    day: Mapped[date] = mapped_column(primary_key=True)
    working: Mapped[bool] = mapped_column(default=False)  # True: 调休上班; False: 法定节假日 / 休息
    name: Mapped[str] = mapped_column(String(64), default="")
    source: Mapped[str] = mapped_column(String(16), default="manual")  # chinesecalendar | manual
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CalendarYear(Base):
    """A year whose holiday arrangement (国务院办公厅放假安排) is entered completely.

    A year missing here is warned about on the administrator's home page.
    """

    __tablename__ = "calendar_years"
    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(String(16), default="manual")
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    confirmed_at: Mapped[datetime] = mapped_column(default=utcnow)


class ArchiveDeadline(Base):
    """归档时限: working days from discharge to archiving, per record kind (普通 3, 死亡 5, 特殊 7)."""

    __tablename__ = "archive_deadlines"
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(32), default="")
    days: Mapped[int] = mapped_column(default=3)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
