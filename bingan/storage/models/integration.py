"""Hospital systems acting on Bingan: API tokens (a service user with chosen permissions) and
integrated systems that open Bingan pages by signed embed links, with the nonces already used."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bingan.storage.models.base import Base, utcnow
from bingan.storage.models.organisation import User


class ApiToken(Base):
    """A bearer token for the JSON API. The token acts as its own service user (audited like any
    user) holding only ``permissions``; we keep the SHA-256 of the token, shown once at creation."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12), default="")  # the first characters, to recognise it
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    permissions: Mapped[list] = mapped_column(default=list)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    user: Mapped[User] = relationship(foreign_keys=[user_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])


class EmbedSystem(Base):
    """A hospital system (doctor or nurse workstation, medical-affairs system) that embeds Bingan
    pages: the shared secret of its signed links (sealed) and the origins allowed to frame them."""

    __tablename__ = "embed_systems"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    secret: Mapped[str] = mapped_column(String(1000))
    origins: Mapped[list] = mapped_column(default=list)
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EmbedNonce(Base):
    """A nonce an embed link already used: the same link opened twice is a replay."""

    __tablename__ = "embed_nonces"
    __table_args__ = (UniqueConstraint("system_id", "nonce"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("embed_systems.id", ondelete="CASCADE"))
    nonce: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]
