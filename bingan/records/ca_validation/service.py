"""CA-service validation (联机验证, R1): the signing certificate of every signature in a collected
document is also asked about online — the CA's OCSP responder or its validation service — and the
answer kept, with when and whom it asked, beside the local verdict (``Version.signatures``), which
it never changes. Offline (no answer within BINGAN_CA_VALIDATION_TIMEOUT, no responder, an answer
we refuse) the local verdict stands and the kept result says why.

Two steps, so no transaction waits on the network: ``check_file`` (guarded parsing, then the
network; no session) and ``store`` (rows and audit, in the caller's transaction). The collection
pipeline runs both after the local verification; ``bingan ca-check`` re-checks stored versions.
A good or revoked OCSP answer is kept until it expires and reused for every other document the
certificate signed (cache.py); ``ca-check`` asks afresh.
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bingan.access.audit import Actor, record_event
from bingan.clock import local
from bingan.config import Settings
from bingan.formats import guard
from bingan.formats.base import FormatError
from bingan.formats.ofd import certs
from bingan.formats.signatures import trust_roots, verdict_label
from bingan.formats.signer_certificates import SignerCertificates, signing_certificates
from bingan.records.ca_validation import issuers, ocsp, vendor_api
from bingan.records.ca_validation.cache import AnswerCache
from bingan.records.ca_validation.ocsp import Answer
from bingan.storage.models import Document, Version
from bingan.storage.models.ca_validation import SignatureCheck

log = logging.getLogger(__name__)

METHOD_NAMES = {"ocsp": "OCSP", "api": "CA 验证服务"}
STATUS_NAMES = {"good": "有效", "revoked": "已吊销", "unknown": "签发机构不认识此证书"}
# RFC 5280 CRLReason, as cryptography's ReasonFlags values name them.
REVOCATION_REASONS = {
    "unspecified": "未说明", "keyCompromise": "密钥泄露", "cACompromise": "CA 密钥泄露",
    "affiliationChanged": "隶属关系变更", "superseded": "证书已更换", "cessationOfOperation": "停止使用",
    "certificateHold": "暂停使用", "removeFromCRL": "解除暂停", "privilegeWithdrawn": "权限撤销",
    "aACompromise": "属性机构密钥泄露",
}


@dataclass(frozen=True)
class Checked:
    """One signature's online check, before it is stored."""

    index: int  # the signature's place in Version.signatures
    method: str
    answer: Answer
    serial: str = ""
    subject: str = ""
    sha256: str = ""
    checked_at: datetime = field(default_factory=lambda: datetime.now(UTC))


def enabled(settings: Settings) -> bool:
    return settings.ca_validation in METHOD_NAMES


def check_file(settings: Settings, data: bytes, media_type: str, signatures: int, *,
               cache: AnswerCache | None = None, fresh: bool = False) -> list[Checked]:
    """The online checks of a file's signatures (``signatures``: how many the local verification
    found); [] when validation is off or there is none. Network, and the OCSP answers kept in
    ``cache`` (its own short transactions); ``fresh``: ask the CA even so, and keep its answer."""
    if not enabled(settings) or not signatures:
        return []
    return check_certificates(settings, certificates_of(data, media_type), cache=cache, fresh=fresh)


def answer_cache(settings: Settings, engine: Engine) -> AnswerCache:
    """The OCSP answers kept in the database of ``engine`` (cache.py)."""
    return AnswerCache(engine, settings.ocsp_cache_seconds)


def certificates_of(data: bytes, media_type: str) -> list[SignerCertificates]:
    """The signers' certificates, read in a guarded child (the file is untrusted)."""
    try:
        return guard.shared_pool().call(signing_certificates, data, media_type)
    except FormatError:
        return []


def check_certificates(settings: Settings, found: list[SignerCertificates], *,
                       cache: AnswerCache | None = None, fresh: bool = False) -> list[Checked]:
    """One check per signature; a certificate that signs twice in the file is asked about once, and
    a responder that did not answer is not asked again for this file (one timeout, not one a signer)."""
    anchors = tuple(root.dump() for root in trust_roots())
    asked: dict[bytes, tuple[Answer, datetime]] = {}
    silent: dict[str, Answer] = {}  # responder URL → its unanswered question
    out = []
    for index, entry in enumerate(found):
        if entry.signer is None:
            missing = Answer("unreachable", "签名中没有签名证书，无法联机验证")
            out.append(Checked(index, settings.ca_validation, missing))
            continue
        if entry.signer not in asked:
            target = _target(settings, entry.signer)
            answer = silent.get(target) or _ask(settings, entry, anchors, cache, fresh)
            if answer.offline:
                silent[target] = answer
            asked[entry.signer] = (answer, answer.asked_at or datetime.now(UTC))  # a kept answer: when asked
        answer, when = asked[entry.signer]
        serial, subject = _identity(entry.signer)
        out.append(Checked(index, settings.ca_validation, answer, serial, subject,
                           hashlib.sha256(entry.signer).hexdigest(), when))
    return out


def _target(settings: Settings, cert_der: bytes) -> str:
    """The URL the certificate's question goes to."""
    if settings.ca_validation == "api":
        return settings.ca_validation_url
    return settings.ca_ocsp_url or ocsp.responder_url(cert_der)


def _ask(settings: Settings, entry: SignerCertificates, anchors: tuple[bytes, ...],
         cache: AnswerCache | None = None, fresh: bool = False) -> Answer:
    """The answer about one signer; a certificate or an answer we cannot handle costs this check,
    never the collection of the document."""
    try:
        return _asked(settings, entry, anchors, cache, fresh)
    except Exception as error:
        log.exception("online check of a signing certificate failed")
        return Answer("unreachable", f"联机验证时出错（{type(error).__name__}）")


def _asked(settings: Settings, entry: SignerCertificates, anchors: tuple[bytes, ...],
           cache: AnswerCache | None, fresh: bool) -> Answer:
    assert entry.signer is not None
    issuer = issuer_of(entry.signer, entry.others + anchors)
    timeout = settings.ca_validation_timeout
    if settings.ca_validation == "api":
        if not settings.ca_validation_url:
            return Answer("unreachable", "未设置 CA 验证服务地址（BINGAN_CA_VALIDATION_URL）")
        return vendor_api.ask(entry.signer, issuer, settings.ca_validation_url,
                              token=settings.ca_validation_token, timeout=timeout)
    url = _target(settings, entry.signer)
    if not url:
        return Answer("unreachable", "签名证书未注明 OCSP 服务地址，也未设置 BINGAN_CA_OCSP_URL")
    if issuer is None:  # fetched from the certificate's caIssuers address, to ask; trusted only via the roots
        issuer, problem = issuers.fetched_issuer(entry.signer, entry.others, anchors, timeout=timeout)
        if issuer is None:
            return Answer("unreachable", "找不到签名证书的签发机构证书（签名中未附带，也不在受信任证书列表中；"
                          f"{problem}），无法向 OCSP 服务查询", url)
    kept = cache.get(entry.signer, issuer) if cache is not None and not fresh else None
    if kept is not None:
        return kept
    asked_at = datetime.now(UTC)
    answer = replace(ocsp.ask(entry.signer, issuer, url, timeout=timeout), asked_at=asked_at)
    if cache is not None:
        cache.keep(entry.signer, issuer, answer, asked_at)
    return answer


def issuer_of(cert_der: bytes, candidates: tuple[bytes, ...]) -> bytes | None:
    """The candidate that issued the certificate (its name and its signature), or None."""
    return next((c for c in candidates if c != cert_der and certs.issued_by(cert_der, c)), None)


def _identity(cert_der: bytes) -> tuple[str, str]:
    cert = certs.load(cert_der)
    if cert is None:
        return "", ""
    return format(cert.serial_number, "x"), certs.common_name(cert)[:255]


# --- keeping and showing ---------------------------------------------------------------------------


def store(session: Session, actor: Actor, version: Version, checks: list[Checked]) -> list[SignatureCheck]:
    """The checks as rows beside the version's local verdicts, audited as one event."""
    rows = [SignatureCheck(
        version_id=version.id, signature_index=c.index, method=c.method, status=c.answer.status,
        reason=c.answer.reason, responder=c.answer.responder[:500], certificate_serial=c.serial[:80],
        certificate_subject=c.subject, certificate_sha256=c.sha256, revoked_at=c.answer.revoked_at,
        revocation_reason=c.answer.revocation_reason[:32], this_update=c.answer.this_update,
        next_update=c.answer.next_update, checked_at=c.checked_at) for c in checks]
    if not rows:
        return []
    session.add_all(rows)
    document = session.get(Document, version.document_id)
    record_event(session, actor, "signature.online_check", object_type="version", object_id=version.id,
                 record_id=document.record_id if document else None, document_id=version.document_id,
                 detail={"结果": [online_label(row) for row in rows]})
    return rows


def online_label(check: SignatureCheck) -> str:
    """已联机验证（OCSP，2026-12-07 14:03）：有效 — or 未能联机验证（…）：原因；以本地验证结果为准."""
    when = f"{local(check.checked_at):%Y-%m-%d %H:%M}"
    method = METHOD_NAMES.get(check.method, check.method)
    if check.status in ("unreachable", "rejected"):
        return f"未能联机验证（{method}，{when}）：{check.reason}；以本地验证结果为准"
    verdict = STATUS_NAMES.get(check.status, check.status)
    if check.status == "revoked":
        details = []
        if check.revoked_at:
            details.append(f"吊销时间 {local(check.revoked_at):%Y-%m-%d %H:%M}")
        if check.revocation_reason:
            details.append(f"原因：{REVOCATION_REASONS.get(check.revocation_reason, check.revocation_reason)}")
        verdict += f"（{'，'.join(details)}）" if details else ""
    elif check.status == "unknown" and check.reason and check.method == "api":
        verdict += f"（{check.reason}）"
    return f"已联机验证（{method}，{when}）：{verdict}"


@dataclass
class SignatureLine:
    """One signature of a document as the record page shows it."""

    signer: str
    kind: str
    signed_at: str | None
    local: str  # the local verdict, Chinese
    local_ok: bool
    online: SignatureCheck | None

    @property
    def online_text(self) -> str:
        return online_label(self.online) if self.online else "尚未联机验证"

    @property
    def online_state(self) -> str:
        """ok | bad | none: for the page's colour."""
        if self.online is None or self.online.status in ("unreachable", "rejected"):
            return "none"
        return "ok" if self.online.status == "good" else "bad"

    @property
    def signed_before_revocation(self) -> bool:
        """A revocation after the signing time: the signature was made while the certificate stood."""
        if self.online is None or self.online.status != "revoked" or not self.online.revoked_at or not self.signed_at:
            return False
        signed = datetime.fromisoformat(self.signed_at)
        revoked = self.online.revoked_at
        signed = signed if signed.tzinfo else signed.replace(tzinfo=UTC)
        revoked = revoked if revoked.tzinfo else revoked.replace(tzinfo=UTC)
        return signed < revoked


@dataclass
class DocumentSignatures:
    document: Document
    version: Version
    lines: list[SignatureLine]


def record_signatures(session: Session, record_id: int,
                      may_view: Callable[[Document], bool]) -> list[DocumentSignatures]:
    """Each document of the record that ``may_view`` (the gate: category templates) and whose
    current version is signed: its signatures, each with its local verdict and latest online check."""
    rows = session.execute(
        sa.select(Document, Version).join(Version, Version.id == Document.current_version_id)
        .where(Document.record_id == record_id, Document.removed.is_(False)).order_by(Document.id)).all()
    signed = [(d, v) for d, v in rows if v.signatures and may_view(d)]
    latest = _latest_checks(session, [v.id for _, v in signed])
    out = []
    for document, version in signed:
        lines = [SignatureLine(
            signer=s.get("signer") or "", kind=s.get("kind") or "", signed_at=s.get("signed_at"),
            local=verdict_label(s.get("verdict", ""), s.get("reason", ""), bool(s.get("trusted"))),
            local_ok=s.get("verdict") == "valid", online=latest.get((version.id, i)))
            for i, s in enumerate(version.signatures)]
        out.append(DocumentSignatures(document, version, lines))
    return out


def _latest_checks(session: Session, version_ids: list[int]) -> dict[tuple[int, int], SignatureCheck]:
    if not version_ids:
        return {}
    checks = session.scalars(sa.select(SignatureCheck).where(SignatureCheck.version_id.in_(version_ids))
                             .order_by(SignatureCheck.id))
    return {(c.version_id, c.signature_index): c for c in checks}  # the last one wins


def versions_to_check(session: Session, *, record_ids: list[int] | None = None,
                      since: datetime | None = None) -> list[Version]:
    """Current versions with signatures: of some records, or collected since a moment, or all."""
    query = (sa.select(Version).join(Document, Document.current_version_id == Version.id)
             .where(Document.removed.is_(False)).order_by(Version.id))
    if record_ids is not None:
        query = query.where(Document.record_id.in_(record_ids))
    if since is not None:
        query = query.where(Version.collected_at >= since)
    return [v for v in session.scalars(query) if v.signatures]

