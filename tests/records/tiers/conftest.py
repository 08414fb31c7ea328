"""Fixtures for the tier specification: a hot and a cold volume directory on the real file system,
patients last seen long ago and recently, documents whose files are real encrypted blobs."""
from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from bingan.config import get_settings, reset_settings
from bingan.records.workflows import install
from bingan.storage.blobs.local import LocalBlobStore
from bingan.storage.blobs.port import Placement, open_blob_store
from bingan.storage.models import Document, DocumentType, Patient, Record, Version

NOW = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def kinds() -> None:
    install()


@pytest.fixture
def volumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    hot, cold = tmp_path / "hot", tmp_path / "cold"
    monkeypatch.setenv("BINGAN_BLOB_VOLUMES", f"{hot},{cold}:cold")
    monkeypatch.setenv("BINGAN_VOLUME_RESERVE_MB", "0")
    monkeypatch.setenv("BINGAN_TIER_PROMOTE_ON_READ", "false")
    reset_settings()
    return hot, cold


@pytest.fixture
def store(volumes) -> LocalBlobStore:
    opened = open_blob_store(get_settings())
    assert isinstance(opened, LocalBlobStore)
    return opened


@dataclass
class Archive:
    """What the tests stored: each file's bytes by SHA-256, records by name."""

    store: LocalBlobStore
    files: dict[str, bytes] = field(default_factory=dict)
    records: dict[str, Record] = field(default_factory=dict)

    def patient(self, session, number: str) -> Patient:
        found = session.scalars(sa.select(Patient).where(Patient.record_number == number)).one_or_none()
        if found is None:
            found = Patient(record_number=number, name="测试患者", sex="F")
            session.add(found)
        return found

    def record(self, session, name: str, number: str, stay: int, discharged: date | None,
               admitted: date | None = None) -> Record:
        admitted = admitted or discharged
        record = Record(patient=self.patient(session, number), record_number=number, stay_number=stay,
                        admitted_at=_at(admitted), discharged_at=_at(discharged))
        session.add(record)
        session.flush()
        self.records[name] = record
        return record

    def add_file(self, session, record: Record, data: bytes | None = None, *, media_type: str = "application/pdf",
                 pages: int = 0) -> str:
        data = os.urandom(200_000) if data is None else data
        when = (record.discharged_at or record.admitted_at or NOW).date()
        info = self.store.put(io.BytesIO(data), Placement("main", record.record_number, record.stay_number, when,
                                                           f"{len(self.files)}.pdf"))
        self.files[info.sha256] = data
        doc_type = session.scalars(sa.select(DocumentType).where(DocumentType.name == "入院记录")).one()
        document = Document(record=record, document_type=doc_type, title="入院记录", source_system="EMR",
                            source_document_id=f"{record.id}-{len(self.files)}")
        version = Version(document=document, number=1, sha256=info.sha256, size=len(data), media_type=media_type,
                          filename="doc.pdf", page_count=pages)
        session.add(version)
        session.flush()
        document.current_version = version
        session.flush()
        return info.sha256


def _at(day: date | None) -> datetime | None:
    return datetime(day.year, day.month, day.day, 10, tzinfo=UTC) if day else None


@pytest.fixture
def archive(store) -> Archive:
    return Archive(store)


def read_back(store: LocalBlobStore, sha: str) -> bytes:
    with store.open(sha) as reader:
        return reader.read()
