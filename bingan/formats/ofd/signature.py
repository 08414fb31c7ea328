"""OFD signatures (GB/T 33190 §18, GB/T 38540 SES): listing, verification and seal stamps."""
from __future__ import annotations

import base64
import binascii
import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from xml.etree.ElementTree import Element

from asn1crypto import x509

from bingan.formats.base import FormatError, Signature
from bingan.formats.ofd import certs, cms, timestamp
from bingan.formats.ofd import geometry as g
from bingan.formats.ofd.gm import SM3_KEYED_OID, digest, digest_name, signature_digest, sm2_z, sm3
from bingan.formats.ofd.package import attr, child, children, path_text
from bingan.formats.ofd.reader import OfdDocument
from bingan.formats.ofd.ses import (
    CertList,
    ParsedSignature,
    SealPicture,
    parse_seal,
    parse_signature,
    parse_time,
)
from bingan.formats.ofd.timestamp import TimeCheck
from bingan.formats.signatures import APPENDED, INTACT_UNTRUSTED, VALID, trust_roots

KEYED_NOTE = "文件摘要按 GM/T 0006「带公钥的 SM3」计算（含签名人公钥的预处理值 Z）"
XML_SIGNED_NOTE = ("签名值直接签署签名描述文件 Signature.xml（部分厂商的 V1 签法，较弱）："
                   "印章和签章时间不在签名保护范围内")


@dataclass
class SignatureEntry:
    """One entry of Signatures.xml with its parsed Signature.xml."""

    id: str
    kind: str  # Seal | Sign
    path: str | None
    xml: Element | None = None
    raw: bytes = b""


@dataclass
class Stamp:
    """Where a seal picture goes on a page."""

    page_id: str
    box: tuple[float, float, float, float]
    picture: SealPicture


def entries(doc: OfdDocument) -> list[SignatureEntry]:
    if doc.signatures_path is None:
        return []
    root = doc.pkg.xml(doc.signatures_path)
    base = posixpath.dirname(doc.signatures_path)
    out = []
    for el in children(root, "Signature"):
        path = doc.pkg.resolve(attr(el, "BaseLoc"), base, doc.doc_dir)
        entry = SignatureEntry(attr(el, "ID"), attr(el, "Type", "Seal"), path)
        if path is not None:
            try:
                entry.raw = doc.pkg.read(path)
                entry.xml = doc.pkg.xml(path)
            except FormatError:
                entry.xml = None  # reported as unverifiable, the document stays readable
        out.append(entry)
    return out


def _signed_value(doc: OfdDocument, entry: SignatureEntry) -> bytes | None:
    ref = path_text(entry.xml, "SignedValue")
    path = doc.pkg.resolve(ref, posixpath.dirname(entry.path or ""), doc.doc_dir) if ref else None
    return doc.pkg.read(path) if path else None


@dataclass
class Coverage:
    """What the References of a signature say about the files it protects."""

    problem: tuple[str, str] | None = None  # (verdict, reason) of the first failing file
    appended: list[str] = field(default_factory=list)  # changed only by a later signature
    keyed: bool = False  # some digest is SM3 with the signer's public key (GM/T 0006)


def verify_document(doc: OfdDocument) -> list[Signature]:
    found = entries(doc)
    return [verify_entry(doc, entry, found[i + 1:]) for i, entry in enumerate(found)]


def verify_entry(doc: OfdDocument, entry: SignatureEntry,
                 later: list[SignatureEntry] | None = None) -> Signature:
    """One signature; ``later`` are the signatures listed after it, which may have changed the
    signature list it protects."""
    kind = f"OFD {entry.kind}"
    if entry.xml is None:
        return Signature("unverifiable", "签名描述文件缺失或无法解析", kind=kind)
    value = _signed_value(doc, entry)
    parsed = _parse_value(value) if value is not None else None
    coverage = _check_references(doc, entry, _signer_point(parsed), later or [])
    if coverage.problem is not None:
        return Signature(*coverage.problem, kind=kind)
    if value is None:
        return Signature("unverifiable", "缺少签名值文件 SignedValue", kind=kind)
    if isinstance(parsed, cms.SignedMessage):
        return _verify_cms(entry, parsed, coverage)
    if parsed is None:
        return Signature("unverifiable", "签名值既不是可识别的 SES 电子签章格式，也不是 GB/T 35275 签名数据",
                         kind=kind)
    return _verify_ses(entry, parsed, coverage)


def _parse_value(value: bytes) -> ParsedSignature | cms.SignedMessage | None:
    """SES_Signature (seals), else GB/T 35275 SignedData ("Sign" signatures), else None."""
    try:
        return parse_signature(value)
    except ValueError:
        pass
    try:
        return cms.parse(value)
    except ValueError:
        return None


def _signer_point(parsed: ParsedSignature | cms.SignedMessage | None) -> bytes | None:
    if parsed is None:
        return None
    cert = parsed.cert if isinstance(parsed, cms.SignedMessage) else certs.load(parsed.cert)
    return certs.sm2_point(cert) if cert is not None else None


def _check_references(doc: OfdDocument, entry: SignatureEntry, point: bytes | None,
                      later: list[SignatureEntry]) -> Coverage:
    refs = child(child(entry.xml, "SignedInfo"), "References")
    if refs is None:
        return Coverage(("unverifiable", "签名未列出被保护的文件"))
    method = attr(refs, "CheckMethod", "MD5").strip()
    if method == SM3_KEYED_OID and point is None:
        return Coverage(("unverifiable", "文件摘要按「带公钥的 SM3」计算，但签名人的 SM2 公钥无法读取"))
    z = sm2_z(point) if point is not None else None
    appendable = _appendable(doc, later)
    base = posixpath.dirname(entry.path or "")
    out = Coverage()
    for ref in children(refs, "Reference"):
        name = attr(ref, "FileRef")
        path = doc.pkg.resolve(name, base)
        if path is None:
            return Coverage(("tampered", f"被签名的文件已缺失：{name}"))
        try:
            expected = base64.b64decode(path_text(ref, "CheckValue"), validate=False)
        except (binascii.Error, ValueError):
            return Coverage(("unverifiable", f"文件摘要值格式错误：{name}"))
        form = _digest_form(method, doc.pkg.read(path), expected, z)
        if form is None:
            return Coverage(("unverifiable", f"不支持的摘要算法：{method}"))
        out.keyed = out.keyed or form == "keyed"
        if form == "changed" and appendable(path):
            out.appended.append(name)
        elif form == "changed":
            return Coverage(("tampered", f"文件已被修改：{name}"))
    return out


def _digest_form(method: str, data: bytes, expected: bytes, z: bytes | None) -> str | None:
    """How ``expected`` digests ``data``: "plain", "keyed" (SM3 of Z_A ‖ data, GM/T 0006),
    "changed" (neither), or None for an unknown method.

    Vendors write the plain SM3 OID while digesting with the key, so SM3 tries both; a
    preimage of either is out of reach, so accepting either keeps a change detectable.
    """
    if method == SM3_KEYED_OID:
        return "keyed" if z is not None and sm3(z + data) == expected else "changed"
    actual = digest(method, data)
    if actual is None:
        return None
    if actual == expected:
        return "plain"
    if digest_name(method) == "sm3" and z is not None and sm3(z + data) == expected:
        return "keyed"
    return "changed"


def _appendable(doc: OfdDocument, later: list[SignatureEntry]) -> Callable[[str], bool]:
    """Which files a later signature legitimately changes: the signature list (a new entry)
    and its own folder. None when no signature follows."""
    if not later:
        return lambda path: False
    folders = tuple(posixpath.dirname(e.path) + "/" for e in later if e.path)
    return lambda path: path == doc.signatures_path or path.startswith(folders)


def _verify_ses(entry: SignatureEntry, ses: ParsedSignature, coverage: Coverage) -> Signature:
    cert = certs.load(ses.cert)
    signer = certs.common_name(cert) or ses.seal_name
    verdict, reason, signed_at, intact = _ses_verdict(entry, ses, cert, coverage)
    signature = Signature(verdict, reason, signer, signed_at, f"OFD SES V{ses.version}")
    return _finish(signature, coverage) if intact else signature


def _ses_verdict(entry: SignatureEntry, ses: ParsedSignature, cert: x509.Certificate | None,
                 coverage: Coverage) -> tuple[str, str, datetime | None, bool]:
    """The value and the seal (invalid, tampered, unauthorised), then whether the signer can
    be trusted at signing time. Also the signing time: a trusted timestamp's, else the one
    the signer wrote; and whether the signature got as far as the trust check (intact)."""
    if cert is None:
        return "unverifiable", "签名证书缺失或无法解析", ses.signed_at, False
    problem, notes = _value_problem(entry, ses, cert)
    problem = problem or _seal_problem(ses, cert)
    if problem:
        return *problem, ses.signed_at, False
    roots = trust_roots()
    stamp = timestamp.check(ses.timestamp, ses.signature, roots) if ses.timestamp else TimeCheck()
    if stamp.tampered:
        return "tampered", stamp.tampered, ses.signed_at, False
    when = stamp.time or ses.signed_at  # V4 always has timeInfo: a note never leaves no time
    label = "时间戳时间" if stamp.time else "签名时间"
    verdict, reason = _trust(ses, cert, when or datetime.now(UTC).replace(tzinfo=None), label, roots)
    if stamp.note:
        notes.append(f"{stamp.note}，签章时间以签章人自报的时间为准")
    if coverage.keyed:
        notes.append(KEYED_NOTE)
    return verdict, "；".join([reason, *notes]), when, True


def _value_problem(entry: SignatureEntry, ses: ParsedSignature,
                   cert: x509.Certificate) -> tuple[tuple[str, str] | None, list[str]]:
    """Whether the signature value covers this Signature.xml: (problem, notes on the form)."""
    method = signature_digest(ses.algorithm)
    if method is None:
        return ("unverifiable", f"不支持的签名算法：{ses.algorithm}"), []
    ok = certs.verify(cert, ses.algorithm, ses.to_sign, ses.signature)
    if ok is None:
        return ("unverifiable", f"签名证书的公钥与签名算法（{ses.algorithm}）不符或不受支持"), []
    # dataHash is taken with the signature's own digest (SHA-1 for sha1WithRSA), with the
    # signer's key under SM3 by GM/T 0006 producers.
    point = certs.sm2_point(cert)
    z = sm2_z(point) if point is not None and method == "sm3" else None
    if _digest_form(method, entry.raw, ses.data_hash, z) not in ("plain", "keyed"):
        return ("tampered", "签名描述文件 Signature.xml 已被修改"), []
    if ok:
        return None, []
    if ses.version == 1 and certs.verify(cert, ses.algorithm, entry.raw, ses.signature):
        return None, [XML_SIGNED_NOTE]
    return ("invalid", "签名值验证失败：签名值与签名证书不符，签名无效"), []


def _seal_problem(ses: ParsedSignature, cert: x509.Certificate) -> tuple[str, str] | None:
    """The seal's own signature by its maker, then whether it lets this certificate sign."""
    seal = ses.seal
    maker = certs.load(seal.cert)
    if maker is None:
        return "unverifiable", "电子印章的制章人证书缺失或无法解析"
    results = [certs.verify(maker, seal.algorithm, data, seal.signature) for data in seal.signed]
    if all(result is None for result in results):
        return "unverifiable", f"不支持的电子印章签名算法或制章人证书公钥：{seal.algorithm}"
    if not any(results):
        return "invalid", "电子印章的制章人签名无效：印章数据被修改或印章系伪造"
    return _authorisation_problem(seal.cert_list, ses.cert, certs.common_name(cert))


def _authorisation_problem(listed: CertList | None, cert_der: bytes,
                           name: str) -> tuple[str, str] | None:
    """A seal lists the certificates allowed to sign with it (GB/T 38540 certList): a
    signature by any other certificate, however valid, was not authorised by the seal."""
    if listed is None:
        return "unverifiable", "无法读取电子印章授权的签章人证书列表，无法确认签章人有权使用该印章"
    if not (listed.certs or listed.digests):
        return "unverifiable", "电子印章未列出授权的签章人证书，无法确认签章人有权使用该印章"
    if cert_der in listed.certs:
        return None
    sums = [(digest(method, cert_der), value) for method, value in listed.digests]
    if any(actual == value for actual, value in sums):
        return None
    if any(actual is None for actual, _ in sums):
        return "unverifiable", "电子印章的签章人证书摘要算法不受支持，无法确认签章人有权使用该印章"
    return "unauthorised", (f"签章人证书（{name or '未署名'}）不在电子印章授权的签章人证书列表中："
                            "该证书未经印章授权使用此印章")


def _trust(ses: ParsedSignature, cert: x509.Certificate, when: datetime, label: str,
           roots: tuple) -> tuple[str, str]:
    """Validity periods at signing (and seal making) time, then the chains to the roots;
    ``label`` says where the signing time comes from."""
    expired = _expired(cert, when, label)
    if expired:
        return expired
    seal = ses.seal
    if seal.valid_from is None or seal.valid_to is None or seal.created is None:
        return "unverifiable", "电子印章的制作日期或有效期无法读取，无法确认印章在签章时有效"
    if not seal.valid_from <= when <= seal.valid_to:
        return "unverifiable", (f"签章时电子印章不在有效期内（{_day(seal.valid_from)} 至 "
                                f"{_day(seal.valid_to)}，{label} {when:%Y-%m-%d %H:%M}）")
    maker = certs.load(seal.cert)
    made = certs.validity_problem(maker, seal.created, "制章时间") if maker else None
    if made:
        return "unverifiable", f"制章时制章人证书不在有效期内（{made}）：印章制作时制章人无权制章"
    if not certs.chains(cert, roots):
        return _untrusted()
    if maker is None or not certs.chains(maker, roots):
        return "unverifiable", "签名完整，但电子印章制章人的证书不在受信任列表中，无法确认印章真伪"
    return "valid", VALID


def _expired(cert: x509.Certificate, when: datetime, label: str) -> tuple[str, str] | None:
    problem = certs.validity_problem(cert, when, label)
    return ("unverifiable", f"签名时签名证书不在有效期内（{problem}）") if problem else None


def _untrusted() -> tuple[str, str]:
    return "unverifiable", f"{INTACT_UNTRUSTED}（文件自签名后未被修改，但无法确认签名人身份）"


def _finish(signature: Signature, coverage: Coverage) -> Signature:
    """A later signature's changes on an intact signature: "appended", and whether this
    signature by itself is trusted (its verdict before the appending)."""
    if not coverage.appended:
        return signature
    files = "、".join(coverage.appended)
    return replace(signature, verdict="appended", trusted=signature.trusted,
                   reason=f"{APPENDED}（{files}），其余受保护的文件未被修改；{signature.reason}")


# -- GB/T 35275 "Sign" signatures: CMS SignedData over Signature.xml ---------------------------------
def _verify_cms(entry: SignatureEntry, message: cms.SignedMessage, coverage: Coverage) -> Signature:
    kind = "OFD Sign GB/T 35275"
    check = cms.check_sm2(message, entry.raw)
    signer = certs.common_name(check.cert)
    claimed = parse_time(path_text(child(entry.xml, "SignedInfo"), "SignatureDateTime") or "")
    when = check.signed_at or claimed  # the signed attribute, else Signature.xml's (signed too)
    if check.ok is None:
        return Signature("unverifiable", f"无法验证：{check.problem}", signer, when, kind)
    if check.changed:
        return Signature("tampered", f"签名描述文件 Signature.xml 已被修改（{check.problem}）", signer, when, kind)
    if not check.ok:
        return Signature("invalid", f"签名无效：{check.problem}", signer, when, kind)
    cert = check.cert
    assert cert is not None  # check_sm2 verified with it
    verdict, reason = (_expired(cert, when or datetime.now(UTC).replace(tzinfo=None), "签名时间")
                       or (("valid", VALID) if certs.chains(cert, trust_roots()) else _untrusted()))
    if coverage.keyed:
        reason = f"{reason}；{KEYED_NOTE}"
    return _finish(Signature(verdict, reason, signer, when, kind), coverage)


def _day(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d}" if value else "?"


# -- seal pictures for rendering -------------------------------------------------------------------
def stamps(doc: OfdDocument) -> list[Stamp]:
    """Every StampAnnot of every signature, with the seal picture to draw there."""
    out: list[Stamp] = []
    try:
        found = entries(doc)
    except FormatError:
        return out  # a broken Signatures.xml must not stop the page from rendering
    for entry in found:
        picture = _entry_picture(doc, entry)
        if picture is None:
            continue
        for annot in children(child(entry.xml, "SignedInfo"), "StampAnnot"):
            box = g.parse_box(attr(annot, "Boundary"))
            if box and box[2] > 0 and box[3] > 0:
                out.append(Stamp(attr(annot, "PageRef"), box, picture))
    return out


def _entry_picture(doc: OfdDocument, entry: SignatureEntry) -> SealPicture | None:
    if entry.xml is None:
        return None
    try:
        value = _signed_value(doc, entry)
        if value is not None:
            return parse_signature(value).picture
    except (ValueError, FormatError):
        pass
    seal_ref = path_text(child(entry.xml, "SignedInfo"), "Seal", "BaseLoc")
    path = doc.pkg.resolve(seal_ref, posixpath.dirname(entry.path or "")) if seal_ref else None
    try:
        return parse_seal(doc.pkg.read(path)) if path else None
    except FormatError:
        return None
