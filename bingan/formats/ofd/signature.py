"""OFD signatures (GB/T 33190 §18, GB/T 38540 SES): listing, verification and seal stamps."""
from __future__ import annotations

import base64
import binascii
import hashlib
import posixpath
from dataclasses import dataclass
from xml.etree.ElementTree import Element

from asn1crypto import x509
from cryptography.hazmat.primitives import hashes
from gmssl import sm2

from bingan.formats.base import FormatError, Signature
from bingan.formats.ofd import geometry as g
from bingan.formats.ofd.package import attr, child, children, path_text
from bingan.formats.ofd.reader import OfdDocument
from bingan.formats.ofd.ses import ParsedSignature, SealPicture, parse_seal, parse_signature

SM3_OID = "1.2.156.10197.1.401"
SM2_SM3_OID = "1.2.156.10197.1.501"
SM2_USER_ID = b"1234567812345678"  # GB/T 35276 default signer ID
_DIGESTS = {
    SM3_OID: "sm3", "sm3": "sm3", "2.16.840.1.101.3.4.2.1": "sha256", "sha256": "sha256",
    "sha-256": "sha256", "1.3.14.3.2.26": "sha1", "sha1": "sha1", "sha-1": "sha1",
    "1.2.840.113549.2.5": "md5", "md5": "md5",
}
_ECC = sm2.default_ecc_table


def sm3(data: bytes) -> bytes:
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


def digest(method: str, data: bytes) -> bytes | None:
    name = _DIGESTS.get(method.strip().lower())
    if name is None:
        return None
    return sm3(data) if name == "sm3" else hashlib.new(name, data).digest()


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
    signer = ses.seal_name
    when = ses.signed_at
    if ses.data_hash != sm3(entry.raw):
        return Signature("tampered", "签名描述文件 Signature.xml 已被修改", signer, when, kind)
    if ses.algorithm != SM2_SM3_OID:
        return Signature("unverifiable", f"不支持的签名算法：{ses.algorithm}", signer, when, kind)
    try:
        cert = x509.Certificate.load(ses.cert)
        point = cert.public_key["public_key"].contents[1:]
        signer = _common_name(cert) or signer
    except Exception:
        return Signature("unverifiable", "签名证书缺失或无法解析", signer, when, kind)
    if len(point) != 65 or point[0] != 4:
        return Signature("unverifiable", "签名证书的公钥不是 SM2 公钥", signer, when, kind)
    if not sm2_verify(point[1:], ses.to_sign, ses.signature):
        return Signature("tampered", "签名值验证失败：签章数据已被修改或签名无效", signer, when, kind)
    return Signature("valid", "签名有效，文件未被修改", signer, when, kind)


def _common_name(cert: x509.Certificate) -> str:
    try:
        return str(cert.subject.native.get("common_name", ""))
    except Exception:
        return ""


def sm2_z(public_xy: bytes, user_id: bytes = SM2_USER_ID) -> bytes:
    """Z_A = SM3(ENTL || ID || a || b || xG || yG || xA || yA), GB/T 32918.2 §5.5."""
    curve = bytes.fromhex(_ECC["a"] + _ECC["b"] + _ECC["g"])
    return sm3((len(user_id) * 8).to_bytes(2, "big") + user_id + curve + public_xy)


def sm2_verify(public_xy: bytes, message: bytes, signature: bytes) -> bool:
    rs = _signature_rs(signature)
    if rs is None:
        return False
    e = sm3(sm2_z(public_xy) + message)
    # gmssl's own SM3 is pure Python; the digest comes from cryptography and only the curve
    # arithmetic from gmssl.
    verifier = sm2.CryptSM2(private_key=None, public_key="")
    verifier.public_key = public_xy.hex()  # gmssl's constructor lstrip("04")s keys starting 04
    try:
        return bool(verifier.verify(rs, e))
    except Exception:
        return False


def _signature_rs(signature: bytes) -> str | None:
    """r||s as 128 hex digits, from a DER SEQUENCE {r, s} or a raw 64-byte value."""
    if len(signature) == 64:
        return signature.hex()
    try:
        from asn1crypto.algos import DSASignature

        native = DSASignature.load(signature).native
        r, s = native["r"], native["s"]
    except Exception:
        return None
    if not (0 < r < 1 << 256 and 0 < s < 1 << 256):
        return None
    return f"{r:064x}{s:064x}"


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
