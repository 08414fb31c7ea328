"""OFD signatures (GB/T 33190 §18, GB/T 38540 SES): listing, verification and seal stamps."""
from __future__ import annotations

import base64
import binascii
import posixpath
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.etree.ElementTree import Element

from asn1crypto import x509

from bingan.formats.base import FormatError, Signature
from bingan.formats.ofd import certs, timestamp
from bingan.formats.ofd import geometry as g
from bingan.formats.ofd.gm import SM2_SM3_OID, digest, sm2_verify, sm3
from bingan.formats.ofd.package import attr, child, children, path_text
from bingan.formats.ofd.reader import OfdDocument
from bingan.formats.ofd.ses import CertList, ParsedSignature, SealPicture, parse_seal, parse_signature
from bingan.formats.ofd.timestamp import TimeCheck
from bingan.formats.signatures import INTACT_UNTRUSTED, VALID, trust_roots


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


def verify_document(doc: OfdDocument) -> list[Signature]:
    return [verify_entry(doc, e) for e in entries(doc)]


def verify_entry(doc: OfdDocument, entry: SignatureEntry) -> Signature:
    kind = f"OFD {entry.kind}"
    if entry.xml is None:
        return Signature("unverifiable", "签名描述文件缺失或无法解析", kind=kind)
    bad_ref = _check_references(doc, entry)
    if bad_ref is not None:
        return Signature(bad_ref[0], bad_ref[1], kind=kind)
    value = _signed_value(doc, entry)
    if value is None:
        return Signature("unverifiable", "缺少签名值文件 SignedValue", kind=kind)
    try:
        ses = parse_signature(value)
    except ValueError:
        return Signature("unverifiable", "签名值不是可识别的 SES 电子签章格式", kind=kind)
    return _verify_ses(entry, ses, f"OFD SES V{ses.version}")


def _check_references(doc: OfdDocument, entry: SignatureEntry) -> tuple[str, str] | None:
    """(verdict, reason) for the first reference that fails, None when all files match."""
    refs = child(child(entry.xml, "SignedInfo"), "References")
    if refs is None:
        return ("unverifiable", "签名未列出被保护的文件")
    method = attr(refs, "CheckMethod", "MD5")
    base = posixpath.dirname(entry.path or "")
    for ref in children(refs, "Reference"):
        name = attr(ref, "FileRef")
        path = doc.pkg.resolve(name, base)
        if path is None:
            return ("tampered", f"被签名的文件已缺失：{name}")
        actual = digest(method, doc.pkg.read(path))
        if actual is None:
            return ("unverifiable", f"不支持的摘要算法：{method}")
        try:
            expected = base64.b64decode(path_text(ref, "CheckValue"), validate=False)
        except (binascii.Error, ValueError):
            return ("unverifiable", f"文件摘要值格式错误：{name}")
        if actual != expected:
            return ("tampered", f"文件已被修改：{name}")
    return None


def _verify_ses(entry: SignatureEntry, ses: ParsedSignature, kind: str) -> Signature:
    cert = certs.load(ses.cert)
    signer = certs.common_name(cert) or ses.seal_name
    verdict, reason, signed_at = _ses_verdict(entry, ses, cert)
    return Signature(verdict, reason, signer, signed_at, kind)


def _ses_verdict(entry: SignatureEntry, ses: ParsedSignature,
                 cert: x509.Certificate | None) -> tuple[str, str, datetime | None]:
    """Integrity first (tampered), then what decides whether the signer can be trusted.

    Also the signing time: a trusted timestamp's, else the one the signer wrote.
    """
    if ses.data_hash != sm3(entry.raw):
        return "tampered", "签名描述文件 Signature.xml 已被修改", ses.signed_at
    if cert is None:
        return "unverifiable", "签名证书缺失或无法解析", ses.signed_at
    problem = _signature_problem(ses, cert) or _seal_problem(ses, cert)
    if problem:
        return *problem, ses.signed_at
    roots = trust_roots()
    stamp = timestamp.check(ses.timestamp, ses.signature, roots) if ses.timestamp else TimeCheck()
    if stamp.tampered:
        return "tampered", stamp.tampered, ses.signed_at
    when = stamp.time or ses.signed_at  # V4 always has timeInfo: a note never leaves no time
    label = "时间戳时间" if stamp.time else "签名时间"
    verdict, reason = _trust(ses, cert, when or datetime.now(UTC).replace(tzinfo=None), label, roots)
    if stamp.note:
        reason = f"{reason}；{stamp.note}，签章时间以签章人自报的时间为准"
    return verdict, reason, when


def _signature_problem(ses: ParsedSignature, cert: x509.Certificate) -> tuple[str, str] | None:
    if ses.algorithm != SM2_SM3_OID:
        return "unverifiable", f"不支持的签名算法：{ses.algorithm}"
    point = certs.sm2_point(cert)
    if point is None:
        return "unverifiable", "签名证书的公钥不是 SM2 公钥"
    if not sm2_verify(point, ses.to_sign, ses.signature):
        return "tampered", "签名值验证失败：签章数据已被修改或签名无效"
    return None


def _seal_problem(ses: ParsedSignature, cert: x509.Certificate) -> tuple[str, str] | None:
    """The seal's own signature by its maker, then whether it lets this certificate sign."""
    seal = ses.seal
    if seal.algorithm != SM2_SM3_OID:
        return "unverifiable", f"不支持的电子印章签名算法：{seal.algorithm}"
    maker = certs.load(seal.cert)
    point = certs.sm2_point(maker) if maker else None
    if maker is None or point is None:
        return "unverifiable", "电子印章的制章人证书缺失、无法解析或不是 SM2 证书"
    if not any(sm2_verify(point, data, seal.signature) for data in seal.signed):
        return "tampered", "电子印章的制章人签名无效：印章数据被修改或印章系伪造"
    return _authorisation_problem(seal.cert_list, ses.cert, certs.common_name(cert))


def _authorisation_problem(listed: CertList | None, cert_der: bytes,
                           name: str) -> tuple[str, str] | None:
    """A seal lists the certificates allowed to sign with it (GB/T 38540 certList): a
    signature by any other certificate, however valid, is misuse of the seal."""
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
    return "tampered", (f"签章人证书（{name or '未署名'}）不在电子印章授权的签章人证书列表中："
                        "印章被未经授权的证书冒用")


def _trust(ses: ParsedSignature, cert: x509.Certificate, when: datetime, label: str,
           roots: tuple) -> tuple[str, str]:
    """Validity periods at signing (and seal making) time, then the chains to the roots;
    ``label`` says where the signing time comes from."""
    expired = certs.validity_problem(cert, when, label)
    if expired:
        return "unverifiable", f"签名时签名证书不在有效期内（{expired}）"
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
        return "unverifiable", f"{INTACT_UNTRUSTED}（文件自签名后未被修改，但无法确认签名人身份）"
    if maker is None or not certs.chains(maker, roots):
        return "unverifiable", "签名完整，但电子印章制章人的证书不在受信任列表中，无法确认印章真伪"
    return "valid", VALID


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
