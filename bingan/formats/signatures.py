"""PDF signatures (PAdES, PKCS#7 detached) verified with pyHanko.

Three checks, three verdicts:

* the digest over the signed byte range and the signature value against the embedded
  certificate; a later incremental update is judged by pyHanko's difference analysis:
  any failure is ``tampered``;
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
APPENDED = "此签名之后追加了签章：变化的只有签名列表或后续签章自己的文件"

# Verdict codes (scripts read them from `bingan inspect --json`) and what users see.
VERDICT_LABELS = {
    "valid": "有效", "tampered": "被篡改", "invalid": "签名无效", "unauthorised": "未经授权",
    "unverifiable": "无法验证", "appended": "后续签章追加",
}


def verdict_label(verdict: str, reason: str) -> str:
    """The Chinese verdict; an intact signature by an untrusted certificate is told apart from
    one that could not be checked at all."""
    if verdict == "unverifiable" and reason.startswith(INTACT_UNTRUSTED):
        return "完整但不受信任"
    return VERDICT_LABELS.get(verdict, verdict)


def verify_pdf(data: bytes, listed: list[Signature]) -> list[Signature]:
    """Verdicts for every signature pyHanko finds; ``listed`` (PDFium's view) when the file
    defeats pyHanko's parser."""
    try:
        from pyhanko.pdf_utils.reader import PdfFileReader

        embedded = list(PdfFileReader(io.BytesIO(data), strict=False).embedded_signatures)
    except Exception as exc:  # a damaged file: PDFium opened it, pyHanko did not
        log.info("pyHanko cannot read the signatures: %r", exc)
        return listed
    if not embedded:
        return listed
    roots = trust_roots()
    return [_verify(signature, roots, fallback) for signature, fallback in
            zip(embedded, listed + [None] * len(embedded), strict=False)]


def _verify(embedded: object, roots: tuple, fallback: Signature | None) -> Signature:
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    kind = _kind(embedded, fallback)
    try:
        context = ValidationContext(trust_roots=list(roots), allow_fetching=False)
        status = validate_pdf_signature(embedded, context)  # type: ignore[arg-type]
    except Exception as exc:  # unparsable CMS, unsupported algorithm, missing byte range
        log.info("signature not verifiable: %r", exc)
        return Signature("unverifiable", UNREADABLE, fallback.signer if fallback else "",
                         fallback.signed_at if fallback else None, kind)
    verdict, reason = verdict_of(status)
    signed_at = status.signer_reported_dt or (fallback.signed_at if fallback else None)
    return Signature(verdict, reason, _common_name(status), signed_at, kind)


def verdict_of(status: object) -> tuple[str, str]:
    """(verdict, Chinese reason) from a pyHanko ``PdfSignatureStatus``."""
    from pyhanko.sign.diff_analysis import ModificationLevel
    from pyhanko.sign.validation.status import SignatureCoverageLevel

    if not status.intact:  # type: ignore[attr-defined]
        return "tampered", DIGEST_MISMATCH
    if not status.valid:  # type: ignore[attr-defined]
        return "tampered", BAD_SIGNATURE_VALUE
    coverage = status.coverage  # type: ignore[attr-defined]
    if coverage is None or coverage < SignatureCoverageLevel.ENTIRE_REVISION:
        return "unverifiable", ODD_COVERAGE
    level = status.modification_level  # type: ignore[attr-defined]
    if status.docmdp_ok is False or level == ModificationLevel.OTHER:  # type: ignore[attr-defined]
        return "tampered", MODIFIED_AFTER
    edited = level in (ModificationLevel.FORM_FILLING, ModificationLevel.ANNOTATIONS)
    note = "；签名后有表单填写或批注" if edited else ""
    if status.trusted:  # type: ignore[attr-defined]
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
