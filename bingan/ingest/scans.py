"""Paper capture as an ingest source (数字化拍摄): a category's captured pages, in filing position,
become one image-only PDF handed to the collection pipeline like any collected file — OCR,
encrypted blob, version, search index — as a document of origin "scanned". Each capture or
re-shot makes a new revision, so the document gains a version whose changed pages the version
comparison shows. The capture commands of the pages and the API (capture, re-shot, edits)
store the images and submit the changed documents here, in the caller's transaction.
"""
from __future__ import annotations

import hashlib
import io
import uuid
from collections.abc import Callable, Sequence

from PIL import Image
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bingan.access.audit import Actor
from bingan.broker import send_after_commit
from bingan.config import get_settings
from bingan.ingest.items import Report, enqueue, source_named
from bingan.ingest.runs import withdraw
from bingan.ingest.staging import seal
from bingan.records.digitisation import editing, images, service
from bingan.records.digitisation.service import document_pages, document_type_of
from bingan.storage.blobs.port import BlobStore
from bingan.storage.models import Category, Record, Source
from bingan.storage.models.digitisation import ScanPage

SCANNER_SOURCE = "scanner"
PROCESS_ITEM = "bingan.ingest.process_item"  # the worker's task, as bingan/ingest/scheduler.py kicks it
PDF_DPI = 200.0  # pages carry no resolution of their own; 200 dpi prints A4 at about its size


def scanner_source(session: Session) -> Source:
    """The built-in source of pages captured in the record room."""
    source = source_named(session, SCANNER_SOURCE)
    if source is not None:
        return source
    source = Source(name=SCANNER_SOURCE, title="数字化拍摄", kind="manual", transport="manual", enabled=True)
    try:
        with session.begin_nested():
            session.add(source)
            session.flush()
    except IntegrityError:
        return source_named(session, SCANNER_SOURCE)  # type: ignore[return-value]
    return source


def source_document_id(record: Record, category: Category) -> str:
    return f"scan-{record.id}-{category.code}"


def capture_pages(session: Session, actor: Actor, blobs: BlobStore, record: Record, category: Category,
                  pictures: Sequence[images.PageImage]) -> tuple[list[ScanPage], int | None]:
    """拍摄/上传: the pictures stored, added at the end of the category's document and submitted."""
    stored = [service.Stored(picture, images.store(blobs, record, picture, f"scan-{category.code}-{n}.jpg"))
              for n, picture in enumerate(pictures, start=1)]
    pages = service.capture(session, actor, record, category, stored)
    return pages, submit_document(session, blobs, record, category)


def reshoot_page(session: Session, actor: Actor, blobs: BlobStore, page: ScanPage,
                 picture: images.PageImage) -> int | None:
    """重拍: the page's new shot stored and its document submitted again."""
    name = f"scan-{page.category.code}-{page.position}-r{page.reshoots + 1}.jpg"
    stored = service.Stored(picture, images.store(blobs, page.record, picture, name))
    service.reshoot(session, actor, page, stored)
    return submit_document(session, blobs, page.record, page.category)


def edit_page(session: Session, actor: Actor, blobs: BlobStore, page: ScanPage, edit: str,
              change: Callable[[images.PageImage], images.PageImage]) -> int | None:
    """旋转、裁剪、纠偏、自动裁边: the page's stored image changed by ``change``, stored as a new
    image and its document submitted again."""
    picture = change(images.from_blob(images.load(blobs, page.image_sha256)))
    name = f"scan-{page.category.code}-{page.position}-{edit}.jpg"
    stored = service.Stored(picture, images.store(blobs, page.record, picture, name))
    editing.edit_image(session, actor, page, edit, stored)
    return submit_document(session, blobs, page.record, page.category)


def resubmit(session: Session, blobs: BlobStore, record: Record, categories: Sequence[Category]) -> list[int]:
    """The scanned documents of these categories submitted as they stand (after a delete, a
    re-filing, a new page order); the new items' ids."""
    ids = [submit_document(session, blobs, record, category) for category in categories]
    return [item_id for item_id in ids if item_id is not None]


def submit_document(session: Session, blobs: BlobStore, record: Record, category: Category) -> int | None:
    """The category's scanned document as it stands now, staged (sealed) and queued for the
    pipeline, the worker kicked once the caller commits; the item's id (None: this content was
    queued before). With no page left the document is withdrawn instead."""
    pages = document_pages(session, record.id, category.id)
    if not pages:
        return _withdraw(session, record, category)
    data = _pdf([images.load(blobs, page.image_sha256) for page in pages])
    staging = get_settings().resolved_home / "staging"
    staging.mkdir(parents=True, exist_ok=True)
    path = staging / f"scan-{uuid.uuid4().hex}"
    seal(io.BytesIO(data), path, get_settings())
    dtype = document_type_of(session, category)
    report = Report(source_document_id=source_document_id(record, category), record_number=record.record_number,
                    stay=record.stay_number, visit_type=record.visit_type, document_type_code=dtype.code,
                    revision=hashlib.sha256(data).hexdigest(), title=f"{category.name}（纸质扫描）",
                    filename=f"{category.name}-扫描件.pdf", origin="scanned",
                    metadata={"scan_page_ids": [page.id for page in pages]})
    item, created = enqueue(session, scanner_source(session), report, staged_path=str(path))
    if not created:
        path.unlink(missing_ok=True)
        return None
    send_after_commit(session, PROCESS_ITEM, [item.id])
    return item.id


def _withdraw(session: Session, record: Record, category: Category) -> int | None:
    """The category's last page was deleted or re-filed: its scanned document is withdrawn (marked
    removed, versions kept) and its pages leave the index."""
    report = Report(source_document_id=source_document_id(record, category), record_number=record.record_number,
                    stay=record.stay_number, visit_type=record.visit_type, revision=uuid.uuid4().hex, origin="scanned",
                    removed=True)
    ids = withdraw(session, scanner_source(session), report, None)
    for item_id in ids:
        send_after_commit(session, PROCESS_ITEM, [item_id])
    return ids[0] if ids else None


def _pdf(pictures: list[bytes]) -> bytes:
    """An image-only PDF, one page per picture (JPEG pages pass through without re-encoding)."""
    opened = [Image.open(io.BytesIO(data)) for data in pictures]
    out = io.BytesIO()
    opened[0].save(out, "PDF", save_all=True, append_images=opened[1:], resolution=PDF_DPI)
    return out.getvalue()
