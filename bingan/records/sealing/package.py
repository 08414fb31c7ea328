"""The seal package (封存件, M5): every sealed document's current version as PDF and as OFD
(GB/T 33190), a manifest of their SHA-256s, and the seal list as cover pages — one PDF whose
attachments are those files, signed (PAdES) with the hospital's certificate over all of it, so
`bingan inspect` on the package checks that nothing in it changed since sealing.
"""
from __future__ import annotations

import io
import json
from collections.abc import Callable

from PIL import Image
from sqlalchemy.orm import Session

from bingan.access.sealed_secrets import SecretBox
from bingan.config import get_settings
from bingan.errors import Conflict, Refusal
from bingan.formats import ofd
from bingan.formats.document import open_document
from bingan.formats.pades import Attachment, attach_files, sha256, sign_pdf
from bingan.records import jobs
from bingan.records.hospital_certificate import signing_identity
from bingan.records.sealing import service
from bingan.records.sealing.seal_list import ListEntry, SealListFacts, local_text, seal_list_pdf
from bingan.storage.blobs.port import BlobStore, Placement
from bingan.storage.models import Document, Record, utcnow
from bingan.storage.models.sealing import Seal
from bingan.storage.system_settings import read_setting

PDF = "application/pdf"
OFD_DPI = 96  # the OFD page image; its invisible text layer keeps the text searchable
IMAGE_DPI = 150  # pages of images, text files… drawn for their PDF
MANIFEST = "manifest.json"
Progress = Callable[[int, int, str], None]


def build_seal_package(session: Session, blobs: BlobStore, record: Record, seal: Seal, progress: Progress) -> str:
    """Build, sign and store the package; fills ``seal.manifest``; returns the package's SHA-256."""
    documents = service.sealed_documents(session, seal)
    counter = _PageCounter(progress, sum(document.current_version.page_count or 1 for document in documents))
    attachments, manifest, entries = [], [], []
    for number, document in enumerate(documents, start=1):
        counter.note = f"正在转换第 {number}/{len(documents)} 份文书"
        pdf, ofd_data, pages = _as_pdf_and_ofd(blobs, document, counter.page_done)
        stem = f"{number:03d}-{_safe(document.title or document.document_type.name)}"
        for suffix, data, media_type in ((".pdf", pdf, PDF), (".ofd", ofd_data, ofd.MEDIA_TYPE)):
            attachments.append(Attachment(stem + suffix, data, media_type, document.title))
            manifest.append({"file": stem + suffix, "sha256": sha256(data), "size": len(data),
                             "document_id": document.id, "title": document.title,
                             "version": document.current_version.number, "pages": pages})
        entries.append(ListEntry(document.title, pages, manifest[-2]["sha256"], manifest[-1]["sha256"]))
    hospital = hospital_name(session)
    listing = json.dumps({"record_number": record.record_number, "stay": record.stay_number, "seal_id": seal.id,
                          "sealed_at": seal.sealed_at.isoformat() if seal.sealed_at else None,
                          "files": manifest}, ensure_ascii=False, indent=1).encode()
    attachments.append(Attachment(MANIFEST, listing, "application/json", "封存文件清单（SHA-256）"))
    progress(counter.total, counter.total, "正在签章")
    cover = seal_list_pdf(list_facts(session, seal, hospital, entries))
    identity = signing_identity(session, SecretBox(blobs.keyring), hospital)  # type: ignore[attr-defined]
    signed = sign_pdf(attach_files(cover, attachments), identity.key_der, identity.chain_der,
                      reason=f"病案封存（病案号 {record.record_number}）", location=hospital, name=hospital)
    placement = Placement(campus=record.campus.code if record.campus else "main", record_number=record.record_number,
                          stay=record.stay_number, when=utcnow().date(), filename=f"封存件-{seal.id}.pdf")
    seal.manifest = manifest
    seal.package_size = len(signed)
    return blobs.put(io.BytesIO(signed), placement).sha256


def run_package_job(ctx: jobs.JobContext) -> None:
    """The background job: build, then mark the seal's package ready after the last checkpoint."""
    seal = service.get_seal(ctx.session, int(ctx.params["seal_id"]))
    if seal.status != "sealed":
        raise Refusal("病案已解封，不再生成封存件")
    seal.package_status = "building"
    sha = build_seal_package(ctx.session, ctx.blobs, seal.record, seal, ctx.progress)
    seal.package_status, seal.package_sha256, seal.package_built_at = "ready", sha, utcnow()


class _PageCounter:
    """Pages converted so far, told to the job's progress (never a title: the job API is not gated
    by the record)."""

    def __init__(self, progress: Progress, total: int) -> None:
        self.progress, self.total, self.done, self.note = progress, total, 0, ""

    def page_done(self) -> None:
        self.done += 1
        self.progress(min(self.done, self.total), self.total, self.note)


PACKAGE_JOB = jobs.JobKind(service.PACKAGE_JOB, "生成封存件", run_package_job, permission="seal.manage")


def _as_pdf_and_ofd(blobs: BlobStore, document: Document, page_done: Callable[[], None]) -> tuple[bytes, bytes, int]:
    """The stored file as it is where it already is PDF or OFD; otherwise drawn page by page."""
    version = document.current_version
    with blobs.open(version.sha256) as stream:
        data = stream.read()
    if version.media_type == ofd.MEDIA_TYPE:
        pages = ofd.page_count(data)
        for _ in range(pages):
            page_done()
        return ofd.to_pdf(data), data, pages
    dpi = OFD_DPI if version.media_type == PDF else IMAGE_DPI
    drawn = []
    with open_document(data, version.media_type) as opened:
        for number in range(1, opened.page_count() + 1):
            drawn.append((opened.render(number, dpi=dpi), opened.page_text(number, ocr=False)))
            page_done()
    ofd_data = ofd.write_ofd(drawn, title=document.title)
    return (data if version.media_type == PDF else _images_pdf([image for image, _ in drawn])), ofd_data, len(drawn)


def _images_pdf(images: list[Image.Image]) -> bytes:
    out = io.BytesIO()
    rgb = [image.convert("RGB") for image in images]
    rgb[0].save(out, "PDF", resolution=IMAGE_DPI, save_all=True, append_images=rgb[1:])
    return out.getvalue()


def _safe(name: str) -> str:
    return "".join("_" if char in '\\/:*?"<>|' else char for char in name)[:60] or "文书"


def hospital_name(session: Session) -> str:
    return read_setting(session, "appearance").get("hospital_name") or get_settings().hospital_name


def list_facts(session: Session, seal: Seal, hospital: str, entries: list[ListEntry] | None = None) -> SealListFacts:
    """What the seal list prints; ``entries`` from the manifest once the package is built."""
    record = seal.record
    if entries is None:
        ofd_of = {item["file"][:-4]: item["sha256"] for item in seal.manifest if item["file"].endswith(".ofd")}
        entries = [ListEntry(item["title"], item["pages"], item["sha256"], ofd_of[item["file"][:-4]])
                   for item in seal.manifest if item["file"].endswith(".pdf")]
    department = record.discharge_department.name if record.discharge_department else "-"
    return SealListFacts(
        hospital=hospital, record_number=record.record_number, patient=record.patient.name,
        stay=str(record.stay_number), department=department, discharged=local_text(record.discharged_at),
        reason=seal.reason, dispute=seal.dispute,
        scope="整份病案" if seal.document_ids is None else f"所选文书 {len(seal.document_ids)} 份",
        parties=seal.parties, entries=entries, sealed_at=local_text(seal.sealed_at),
        package_sha256=seal.package_sha256)


def open_package(session: Session, blobs: BlobStore, seal: Seal) -> bytes:
    """The signed package, for seal managers (the route is gated by seal_export)."""
    if seal.package_status != "ready":
        raise Conflict(f"封存件{service.PACKAGE_NAMES[seal.package_status]}，请稍后再下载")
    with blobs.open(seal.package_sha256) as stream:
        return stream.read()


def print_seal_list(session: Session, seal: Seal) -> bytes:
    """The seal list for the paper file; before the package is built it lists the documents
    without their hashes (they are known once the package exists)."""
    if seal.manifest:
        return seal_list_pdf(list_facts(session, seal, hospital_name(session)))
    pending = [ListEntry(document.title, document.current_version.page_count, "（封存件生成后列出）",
                         "（封存件生成后列出）") for document in service.sealed_documents(session, seal)]
    return seal_list_pdf(list_facts(session, seal, hospital_name(session), pending))
