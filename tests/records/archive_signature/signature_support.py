"""Helpers shared by the archive signature's specification: documents of distinct content, and the
worker running the queued jobs."""
from __future__ import annotations

import io

import formats_gen
import sqlalchemy as sa

from bingan.config import get_settings
from bingan.records import jobs
from bingan.storage.blobs.port import Placement, open_blob_store
from bingan.storage.models import Document, DocumentType, Record, Version, utcnow
from bingan.storage.models.jobs import Job


def add_document(session, record: Record, type_name: str, lines: list[list[str]]) -> Document:
    data = formats_gen.text_pdf(lines)
    placement = Placement(campus="main", record_number=record.record_number, stay=1, when=utcnow().date(),
                          filename=f"{type_name}.pdf")
    sha = open_blob_store(get_settings()).put(io.BytesIO(data), placement).sha256
    doc_type = session.scalars(sa.select(DocumentType).where(DocumentType.name == type_name)).one()
    document = Document(record=record, document_type=doc_type, title=type_name, source_system="EMR",
                        source_document_id=f"{record.record_number}-{type_name}")
    version = Version(document=document, number=1, sha256=sha, size=len(data), media_type="application/pdf",
                      filename=f"{type_name}.pdf", page_count=len(lines))
    session.add(version)
    session.flush()
    document.current_version = version
    session.flush()
    return document


def run_queued_jobs(session) -> list[str]:
    """What the worker does with the queued jobs."""
    queued = session.scalars(sa.select(Job.id).where(Job.state == "queued").order_by(Job.id)).all()
    session.commit()
    return [jobs.run_job(session.get_bind(), open_blob_store(get_settings()), job_id) for job_id in queued]
