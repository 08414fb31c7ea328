"""Exports (导出, F3/F4/R5/S14): a record, chosen documents or many records as watermarked, signed
files in one zip, made by a background job with progress.

    job = start_export(session, actor, user, subject, records, ExportForm(...))  # checked, queued
    run_export_job(ctx)                                                           # the worker

Each document's current version becomes, page by page, a watermarked image (the audience's
watermark chosen per request, the exporting user and the time on every page, the invisible
payload of who and when): as PDF signed with the hospital's certificate (PAdES) and/or as OFD
sealed with the hospital's SM2 electronic seal (GB/T 38540), so `bingan inspect` shows whether
a file changed since. Videos and other files without pages go in as they are. The zip holds a
manifest of every file's SHA-256 and the certificates verifiers trust. Sealed records are never
exported. The gate ("export", per record) is the web layer's, before this module is called;
documents of categories the user may not export are left out, or refused when chosen by name.
"""
from __future__ import annotations

import io
import json
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from PIL import Image, ImageDraw, ImageFont
from sqlalchemy.orm import Session

from bingan import clock
from bingan.access.audit import Actor, record_event
from bingan.access.policy import Subject, decide_for
from bingan.access.sealed_secrets import SecretBox
from bingan.config import get_settings
from bingan.errors import Refusal
from bingan.formats import ofd, watermark
from bingan.formats.base import FormatError, PageText
from bingan.formats.ofd.signing import SealFacts, seal_ofd
from bingan.formats.pades import sha256, sign_pdf
from bingan.records import jobs
from bingan.records.hospital_certificate import certificate_pem, seal_certificate_pem, seal_key, signing_identity
from bingan.records.pages import PageRenderer
from bingan.records.release import output, rules
from bingan.storage.models import Category, Document, DocumentType, Page, Record, User, Version
from bingan.storage.models.jobs import Job

EXPORT_JOB = "record_export"
FORMATS = {"pdf": "PDF（PAdES 签名）", "ofd": "OFD（SM2 电子签章）"}
MAX_RECORDS = 200
MAX_WATERMARK = 100
MANIFEST = "manifest.json"
SEAL_NAME = "病案导出专用章"
CERTIFICATES = {"pdf": "证书/PDF签名证书.pem", "ofd": "证书/OFD电子印章证书.pem"}
GREY = (90, 90, 90)
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class ExportForm:
    """What to export: whole records, or only ``document_ids``, or only ``categories`` (codes or
    names); ``formats`` pdf and/or ofd; ``watermark`` the audience's words (e.g. 仅供某某保险公司理赔使用)."""

    record_ids: list[int]
    formats: Sequence[str] = ("pdf", "ofd")
    watermark: str = ""
    document_ids: list[int] | None = None
    categories: list[str] | None = None


def start_export(session: Session, actor: Actor, user: User, subject: Subject, records: list[Record],
                 form: ExportForm) -> Job:
    """Check everything, then queue the job with the exact versions to export."""
    _check_records(records)
    formats = _formats(form.formats)
    mark = (form.watermark or "").strip()
    if len(mark) > MAX_WATERMARK:
        raise Refusal(f"水印文字不能超过 {MAX_WATERMARK} 字")
    items = _items(session, subject, records, form)
    params = {"formats": formats, "watermark": mark or "仅供指定用途使用",
              "items": [{"record_id": d.record_id, "document_id": d.id, "version_id": d.current_version_id}
                        for d in items]}
    job = jobs.start(session, actor, EXPORT_JOB, params, owner=user,
                     record_id=records[0].id if len(records) == 1 else None)
    for record in records:
        record_event(session, actor, "export.request", object_type="job", object_id=job.id, record_id=record.id,
                     detail={"格式": "、".join(FORMATS[f] for f in formats), "水印": params["watermark"],
                             "文书数": sum(1 for d in items if d.record_id == record.id)})
    return job


def _check_records(records: list[Record]) -> None:
    if not records:
        raise Refusal("请选择要导出的病案")
    if len(records) > MAX_RECORDS:
        raise Refusal(f"一次最多导出 {MAX_RECORDS} 份病案")
    if len({record.id for record in records}) != len(records):
        raise Refusal("所选病案有重复")
    for number, record in enumerate(records, start=1):
        if record.sealed:
            raise Refusal(f"所选第{number}份病案已封存，封存的病案一律不予导出")


def _formats(given: Sequence[str]) -> list[str]:
    named = {str(value).strip().lower() for value in given}
    if not named or named - FORMATS.keys():
        raise Refusal("导出格式应为 pdf、ofd 之一或两者")
    return [code for code in FORMATS if code in named]


def _items(session: Session, subject: Subject, records: list[Record], form: ExportForm) -> list[Document]:
    """The documents with content of the chosen records, in filing order, that the user may export."""
    if form.document_ids is not None and form.categories is not None:
        raise Refusal("请在文书（document_ids）和分类（categories）中选择一种导出范围，或都不选（整份病案）")
    if form.categories is not None and not form.categories:
        raise Refusal("请选择要导出的病案分类")
    wanted = set(rules.resolve_categories(session, form.categories)) if form.categories is not None else None
    rows = session.execute(
        sa.select(Document, Category.code).join(DocumentType, DocumentType.id == Document.document_type_id)
        .join(Category, Category.id == DocumentType.category_id)
        .where(Document.record_id.in_([record.id for record in records]), Document.removed.is_(False),
               Document.current_version_id.is_not(None))
        .order_by(Document.record_id, Category.filing_order, DocumentType.filing_order, Document.id)).all()
    by_id = {record.id: record for record in records}
    if form.document_ids is not None:
        return _chosen_documents(subject, by_id, [document for document, _ in rows], form.document_ids)
    items = [document for document, code in rows if (wanted is None or code in wanted)
             and decide_for(subject, "export", by_id[document.record_id], document=document)]
    for number, record in enumerate(records, start=1):
        if not any(document.record_id == record.id for document in items):
            raise Refusal(f"所选第{number}份病案（{record.record_number}）中没有可导出的文书")
    return items


def _chosen_documents(subject: Subject, records: dict[int, Record], documents: list[Document],
                      chosen: list[int]) -> list[Document]:
    if not chosen:
        raise Refusal("请选择要导出的文书")
    found = {document.id: document for document in documents}
    if not set(chosen) <= set(found):
        raise Refusal("所选文书不属于所选病案，或已撤回、尚无内容")
    for document_id in chosen:
        decision = decide_for(subject, "export", records[found[document_id].record_id], document=found[document_id])
        if not decision:
            raise Refusal(f"“{found[document_id].title}”不能导出：{decision.reason_zh}")
    return [document for document in documents if document.id in set(chosen)]


# --- the job ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Exporter:
    """Who exports, when, for whom: what every page says."""

    hospital: str
    name: str
    user_id: int
    when: datetime
    audience: str

    @property
    def lines(self) -> tuple[str, ...]:
        return (f"{self.hospital} 病案导出件 · {self.audience}",
                f"导出人 {self.name} · {clock.local(self.when):%Y-%m-%d %H:%M}")


def run_export_job(ctx: jobs.JobContext) -> None:
    """The background job: every file into one zip with its manifest, then (after the last
    checkpoint) the export events on each record's timeline and print register."""
    session, params = ctx.session, ctx.params
    versions = _versions(session, params["items"])
    records = {record.id: record for record in session.scalars(
        sa.select(Record).where(Record.id.in_(sorted({item["record_id"] for item in params["items"]}))))}
    for record in records.values():
        if record.sealed:
            raise Refusal(f"病案 {record.record_number} 已封存，封存的病案一律不予导出")
    owner = session.get(User, ctx.job.owner_id)
    name = f"{owner.full_name or owner.username}（{owner.staff_number or owner.username}）"
    exporter = Exporter(output.hospital_name(session), name, owner.id, clock.now(), params["watermark"])
    writer = _Writer(ctx, exporter, params["formats"], versions)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "export.zip"
        writer.write(path, records)
        ctx.store_result(path, f"病案导出-{ctx.job.id}.zip", "application/zip")
    actor = Actor.of(owner)
    for document, version in versions:
        record_event(session, actor, "export", object_type="document", object_id=document.id,
                     record_id=document.record_id, document_id=document.id,
                     detail={"版本": version.number, "页码": "全部", "为谁": params["watermark"],
                             "格式": "、".join(FORMATS[f] for f in params["formats"]), "导出任务": ctx.job.id})


def _versions(session: Session, items: list[dict]) -> list[tuple[Document, Version]]:
    """The versions chosen when the export was asked for, in its order (a later version does not
    change what was asked)."""
    documents = {d.id: d for d in session.scalars(sa.select(Document).where(
        Document.id.in_([item["document_id"] for item in items])))}
    versions = {v.id: v for v in session.scalars(sa.select(Version).where(
        Version.id.in_([item["version_id"] for item in items])))}
    return [(documents[item["document_id"]], versions[item["version_id"]]) for item in items
            if item["document_id"] in documents and item["version_id"] in versions]


class _Writer:
    """Writes the zip: one folder per record, each document as PDF and/or OFD (pages) or as it is."""

    def __init__(self, ctx: jobs.JobContext, exporter: Exporter, formats: list[str],
                 versions: list[tuple[Document, Version]]) -> None:
        self.ctx, self.exporter, self.formats, self.versions = ctx, exporter, formats, versions
        self.renderer = PageRenderer(get_settings(), ctx.blobs)
        self.total = sum(max(v.page_count, 1) for _, v in versions if _paged(v))
        self.done = 0
        self.manifest: list[dict] = []

    def write(self, path: Path, records: dict[int, Record]) -> None:
        session, hospital = self.ctx.session, self.exporter.hospital
        box = SecretBox(self.ctx.blobs.keyring)  # type: ignore[attr-defined]
        pdf_key = signing_identity(session, box, hospital) if "pdf" in self.formats else None
        ofd_key = seal_key(session, box, hospital) if "ofd" in self.formats else None
        folders = _folders(records)
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
            for number, (document, version) in enumerate(self.versions, start=1):
                stem = f"{folders[document.record_id]}/{number:03d}-{_safe(document.title)}"
                for name, data in self._files(document, version, stem, pdf_key, ofd_key):
                    self._add(archive, name, data, records[document.record_id], document, version)
            self.ctx.progress(self.total, self.total, "正在写入文件清单")
            for kind, name in CERTIFICATES.items():
                if kind in self.formats:
                    pem = (certificate_pem if kind == "pdf" else seal_certificate_pem)(session, box, hospital)
                    archive.writestr(name, pem)
            archive.writestr(MANIFEST, self._manifest(), zipfile.ZIP_DEFLATED)

    def _files(self, document: Document, version: Version, stem: str, pdf_key, ofd_key):
        """(name, bytes) of the document's files."""
        if not _paged(version):
            with self.ctx.blobs.open(version.sha256) as stream:
                yield f"{stem}{_suffix(version.media_type)}", stream.read()
            return
        pages = self._stamped_pages(document, version)
        reason = f"病案导出（{document.title}，第{version.number}版）"
        if pdf_key is not None:
            yield f"{stem}.pdf", sign_pdf(_pdf(pages), pdf_key.key_der, pdf_key.chain_der, reason=reason,
                                          location=self.exporter.hospital, name=self.exporter.hospital)
        if ofd_key is not None:
            texts = dict(self.ctx.session.execute(
                sa.select(Page.number, Page.text).where(Page.version_id == version.id)).all())
            facts = SealFacts(SEAL_NAME, _png(output.seal_picture(self.ctx.session, self.exporter.hospital)),
                              _validity(ofd_key.certificate))
            unsigned = ofd.write_ofd(_OfdPages(pages, texts), title=document.title,  # type: ignore[arg-type]
                                     page_size_mm=_sheet_mm(pages[0]))
            yield f"{stem}.ofd", seal_ofd(unsigned, ofd_key, facts, self.exporter.when)

    def _stamped_pages(self, document: Document, version: Version) -> list[bytes]:
        """Each page watermarked for this export, as JPEG (one page image in memory at a time)."""
        count = max(version.page_count, 1)
        out = []
        for page in range(1, count + 1):
            try:
                base = self.renderer.base(version.sha256, version.media_type, page)
            except FormatError as exc:
                raise Refusal(f"“{document.title}”第{page}页无法转换：{exc.message}") from exc
            footer = f"{document.title} 第{page}/{count}页 · {self.exporter.lines[1]}"
            out.append(output.jpeg(stamp(base, self.exporter, footer)))
            self.done += 1
            self.ctx.progress(self.done, self.total, f"正在导出第 {self.done}/{self.total} 页")
        return out

    def _add(self, archive: zipfile.ZipFile, name: str, data: bytes, record: Record, document: Document,
             version: Version) -> None:
        archive.writestr(name, data)
        self.manifest.append({"file": name, "sha256": sha256(data), "size": len(data),
                              "record_number": record.record_number, "stay": record.stay_number,
                              "document_id": document.id, "title": document.title, "version": version.number,
                              "pages": version.page_count, "format": name.rsplit(".", 1)[-1]})

    def _manifest(self) -> str:
        exporter = self.exporter
        return json.dumps({"hospital": exporter.hospital, "exported_at": clock.iso(exporter.when),
                           "exported_by": exporter.name, "watermark": exporter.audience,
                           "formats": self.formats, "job_id": self.ctx.job.id, "files": self.manifest,
                           "certificates": [CERTIFICATES[kind] for kind in self.formats]},
                          ensure_ascii=False, indent=1)


def stamp(page: Image.Image, exporter: Exporter, footer: str) -> Image.Image:
    """The audience's watermark and the exporter across the page, who and when hidden in it, the
    exporter and the page named in the footer."""
    marked = watermark.embed_invisible(page.convert("RGB"), watermark.Payload.at(exporter.user_id, exporter.when))
    marked = watermark.apply_visible(marked, exporter.lines)
    font = ImageFont.truetype(watermark.FONT_PATH, max(11, marked.width // 70))
    ImageDraw.Draw(marked).text((marked.width // 30, marked.height - marked.height // 60), footer, font=font,
                                fill=GREY, anchor="ld")
    return marked


def _paged(version: Version) -> bool:
    return not version.media_type.startswith(("video/", "audio/"))


def _pdf(pages: list[bytes]) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4, invariant=1)
    for data in pages:
        image = ImageReader(io.BytesIO(data))
        output.place_on_a4(pdf, image, image.getSize(), A4)
    pdf.save()
    return out.getvalue()


class _OfdPages(Sequence):
    """The stamped pages for write_ofd, each decoded only when the writer reaches it."""

    def __init__(self, pages: list[bytes], texts: dict[int, str]) -> None:
        self.pages, self.texts = pages, texts

    def __len__(self) -> int:
        return len(self.pages)

    def __getitem__(self, index: int) -> tuple[Image.Image, PageText]:  # type: ignore[override]
        if not 0 <= index < len(self.pages):
            raise IndexError(index)
        return Image.open(io.BytesIO(self.pages[index])), PageText(index + 1, self.texts.get(index + 1, ""))


def _sheet_mm(first_page: bytes) -> tuple[float, float]:
    """The OFD's page size: the first page's proportions with its long side as long as A4's."""
    width, height = Image.open(io.BytesIO(first_page)).size
    scale = 297 / max(width, height)
    return width * scale, height * scale


def _validity(certificate: bytes) -> tuple[datetime, datetime]:
    from cryptography import x509

    cert = x509.load_der_x509_certificate(certificate)
    return cert.not_valid_before_utc, cert.not_valid_after_utc


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _folders(records: dict[int, Record]) -> dict[int, str]:
    """病案号-住院次数 per record; the record's id added where two share it (two campuses)."""
    names = {rid: _safe(f"{record.record_number}-{record.stay_number}") for rid, record in records.items()}
    taken = [name for name in names.values()]
    return {rid: name if taken.count(name) == 1 else f"{name}-{rid}" for rid, name in names.items()}


def _safe(name: str) -> str:
    return "".join("_" if char in '\\/:*?"<>|' else char for char in (name or ""))[:60] or "文书"


def _suffix(media_type: str) -> str:
    return {"video/mp4": ".mp4", "video/webm": ".webm", "video/quicktime": ".mov", "video/x-msvideo": ".avi",
            "video/mpeg": ".mpg", "audio/mpeg": ".mp3"}.get(media_type, ".bin")


EXPORT_KIND = jobs.JobKind(EXPORT_JOB, "导出病案", run_export_job)
