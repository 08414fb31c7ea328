"""Stand-alone collectors on device PCs (单机采集: ECG carts, densitometers): each device pushes
through its own push source with its own key, signs every upload with its own key pair or the
certificate the hospital issued it, and leaves a line in its collection log per upload."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bingan.storage.models.base import Base, Timestamped, utcnow
from bingan.storage.models.ingest import Source
from bingan.storage.models.organisation import Department

UPLOAD_OUTCOMES = ("accepted", "duplicate", "refused")


class Device(Timestamped, Base):
    """A registered device (采集设备). Its name, code, push key and default category (the fallback
    document type) live on its push source; here what only a device has: its address, department
    and the public key or certificate its uploads are verified with."""

    __tablename__ = "devices"
    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), unique=True)
    ip: Mapped[str] = mapped_column(String(45), default="", index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    public_key: Mapped[str] = mapped_column(Text, default="")  # PEM: Ed25519 or ECDSA P-256
    certificate: Mapped[str] = mapped_column(Text, default="")  # PEM, issued by the hospital (R4)
    last_seen_at: Mapped[datetime | None]
    last_ip: Mapped[str] = mapped_column(String(45), default="")
    source: Mapped[Source] = relationship()
    department: Mapped[Department | None] = relationship()


class DeviceUpload(Base):
    """One upload a device made (采集日志): accepted, a repeat of one already collected, or refused."""

    __tablename__ = "device_uploads"
    __table_args__ = (Index("ix_device_uploads_device_at", "device_id", "at"),
                      Index("ix_device_uploads_ip_at", "ip", "at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    ip: Mapped[str] = mapped_column(String(45), default="")
    filename: Mapped[str] = mapped_column(String(255), default="")
    record_number: Mapped[str] = mapped_column(String(32), default="")
    stay: Mapped[int] = mapped_column(default=1)
    sha256: Mapped[str] = mapped_column(String(64), default="")
    outcome: Mapped[str] = mapped_column(String(16), default="accepted")
    reason: Mapped[str] = mapped_column(Text, default="")  # Chinese, why it was refused
    item_id: Mapped[int | None] = mapped_column(ForeignKey("collected_items.id", ondelete="SET NULL"))
