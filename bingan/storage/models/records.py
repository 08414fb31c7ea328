"""Patients, records (病案: one inpatient stay or outpatient visit), front-page diagnoses and operations, tags."""
from __future__ import annotations

import re
from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from bingan import clock
from bingan.storage.models.base import Base, Timestamped
from bingan.storage.models.identity import normalise_id_number
from bingan.storage.models.organisation import Campus, Department

RECORD_KINDS = ("normal", "death", "special")
VISIT_TYPES = ("inpatient", "outpatient")
# Life cycle of a record in the record room. Later workflows (QC H, borrowing L, sealing M,
# recall N) keep their own tables and move the record along these states.
# Only bingan/records/lifecycle.py writes status, status_changed_at, archived_at, sealed and
# legal_hold; its MOVES table says which changes of status are allowed.
RECORD_STATUSES = (
    "collecting",  # 采集中: stay open or documents still arriving
    "awaiting",  # 待提交: collection complete, the clinician has not submitted yet
    "submitted",  # 待质控: clinician submitted for archiving
    "qc",  # 质控中
    "returned",  # 已退回: sent back to the clinician for correction
    "archived",  # 已归档
    "recalled",  # 召回中: archived record reopened on request, until resubmitted
)
ID_TYPES = ("resident_id", "passport", "hk_macau_permit", "taiwan_permit", "foreign_permanent", "other")

record_tags = Table(
    "record_tags",
    Base.metadata,
    Column("record_id", ForeignKey("records.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
)


class Patient(Timestamped, Base):
    """A person; the record number (病案号) is unique per patient and reused across stays."""

    __tablename__ = "patients"
    id: Mapped[int] = mapped_column(primary_key=True)
    record_number: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    sex: Mapped[str] = mapped_column(String(1), default="U")  # M | F | U
    birth_date: Mapped[date | None]
    id_type: Mapped[str] = mapped_column(String(24), default="resident_id")
    id_number: Mapped[str | None] = mapped_column(String(32), index=True)
    phone: Mapped[str] = mapped_column(String(32), default="")
    address: Mapped[str] = mapped_column(String(255), default="")
    records: Mapped[list[Record]] = relationship(back_populates="patient")

    @validates("id_number")
    def _validate_id_number(self, _key: str, value: str | None) -> str | None:
        if value and self.id_type in (None, "resident_id"):
            return normalise_id_number(value)
        return value


class Record(Timestamped, Base):
    """病案: one inpatient stay (病案号 + 住院次数) or one outpatient visit."""

    __tablename__ = "records"
    __table_args__ = (
        UniqueConstraint("record_number", "visit_type", "stay_number"),
        CheckConstraint("stay_number >= 1", name="stay_positive"),
        CheckConstraint("confidentiality BETWEEN 0 AND 3", name="confidentiality_range"),
        # Covers the archive-rate report (records/archive_rate.py): a million records counted from
        # the index alone, no table lookup per record (id too: PostgreSQL's index-only scan needs it
        # for the join with the incomplete records); its first two columns serve the lists.
        Index("ix_records_discharged_dept", "discharged_at", "discharge_department_id", "visit_type", "kind",
              "discharge_method", "submitted_at", "discharge_reviewed_at", "archived_at", "id"),
        Index("ix_records_status", "status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    record_number: Mapped[str] = mapped_column(String(32))  # 病案号, copied from the patient
    stay_number: Mapped[int] = mapped_column(default=1)  # 住院次数 / visit number
    visit_type: Mapped[str] = mapped_column(String(16), default="inpatient")
    inpatient_number: Mapped[str] = mapped_column(String(32), default="", index=True)  # 住院号
    campus_id: Mapped[int | None] = mapped_column(ForeignKey("campuses.id"))
    admitted_at: Mapped[datetime | None]
    discharged_at: Mapped[datetime | None]
    admission_department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    discharge_department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    attending_doctor: Mapped[str] = mapped_column(String(64), default="")  # 主治医师
    resident_doctor: Mapped[str] = mapped_column(String(64), default="")  # 住院医师
    discharge_method: Mapped[str] = mapped_column(String(2), default="")  # 离院方式 1..5, 9
    kind: Mapped[str] = mapped_column(String(16), default="normal")  # normal | death | special
    confidentiality: Mapped[int] = mapped_column(default=0)  # 密级 0 公开 … 3 绝密
    status: Mapped[str] = mapped_column(String(16), default="collecting")
    status_changed_at: Mapped[datetime | None]
    submitted_at: Mapped[datetime | None]
    discharge_reviewed_at: Mapped[datetime | None]  # 出科审核时间, sent by the EMR (archive-rate basis)
    archived_at: Mapped[datetime | None]
    sealed: Mapped[bool] = mapped_column(default=False)  # kept in step with the seal workflow
    legal_hold: Mapped[bool] = mapped_column(default=False)
    front_page: Mapped[dict] = mapped_column(default=dict)  # 首页 fields by upload code (A48, B12…)
    patient: Mapped[Patient] = relationship(back_populates="records")
    campus: Mapped[Campus | None] = relationship()
    admission_department: Mapped[Department | None] = relationship(
        foreign_keys=[admission_department_id]
    )
    discharge_department: Mapped[Department | None] = relationship(
        foreign_keys=[discharge_department_id]
    )
    diagnoses: Mapped[list[Diagnosis]] = relationship(
        back_populates="record", order_by="Diagnosis.seq", cascade="all, delete-orphan"
    )
    operations: Mapped[list[Operation]] = relationship(
        back_populates="record", order_by="Operation.seq", cascade="all, delete-orphan"
    )
    tags: Mapped[list[Tag]] = relationship(secondary=record_tags)

    @property
    def length_of_stay(self) -> int | None:
        """实际住院天数: admission and discharge day count as one day."""
        if not (self.admitted_at and self.discharged_at):
            return None
        return max(1, (clock.local_date(self.discharged_at) - clock.local_date(self.admitted_at)).days)


class RecordNumberAlias(Base):
    """Another number that means the same patient's record number (Q6): old, merged, 住院号."""

    __tablename__ = "record_number_aliases"
    id: Mapped[int] = mapped_column(primary_key=True)
    alias: Mapped[str] = mapped_column(String(32), unique=True)
    record_number: Mapped[str] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="old")  # old | merged | inpatient | outpatient
    note: Mapped[str] = mapped_column(String(255), default="")


class Diagnosis(Base):
    """A front-page diagnosis, coded in ICD-10."""

    __tablename__ = "diagnoses"
    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(default=0)  # 0 = main diagnosis (主要诊断)
    kind: Mapped[str] = mapped_column(String(16), default="discharge")  # discharge | admission | outpatient | pathology
    code: Mapped[str] = mapped_column(String(16), index=True)
    name: Mapped[str] = mapped_column(String(200))
    admission_condition: Mapped[str] = mapped_column(String(2), default="")  # 入院病情 1..4
    record: Mapped[Record] = relationship(back_populates="diagnoses")


class Operation(Base):
    """A front-page operation or procedure, coded in ICD-9-CM-3."""

    __tablename__ = "operations"
    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(default=0)  # 0 = main operation
    code: Mapped[str] = mapped_column(String(16), index=True)
    name: Mapped[str] = mapped_column(String(200))
    performed_at: Mapped[datetime | None]
    level: Mapped[str] = mapped_column(String(4), default="")  # 手术级别
    surgeon: Mapped[str] = mapped_column(String(64), default="")
    anaesthesia: Mapped[str] = mapped_column(String(32), default="")
    incision_grade: Mapped[str] = mapped_column(String(8), default="")  # 切口愈合等级
    record: Mapped[Record] = relationship(back_populates="operations")


DEFAULT_TAG_COLOR = "#607d8b"
TAG_COLOR = re.compile(r"#(?:[0-9a-fA-F]{3}){1,2}")
TAG_COLOR_PROBLEM = "标签颜色应为 #RGB 或 #RRGGBB 形式的十六进制颜色，例如 #607d8b"


def valid_tag_color(value: object) -> bool:
    return isinstance(value, str) and TAG_COLOR.fullmatch(value) is not None


class Tag(Base):
    """标签; a restricted tag hides its records from users without the tag permission (AD1).

    The colour lands in the style of every page showing the tag: only #rgb / #rrggbb is stored
    (checked here, whoever writes it), and ``safe_color`` is what templates render, so a value
    stored before the check never reaches a page either.
    """

    __tablename__ = "tags"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    color: Mapped[str] = mapped_column(String(16), default=DEFAULT_TAG_COLOR)
    restricted: Mapped[bool] = mapped_column(default=False)
    description: Mapped[str] = mapped_column(Text, default="")

    @validates("color")
    def _validate_color(self, _key: str, value: str) -> str:
        if not valid_tag_color(value):
            raise ValueError(TAG_COLOR_PROBLEM)
        return value

    @property
    def safe_color(self) -> str:
        return self.color if valid_tag_color(self.color) else DEFAULT_TAG_COLOR
