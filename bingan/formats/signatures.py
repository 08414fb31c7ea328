"""PDF signatures (PAdES, PKCS#7 detached) verified with pyHanko.

Three checks, and their verdicts:

* the digest over the signed byte range (``tampered`` when it differs), the signature value
  against the embedded certificate (``invalid``); a later incremental update is judged by
  pyHanko's difference analysis (``tampered`` when it changes more than form fields,
  annotations or later signatures; otherwise a note on the verdict). SM2 CMS signatures
  (GB/T 35275), whose CMS pyHanko cannot read, are checked by bingan.formats.ofd.cms and
  their later updates by the same difference analysis;
* an intact signature whose certificate chains to a trusted root is ``valid``;
* an intact signature by a certificate we cannot chain to a trusted root is
  ``unverifiable``, with a reason that starts with ``INTACT_UNTRUSTED``. Not ``valid``:
  anyone can make a certificate that says "李医生", so "valid" would vouch for a forged
  signer. The reason still says the content is unchanged since signing, and callers can
  tell this case from an unreadable signature by that prefix.

Trusted roots: PEM or DER certificates in the file named by BINGAN_SIGNATURE_TRUST_ROOTS
(the hospital CA list; a proper setting can replace the variable later). Nothing is
fetched from the network (no OCSP/CRL): the archive must verify offline.
"""
from __future__ import annotations

import io
import logging
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from bingan.formats.base import Signature
from bingan.formats.options import format_options

log = logging.getLogger(__name__)
# pyHanko logs expected outcomes (no path to a trusted root, suspicious diffs) as errors
# with tracebacks; our verdict carries them, so only its critical messages remain.
logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
logging.getLogger("pyhanko_certvalidator").setLevel(logging.CRITICAL)

TRUST_ROOTS_ENV = "BINGAN_SIGNATURE_TRUST_ROOTS"
INTACT_UNTRUSTED = "签名完整，但签名证书不在受信任列表中"
VALID = "签名有效：文件自签名后未被修改，签名证书受信任"
DIGEST_MISMATCH = "签名后文件内容被修改：签名范围内的数据与签名摘要不符"
BAD_SIGNATURE_VALUE = "签名值与签名证书不符，签名无效"
MODIFIED_AFTER = "签名后文件被增量修改：页面内容或文件结构有变化"
ODD_COVERAGE = "签名范围异常（未覆盖整个文件版本），无法确认内容完整"
UNREADABLE = "签名数据无法解析，无法验证"
REVISIONS_UNREADABLE = "签名后的文件修订无法分析，无法确认签名后未被修改"
APPENDED = "此签名之后追加了签章：变化的只有签名列表或后续签章自己的文件"

# Verdict codes (scripts read them from `bingan inspect --json`) and what users see.
VERDICT_LABELS = {
    "valid": "有效", "tampered": "被篡改", "invalid": "签名无效", "unauthorised": "未经授权",
    "unverifiable": "无法验证", "appended": "后续签章追加",
}


def verdict_label(verdict: str, reason: str, trusted: bool = False) -> str:
    """The Chinese verdict; an intact signature by an untrusted certificate is told apart from
    one that could not be checked at all, and an appended one says which of these it is."""
    if verdict == "unverifiable" and reason.startswith(INTACT_UNTRUSTED):
        return "完整但不受信任"
    if verdict == "appended":
        own = "签名有效" if trusted else "完整但不受信任" if INTACT_UNTRUSTED in reason else "无法验证"
        return f"{VERDICT_LABELS['appended']}（{own}）"
    return VERDICT_LABELS.get(verdict, verdict)


def verify_pdf(data: bytes, listed: list[Signature]) -> list[Signature]:
    """Verdicts for every signature in the file, each listed once however many widgets show
    it; ``listed`` (PDFium's view) when the file defeats pyHanko's parser."""
    try:
        fields = _signature_fields(data)
    except Exception as exc:  # a damaged file: PDFium opened it, pyHanko did not
        log.info("pyHanko cannot read the signatures: %r", exc)
        return _distinct(listed)
    if not fields:
        return _distinct(listed)
    roots = trust_roots()
    fallbacks = listed + [None] * len(fields)
    return [_verify_field(data, reader, field, name, roots, fallbacks[i])
            for i, (reader, field, name) in enumerate(fields)]


def _signature_fields(data: bytes) -> list[tuple[object, object, str]]:
    """(reader, field, name) of each signed field whose signature no earlier field showed,
    in file order; a file encrypted with an empty user password is opened with it."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.fields import enumerate_sig_fields

    reader = PdfFileReader(io.BytesIO(data), strict=False)
    if reader.encrypted:
        reader.decrypt("")
    seen: set[bytes] = set()
    out = []
    for name, value, field in enumerate_sig_fields(reader, filled_status=True):
        contents = _contents(value.get_object())
        if contents in seen:
            continue
        seen.add(contents)
        out.append((reader, field, name))
    return out


def _contents(sig: object) -> bytes:
    """The CMS of a signature dictionary: a string never encrypted (ISO 32000-1 §7.6.1), so
    read raw in an encrypted file."""
    from pyhanko.pdf_utils.generic import EncryptedObjAccess

    try:
        return bytes(sig.raw_get("/Contents", decrypt=EncryptedObjAccess.RAW))  # type: ignore[attr-defined]
    except KeyError:
        return b""


def _distinct(listed: list[Signature]) -> list[Signature]:
    return [s for i, s in enumerate(listed) if s not in listed[:i]]


def _verify_field(data: bytes, reader: object, field: object, name: str, roots: tuple,
                  fallback: Signature | None) -> Signature:
    from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature

    sm2 = _verify_sm2(data, reader, field, name, roots, fallback)
    if sm2 is not None:
        return sm2
    try:
        embedded = EmbeddedPdfSignature(reader, field, name)  # type: ignore[arg-type]
    except Exception as exc:  # unparsable CMS
        log.info("signature not readable: %r", exc)
        return _unreadable(fallback, fallback.kind if fallback else "PDF")
    return _verify(embedded, roots, fallback)


def _unreadable(fallback: Signature | None, kind: str) -> Signature:
    return Signature("unverifiable", UNREADABLE, fallback.signer if fallback else "",
                     fallback.signed_at if fallback else None, kind)


def _verify_sm2(data: bytes, reader: object, field: object, name: str, roots: tuple,
                fallback: Signature | None) -> Signature | None:
    """A signature by an SM2 CMS (GB/T 35275, as Chinese CAs make them), which pyHanko cannot
    read: the SM3 digest of the byte range and the SM2 value over the signed attributes.
    None when the signature is not SM2."""
    from bingan.formats.ofd import certs, cms

    sig = field.get_object()["/V"].get_object()  # type: ignore[attr-defined]
    try:
        message = cms.parse(_contents(sig))
        byte_range = [int(n) for n in sig["/ByteRange"]]
    except (ValueError, KeyError, TypeError):
        return None
    if message.signer["signature_algorithm"]["algorithm"].dotted not in cms.SM2_OIDS:
        return None
    kind = f"PDF {str(sig.get('/SubFilter', '')).lstrip('/')} SM2".replace("  ", " ")
    check = cms.check_sm2(message, b"".join(
        data[start:start + length] for start, length in zip(byte_range[::2], byte_range[1::2], strict=False)))
    signer = certs.common_name(check.cert) or (fallback.signer if fallback else "")
    when = check.signed_at or (fallback.signed_at.replace(tzinfo=None) if fallback and fallback.signed_at else None)
    verdict, reason = _sm2_verdict(check, lambda: _revisions_after(reader, field, name), when, roots)
    return Signature(verdict, reason, signer, when, kind)


def _sm2_verdict(check: object, revisions: Callable[[], object], when: object, roots: tuple) -> tuple[str, str]:
    """The value, then what later revisions changed (pyHanko's analysis, as for every PDF
    signature), then the certificate at signing time and its chain."""
    from datetime import UTC, datetime

    from bingan.formats.ofd import certs

    if check.changed:  # type: ignore[attr-defined]
        return "tampered", DIGEST_MISMATCH
    if check.ok is None:  # type: ignore[attr-defined]
        return "unverifiable", f"{UNREADABLE}：{check.problem}"  # type: ignore[attr-defined]
    if not check.ok:  # type: ignore[attr-defined]
        return "invalid", BAD_SIGNATURE_VALUE
    try:
        info = revisions()
    except Exception as exc:  # a file structure the analysis cannot follow
        log.info("revisions after an SM2 signature not analysable: %r", exc)
        return "unverifiable", REVISIONS_UNREADABLE
    problem, note = _after_signing(info)
    if problem:
        return problem
    cert = check.cert  # type: ignore[attr-defined]
    expired = certs.validity_problem(cert, when or datetime.now(UTC).replace(tzinfo=None))
    if expired:
        return "unverifiable", f"签名时签名证书不在有效期内（{expired}）{note}"
    return _intact(certs.chains(cert, roots), note)


def _revisions_after(reader: object, field: object, name: str) -> object:
    """pyHanko's coverage and difference analysis (a ``ModificationInfo``) of a signature whose
    CMS it cannot parse (SM2): its own checks, run on a view of the signature that skips the
    CMS. The attributes are those ``EmbeddedPdfSignature.__init__`` sets apart from the CMS
    (pyHanko 0.38); the analysis reads only them."""
    from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY
    from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature, extract_contents
    from pyhanko.sign.validation.status import ModificationInfo

    view = EmbeddedPdfSignature.__new__(EmbeddedPdfSignature)
    view.reader, view.fq_name = reader, name
    view.sig_field = field.get_object()  # type: ignore[attr-defined]
    reference = view.sig_field.raw_get("/V")
    view.sig_object = reference.get_object()
    view.byte_range = view.sig_object.raw_get("/ByteRange")
    view.pkcs7_content = extract_contents(view.sig_object)
    view.signed_revision = reader.xrefs.get_last_change(reference.reference)  # type: ignore[attr-defined]
    view._docmdp = view._fieldmdp = None
    view._docmdp_queried = view._fieldmdp_queried = False
    view.coverage = view.evaluate_signature_coverage()
    view.diff_result = view.evaluate_modifications(DEFAULT_DIFF_POLICY)
    view._integrity_checked = True
    return ModificationInfo(**view.summarise_integrity_info())


def _verify(embedded: object, roots: tuple, fallback: Signature | None) -> Signature:
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    kind = _kind(embedded, fallback)
    try:
        context = ValidationContext(trust_roots=list(roots), allow_fetching=False)
        status = validate_pdf_signature(embedded, context)  # type: ignore[arg-type]
    except Exception as exc:  # unsupported algorithm, missing byte range
        log.info("signature not verifiable: %r", exc)
        return _unreadable(fallback, kind)
    verdict, reason = verdict_of(status)
    signed_at = status.signer_reported_dt or (fallback.signed_at if fallback else None)
    return Signature(verdict, reason, _common_name(status), signed_at, kind)


def verdict_of(status: object) -> tuple[str, str]:
    """(verdict, Chinese reason) from a pyHanko ``PdfSignatureStatus``."""

    if not status.intact:  # type: ignore[attr-defined]
        return "tampered", DIGEST_MISMATCH
    if not status.valid:  # type: ignore[attr-defined]
        return "invalid", BAD_SIGNATURE_VALUE
    problem, note = _after_signing(status)
    return problem or _intact(status.trusted, note)  # type: ignore[attr-defined]


def _after_signing(info: object) -> tuple[tuple[str, str] | None, str]:
    """What the revisions after the signed one changed, from pyHanko's ``ModificationInfo``:
    (the verdict when that ends the check, else None; a note for the verdict)."""
    from pyhanko.sign.diff_analysis import ModificationLevel
    from pyhanko.sign.validation.status import SignatureCoverageLevel

    coverage = info.coverage  # type: ignore[attr-defined]
    if coverage is None or coverage < SignatureCoverageLevel.ENTIRE_REVISION:
        return ("unverifiable", ODD_COVERAGE), ""
    level = info.modification_level  # type: ignore[attr-defined]
    if info.docmdp_ok is False or level == ModificationLevel.OTHER:  # type: ignore[attr-defined]
        return ("tampered", MODIFIED_AFTER), ""
    edited = level in (ModificationLevel.FORM_FILLING, ModificationLevel.ANNOTATIONS)
    return None, "；签名后有表单填写或批注" if edited else ""


def _intact(trusted: bool, note: str) -> tuple[str, str]:
    if trusted:
        return "valid", VALID + note
    return "unverifiable", f"{INTACT_UNTRUSTED}（文件自签名后未被修改，但无法确认签名人身份）{note}"


def _kind(embedded: object, fallback: Signature | None) -> str:
    try:
        sub_filter = str(embedded.sig_object.get("/SubFilter", "")).lstrip("/")  # type: ignore[attr-defined]
    except Exception:  # a strange dictionary only costs us the label
        sub_filter = ""
    return f"PDF {sub_filter}".strip() if sub_filter else (fallback.kind if fallback else "PDF")


def _common_name(status: object) -> str:
    try:
        subject = status.signing_cert.subject.native  # type: ignore[attr-defined]
    except Exception:  # no certificate in the blob
        return ""
    return str(subject.get("common_name") or subject.get("organization_name") or "")


def trust_roots() -> tuple:
    """Trusted certificates from BINGAN_SIGNATURE_TRUST_ROOTS (PDF and OFD signatures alike)."""
    path = format_options().signature_trust_roots.strip()
    if not path:
        return ()
    try:
        stamp = Path(path).stat().st_mtime
    except OSError:
        log.warning("%s points to a missing file: %s", TRUST_ROOTS_ENV, path)
        return ()
    return _load_roots(path, stamp)


@lru_cache(maxsize=4)
def _load_roots(path: str, _mtime: float) -> tuple:
    """Certificates of a PEM bundle or one DER file, as asn1crypto objects (pyHanko's)."""
    from asn1crypto import pem
    from asn1crypto import x509 as asn1_x509

    raw = Path(path).read_bytes()
    blobs = [der for _, _, der in pem.unarmor(raw, multiple=True)] if pem.detect(raw) else [raw]
    roots = []
    for blob in blobs:
        try:
            roots.append(asn1_x509.Certificate.load(blob))
        except ValueError:
            log.warning("not a certificate in %s", path)
    return tuple(roots)
