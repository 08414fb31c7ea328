"""Categories (病案分类), document types (医疗文书) with aliases, documents, versions and pages."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bingan.storage.models.base import Base, Timestamped, utcnow
from bingan.storage.models.records import Record

CHANGE_KINDS = ("added", "updated", "removed")
DOCUMENT_ORIGINS = ("collected", "scanned", "uploaded")


class Category(Base):
    """病案分类, in archive filing order (2013 规定 art. 9)."""

    __tablename__ = "categories"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    filing_order: Mapped[int] = mapped_column(default=0)
    copyable: Mapped[bool] = mapped_column(default=False)  # 可复印 (art. 19; editable)
    visit_scope: Mapped[str] = mapped_column(String(16), default="both", server_default="both")  # VISIT_SCOPES
    active: Mapped[bool] = mapped_column(default=True)
    document_types: Mapped[list[DocumentType]] = relationship(
        back_populates="category", order_by="DocumentType.filing_order"
    )


class DocumentType(Base):
    """医疗文书: a standard document type inside a category."""

    __tablename__ = "document_types"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"), index=True)
    filing_order: Mapped[int] = mapped_column(default=0)
    visit_scope: Mapped[str] = mapped_column(String(16), default="both", server_default="both")  # VISIT_SCOPES
    active: Mapped[bool] = mapped_column(default=True)
    category: Mapped[Category] = relationship(back_populates="document_types")


class DocumentTypeAlias(Base):
    """A name or code a source system uses for a standard document type (G3, Q4)."""

    __tablename__ = "document_type_aliases"
    __table_args__ = (UniqueConstraint("source_system", "alias"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    source_system: Mapped[str] = mapped_column(String(64), default="")  # "" = any source
    alias: Mapped[str] = mapped_column(String(100))
    document_type_id: Mapped[int] = mapped_column(
        ForeignKey("document_types.id", ondelete="CASCADE"), index=True
    )
    document_type: Mapped[DocumentType] = relationship()


class Document(Timestamped, Base):
    """One source document of a record; its content lives in versions."""

    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("record_id", "source_system", "source_document_id"),
        # Covers the statistics' per-record document facts (records/statistics/blocks.py Facts): a
        # record's documents read from the index alone, no table row per document.
        Index("ix_documents_record_type", "record_id", "document_type_id", "removed", "current_version_id",
              "written_at", "signed_at", "origin"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id"), index=True)
    document_type_id: Mapped[int] = mapped_column(ForeignKey("document_types.id"))
    title: Mapped[str] = mapped_column(String(200), default="")
    source_system: Mapped[str] = mapped_column(String(64), default="")
    source_document_id: Mapped[str] = mapped_column(String(128), default="")
    origin: Mapped[str] = mapped_column(String(16), default="collected")  # collected | scanned | uploaded
    author: Mapped[str] = mapped_column(String(64), default="")
    signed_at: Mapped[datetime | None]
    written_at: Mapped[datetime | None]  # 书写时间, for timeliness indicators
    current_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("versions.id", use_alter=True, name="fk_documents_current_version")
    )
    removed: Mapped[bool] = mapped_column(default=False)  # source withdrew it; versions are kept
    record: Mapped[Record] = relationship()
    document_type: Mapped[DocumentType] = relationship()
    versions: Mapped[list[Version]] = relationship(
        back_populates="document", order_by="Version.number", foreign_keys="Version.document_id"
    )
    current_version: Mapped[Version | None] = relationship(foreign_keys=[current_version_id], post_update=True)


class Version(Base):
    """One collected content of a document; blobs are addressed by the plaintext SHA-256."""

    __tablename__ = "versions"
    __table_args__ = (UniqueConstraint("document_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    number: Mapped[int] = mapped_column(default=1)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(default=0)
    media_type: Mapped[str] = mapped_column(String(100), default="application/octet-stream")
    filename: Mapped[str] = mapped_column(String(255), default="")
    page_count: Mapped[int] = mapped_column(default=0)
    source_system: Mapped[str] = mapped_column(String(64), default="")
    source_id: Mapped[str] = mapped_column(String(128), default="")
    collected_at: Mapped[datetime] = mapped_column(default=utcnow)
    change_kind: Mapped[str] = mapped_column(String(16), default="added")
    page_changes: Mapped[dict] = mapped_column(default=dict)  # {"added": [..], "removed": [..], "updated": [..]}
    signatures: Mapped[list] = mapped_column(default=list)  # verdicts from formats/
    # Videos: the H.264/AAC MP4 made at collection, shown to users who may view but not download.
    playable_sha256: Mapped[str | None] = mapped_column(String(64))
    document: Mapped[Document] = relationship(back_populates="versions", foreign_keys=[document_id])
    pages: Mapped[list[Page]] = relationship(
        back_populates="version", order_by="Page.number", cascade="all, delete-orphan"
    )


class Page(Base):
    """One page of a version: hashes for change detection, the text as indexed."""

    __tablename__ = "pages"
    __table_args__ = (UniqueConstraint("version_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id", ondelete="CASCADE"), index=True)
    number: Mapped[int]
    text_hash: Mapped[str] = mapped_column(String(64), default="")
    image_hash: Mapped[str] = mapped_column(String(64), default="")
    text_source: Mapped[str] = mapped_column(String(8), default="text")  # text | ocr | none
    text: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[Version] = relationship(back_populates="pages")
