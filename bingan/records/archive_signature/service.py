"""The archive signature (归档签章, EMR level 6 item 09.02.6: every final record carries a reliable
electronic signature with a trusted timestamp).

When a record is archived — QC passed, a digitised record archived in one step, a recalled
record archived again — the life cycle queues a background job that builds the manifest (the
record's identity and every current document version's SHA-256), re-reads each blob to be sure
it is what its hash says, signs the manifest as a detached CMS by the archiving reviewer through
the signing port, adds an RFC 3161 timestamp of the signature from the configured TSA, and keeps
manifest and signature as blobs beside the record's files. A re-archive signs again; earlier
signatures stay.

Verification (on the record page and in ``bingan verify``) checks the signature, its timestamp,
and the manifest against the current documents and their blobs, naming any document whose
content is no longer what was signed. With BINGAN_ARCHIVE_SIGNED_COPY the job also keeps a signed
archive copy — one PDF of the record signed through the same port (signed_copy.py) — which
verification checks too.
"""
from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from bingan.access.audit import Actor, record_event
from bingan.access.sealed_secrets import SecretBox
from bingan.config import Settings, get_settings
from bingan.errors import NotFound, Refusal
from bingan.formats import pades, signing, signing_check
from bingan.formats.signing_remote import TsaClient
from bingan.records import jobs
from bingan.records.archive_signature import authority, signed_copy
from bingan.storage.blobs.port import BlobError, BlobStore, Placement
from bingan.storage.models import AuditEvent, Document, Record, User, utcnow
from bingan.storage.models.archive_signature import ArchiveSignature
from bingan.storage.models.jobs import Job
from bingan.storage.verify import BLOB_REFERENCES

JOB = "archive.sign"
MANIFEST_FORMAT = "bingan-archive-manifest/1"
Progress = Callable[[int, int, str], None]

BLOB_REFERENCES.append(lambda session: session.scalars(sa.select(ArchiveSignature.manifest_sha256)))
BLOB_REFERENCES.append(lambda session: session.scalars(sa.select(ArchiveSignature.signature_sha256)))
BLOB_REFERENCES.append(lambda session: session.scalars(
    sa.select(ArchiveSignature.copy_sha256).where(ArchiveSignature.copy_sha256.is_not(None))))


@dataclass
class Verdict:
    """A verification: ``problems`` in Chinese, each naming what failed (a document, the signature)."""

    problems: list[str] = field(default_factory=list)
    check: signing_check.SignatureCheck | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def text(self) -> str:
        if self.problems:
            return "验证未通过：" + "；".join(self.problems)
        notes = [self.check.trust_note, self.check.timestamp_note] if self.check else []
        return "验证通过" + "".join(f"（{note}）" for note in notes if note)


def queue_signature(session: Session, actor: Actor, record: Record) -> None:
    """The life cycle's hook on archiving: the worker signs as the archiving reviewer. A move by the
    system itself (a data migration) has no reviewer to sign."""
    if actor.user_id is None:
        return
    jobs.start(session, actor, JOB, {"record_id": record.id, "signer_id": actor.user_id},
               owner=session.get(User, actor.user_id), record_id=record.id)


def run_job(ctx: jobs.JobContext) -> None:
    record = ctx.session.get(Record, int(ctx.params["record_id"]))
    if record is None or record.status != "archived":
        return  # recalled (or gone) before the worker came to it: the next archive signs
    user = ctx.session.get(User, int(ctx.params["signer_id"]))
    if user is None:
        raise Refusal("归档人的账户已不存在，无法签章")
    sign_record(ctx.session, ctx.blobs, get_settings(), record, user, ctx.progress)


SIGN_JOB = jobs.JobKind(JOB, "归档签章", run_job)


def queue_missing(session: Session, actor: Actor) -> list[int]:
    """补签: a signing job for every archived record whose current archive has no signature and no
    job under way (archived before signing was installed, or its job failed: the TSA was down), by
    whoever archived it (the audit trail's last move to 已归档). Returns the records queued."""
    signed = sa.select(ArchiveSignature.id).where(ArchiveSignature.record_id == Record.id,
                                                  ArchiveSignature.archived_at == Record.archived_at)
    working = sa.select(Job.id).where(Job.record_id == Record.id, Job.kind == JOB, Job.state.in_(("queued", "running")))
    queued = []
    for record in session.scalars(sa.select(Record).where(Record.status == "archived", ~signed.exists(),
                                                          ~working.exists()).order_by(Record.id)):
        archiver = _archiving_user(session, record.id)
        if archiver is not None:
            jobs.start(session, actor, JOB, {"record_id": record.id, "signer_id": archiver},
                       owner=session.get(User, archiver), record_id=record.id)
            queued.append(record.id)
    return queued


def _archiving_user(session: Session, record_id: int) -> int | None:
    moves = session.scalars(sa.select(AuditEvent).where(
        AuditEvent.record_id == record_id, AuditEvent.action == "status", AuditEvent.user_id.is_not(None))
        .order_by(AuditEvent.id.desc()))
    return next((event.user_id for event in moves if event.detail.get("新状态") == "已归档"), None)


def sign_record(session: Session, blobs: BlobStore, settings: Settings, record: Record, user: User,
                progress: Progress) -> ArchiveSignature:
    """Manifest, signature and timestamp of ``record`` as archived now, by ``user``."""
    hospital = authority.hospital_name(session, settings)
    documents = current_documents(session, record.id)
    for number, document in enumerate(documents, start=1):
        try:  # never sign a hash whose file is already not what it says
            blobs.check(document.current_version.sha256)
        except BlobError as exc:
            raise Refusal(f"不能签章：文书《{document.title}》的文件已损坏（{exc}）") from exc
        progress(number, len(documents) + 1, "正在核对文书文件")
    manifest = manifest_bytes(record, documents, hospital)
    signer = authority.signer_for(session, SecretBox(blobs.keyring), settings, user, hospital)  # type: ignore[attr-defined]
    try:
        signature = _signed(signer, manifest, settings.tsa_url)
    except signing.SigningError as exc:
        raise Refusal(f"签章失败：{exc}") from exc
    check = signing_check.check(signature, manifest, authority.trust_roots(session))
    if not check.intact:
        raise Refusal(f"签名服务返回的签名无效：{check.problem}")
    copy = None
    if settings.archive_signed_copy:
        progress(len(documents), len(documents) + 1, "正在生成签章归档副本")
        copy = _signed_copy(session, blobs, settings, record, documents, manifest, signer, check.signer)
    progress(len(documents) + 1, len(documents) + 1, "签章完成")
    stored = _keep(session, blobs, settings, record, user, documents, manifest, signature, check)
    if copy is not None:
        stored.copy_sha256 = _put(blobs, record, copy, signed_copy.FILENAME)
    return stored


def _signed(signer: signing.Signer, manifest: bytes, tsa_url: str) -> bytes:
    """The port's detached CMS over ``manifest``, with the TSA's timestamp of its signature value."""
    algorithm = signing.digest_algorithm(signer.chain()[0])
    return _stamped(signer, signing.digest(algorithm, manifest), algorithm, tsa_url)


def _stamped(signer: signing.Signer, digest_value: bytes, algorithm: str, tsa_url: str) -> bytes:
    """The port's detached CMS over content of that digest, with the TSA's timestamp of its value."""
    signature = signer.sign(digest_value, algorithm)
    if not tsa_url:
        return signature
    value, value_algorithm = signing.signature_value(signature)
    return signing.with_timestamp(signature, TsaClient(tsa_url).stamp(value, value_algorithm))


def _signed_copy(session: Session, blobs: BlobStore, settings: Settings, record: Record, documents: list[Document],
                 manifest: bytes, signer: signing.Signer, signer_name: str) -> bytes:
    """The signed archive copy (signed_copy.py), PDF-signed by the same port and TSA, checked as
    ``verify`` will check it before it is kept."""
    algorithm = signing.digest_algorithm(signer.chain()[0])
    unsigned = signed_copy.unsigned_copy(blobs, record, documents, manifest, signer_name)
    try:
        copy = pades.sign_pdf_through(
            unsigned, lambda value: _stamped(signer, value, algorithm, settings.tsa_url), algorithm,
            reason=f"病案归档签章（病案号 {record.record_number} 第{record.stay_number}次）",
            location=authority.hospital_name(session, settings), name=signer_name)
    except signing.SigningError as exc:
        raise Refusal(f"签章归档副本签章失败：{exc}") from exc
    problems = copy_problems(copy, manifest, authority.trust_roots(session))
    if problems:
        raise Refusal(f"签章归档副本无效：{'；'.join(problems)}")
    return copy


def copy_problems(copy: bytes, manifest: bytes, roots: tuple) -> list[str]:
    """The copy's last signature covers all of it, is intact and trusted, and the manifest it
    carries is the one the archive signature signed."""
    found = pades.last_signature(copy)
    if found.problem:
        return [found.problem]
    check = signing_check.check(found.cms, found.covered, roots)
    if not check.intact:
        return [f"签名无效：{check.problem}"]
    problems = [] if check.trusted else [check.trust_note]
    if pades.attached_files(copy).get(signed_copy.SIGNED_MANIFEST) != manifest:
        problems.append("所附清单与归档签章所签的清单不同")
    return problems


def _keep(session: Session, blobs: BlobStore, settings: Settings, record: Record, user: User,
          documents: list[Document], manifest: bytes, signature: bytes,
          check: signing_check.SignatureCheck) -> ArchiveSignature:
    stored = ArchiveSignature(
        record_id=record.id, signer_id=user.id, signer_name=check.signer[:100] or user.full_name,
        certificate_subject=check.signer[:255], adapter=settings.signing, documents=len(documents),
        manifest_sha256=_put(blobs, record, manifest, "归档签章清单.json"),
        signature_sha256=_put(blobs, record, signature, "归档签章.p7s"),
        signed_at=utcnow(), timestamp_at=check.timestamp.replace(tzinfo=UTC) if check.timestamp else None,
        timestamp_authority=check.timestamp_authority[:255],
        archived_at=record.archived_at)
    session.add(stored)
    session.flush()
    record_event(session, Actor.of(user), "archive.sign", object_type="archive_signature", object_id=stored.id,
                 record_id=record.id, detail={"签章人": stored.signer_name, "文书数": len(documents),
                                              "时间戳": stored.timestamp_authority or "无"})
    return stored


def _put(blobs: BlobStore, record: Record, data: bytes, filename: str) -> str:
    placement = Placement(campus=record.campus.code if record.campus else "main", record_number=record.record_number,
                          stay=record.stay_number, when=utcnow().date(), filename=filename)
    return blobs.put(io.BytesIO(data), placement).sha256


def current_documents(session: Session, record_id: int) -> list[Document]:
    return list(session.scalars(sa.select(Document).where(
        Document.record_id == record_id, Document.removed.is_(False), Document.current_version_id.is_not(None))
        .options(selectinload(Document.current_version)).order_by(Document.id)))  # one query, not one per document


def manifest_bytes(record: Record, documents: list[Document], hospital: str) -> bytes:
    """The signed content: canonical JSON (sorted keys, UTF-8) of the record's identity and its
    documents' current versions."""
    listing = {
        "format": MANIFEST_FORMAT, "hospital": hospital, "record_id": record.id,
        "record_number": record.record_number, "stay_number": record.stay_number,
        "patient": record.patient.name if record.patient else "",
        "archived_at": record.archived_at.isoformat() if record.archived_at else None,
        "documents": [{"document_id": d.id, "title": d.title, "version": d.current_version.number,
                       "sha256": d.current_version.sha256, "pages": d.current_version.page_count,
                       "media_type": d.current_version.media_type} for d in documents],
    }
    return json.dumps(listing, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


# --- verification -------------------------------------------------------------------------------

def latest(session: Session, record_id: int) -> ArchiveSignature | None:
    return session.scalars(sa.select(ArchiveSignature).where(ArchiveSignature.record_id == record_id)
                           .order_by(ArchiveSignature.id.desc())).first()


def signatures_of(session: Session, record_id: int) -> list[ArchiveSignature]:
    return list(session.scalars(sa.select(ArchiveSignature).where(ArchiveSignature.record_id == record_id)
                                .order_by(ArchiveSignature.id.desc())))


def unfinished_job(session: Session, record_id: int) -> Job | None:
    """The record's latest signing job while it waits, runs or after it failed (the panel says so)."""
    job = session.scalars(sa.select(Job).where(Job.record_id == record_id, Job.kind == JOB)
                          .order_by(Job.id.desc())).first()
    return job if job is not None and job.state != "done" else None


def verify(session: Session, blobs: BlobStore, signature: ArchiveSignature, *, rehash: bool = True) -> Verdict:
    """The signature over its manifest; and, when it seals the record's current archive, the
    manifest against the current documents and their files."""
    try:
        manifest = _read(blobs, signature.manifest_sha256)
        cms = _read(blobs, signature.signature_sha256)
    except BlobError as exc:
        return Verdict([f"签章文件缺失或已损坏：{exc}"])
    roots = authority.trust_roots(session)
    check = signing_check.check(cms, manifest, roots)
    verdict = Verdict([] if check.intact else [f"签名无效：{check.problem}"], check)
    if check.intact and not check.trusted:
        verdict.problems.append(check.trust_note)
    if check.intact and _seals_the_current_archive(session, signature):
        verdict.problems += _against_current(session, blobs, json.loads(manifest), rehash)
    if signature.copy_sha256:
        verdict.problems += [f"签章归档副本：{problem}" for problem in _copy_check(blobs, signature, manifest, roots,
                                                                               rehash)]
    return verdict


def _copy_check(blobs: BlobStore, signature: ArchiveSignature, manifest: bytes, roots: tuple,
                rehash: bool) -> list[str]:
    """The kept copy: its file as stored (a byte in the signature's padding is covered by nothing
    else), then ``copy_problems``."""
    try:
        if rehash:
            blobs.check(signature.copy_sha256)
        copy = _read(blobs, signature.copy_sha256)
    except BlobError as exc:
        return [f"文件缺失、已损坏或被改动（{exc}）"]
    return copy_problems(copy, manifest, roots)


def _seals_the_current_archive(session: Session, signature: ArchiveSignature) -> bool:
    """The record is archived and this is the signature of that archive (not of one before a
    recall, nor an older one while the new archive's job is still to run)."""
    record = signature.record
    return (record.status == "archived" and signature.archived_at == record.archived_at
            and latest(session, record.id) is signature)


def _read(blobs: BlobStore, sha256: str) -> bytes:
    with blobs.open(sha256) as stream:
        return stream.read()


def _against_current(session: Session, blobs: BlobStore, manifest: dict, rehash: bool) -> list[str]:
    current = {document.id: document for document in current_documents(session, manifest["record_id"])}
    problems = []
    for entry in manifest["documents"]:
        document = current.pop(entry["document_id"], None)
        name = f"文书《{entry['title']}》（第{entry['version']}版）"
        if document is None:
            problems.append(f"{name}：签章后已不在病案中")
        elif document.current_version.sha256 != entry["sha256"]:
            problems.append(f"{name}：当前版本与签章时不同")
        elif rehash:
            problems += _blob_problem(blobs, entry["sha256"], name)
    problems += [f"文书《{document.title}》：签章后新增，不在签章清单中" for document in current.values()]
    return problems


def _blob_problem(blobs: BlobStore, sha256: str, name: str) -> list[str]:
    try:
        blobs.check(sha256)
    except BlobError as exc:
        return [f"{name}：文件已损坏或被改动，与签章时不符（{exc}）"]
    return []


def signed_copy_of(session: Session, blobs: BlobStore, record: Record) -> tuple[ArchiveSignature, bytes]:
    """The latest signature's signed archive copy, for download."""
    signature = latest(session, record.id)
    if signature is None or not signature.copy_sha256:
        raise NotFound("该病案没有签章归档副本（需开启 BINGAN_ARCHIVE_SIGNED_COPY，归档签章时生成）")
    try:
        return signature, _read(blobs, signature.copy_sha256)
    except BlobError as exc:
        raise Refusal(f"签章归档副本文件缺失或已损坏：{exc}") from exc


def verify_record(session: Session, blobs: BlobStore, actor: Actor, record: Record) -> Verdict:
    """验证 on the record page: the latest signature, the verdict kept with its time and audited."""
    signature = latest(session, record.id)
    if signature is None:
        raise Refusal("该病案尚无归档签章")
    verdict = verify(session, blobs, signature)
    signature.checked_at, signature.check_result = utcnow(), verdict.text()
    record_event(session, actor, "archive.verify", object_type="archive_signature", object_id=signature.id,
                 record_id=record.id, detail={"结果": verdict.text()[:500]})
    return verdict


def verify_all(session: Session, blobs: BlobStore, *, rehash: bool = True) -> list[str]:
    """For ``bingan verify``: every archive signature, each problem prefixed by the record."""
    problems = []
    for signature in session.scalars(sa.select(ArchiveSignature).order_by(ArchiveSignature.id)):
        record = signature.record
        problems += [f"病案 {record.record_number} 第{record.stay_number}次 归档签章 {signature.id}：{problem}"
                     for problem in verify(session, blobs, signature, rehash=rehash).problems]
    return problems
