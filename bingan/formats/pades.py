"""PAdES signing (PDF Advanced Electronic Signatures, ETSI EN 319 142 baseline B) and files
attached to a PDF (/EmbeddedFiles). Pure: the key and certificates come from the caller, which
keeps them (records/hospital_certificate.py); formats never stores a key."""
from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Attachment:
    filename: str
    data: bytes
    media_type: str
    description: str = ""


def attach_files(pdf: bytes, attachments: list[Attachment]) -> bytes:
    """``pdf`` with ``attachments`` embedded (PDF/A-3 style associated files), each with its
    size and checksum in the file specification, so a reader lists them in its attachment pane."""
    import pikepdf

    with pikepdf.open(io.BytesIO(pdf)) as document:
        for item in attachments:
            spec = pikepdf.AttachedFileSpec(document, item.data, description=item.description,
                                            filename=item.filename, mime_type=item.media_type)
            document.attachments[item.filename] = spec
        out = io.BytesIO()
        document.save(out)
        return out.getvalue()


def attached_files(pdf: bytes) -> dict[str, bytes]:
    """Name → content of every file embedded in ``pdf``."""
    import pikepdf

    with pikepdf.open(io.BytesIO(pdf)) as document:
        return {name: spec.get_file().read_bytes() for name, spec in document.attachments.items()}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sign_pdf(pdf: bytes, key_der: bytes, chain_der: list[bytes], *, reason: str, location: str,
             name: str) -> bytes:
    """``pdf`` signed over its whole content by the key (PKCS#8 DER) of ``chain_der[0]`` (DER
    certificates, the leaf first)."""
    from asn1crypto import keys as asn1_keys
    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    chain = [asn1_x509.Certificate.load(der) for der in chain_der]
    signer = signers.SimpleSigner(signing_cert=chain[0], signing_key=asn1_keys.PrivateKeyInfo.load(key_der),
                                  cert_registry=SimpleCertificateStore.from_certs(chain[1:]))
    meta = signers.PdfSignatureMetadata(field_name="HospitalSeal", reason=reason, location=location, name=name,
                                        subfilter=fields.SigSeedSubFilter.PADES)
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    return signers.sign_pdf(writer, meta, signer=signer).getvalue()


MANIFEST_NAME = "manifest.json"


def check_manifest(pdf: bytes) -> dict | None:
    """A package's attached files against its attached manifest (``files``: file, sha256);
    None when the PDF carries no manifest. Problems are in Chinese."""
    import json

    import pikepdf

    try:
        files = attached_files(pdf)
    except pikepdf.PdfError:  # PDFium read it, pikepdf cannot: no attachments to check
        return None
    if MANIFEST_NAME not in files:
        return None
    try:
        listed = json.loads(files[MANIFEST_NAME])["files"]
    except (ValueError, KeyError, TypeError):
        return {"files": 0, "intact": False, "problems": ["文件清单（manifest.json）无法解析"]}
    problems = [f"{item['file']}：缺失" if item["file"] not in files else f"{item['file']}：SHA-256 与清单不符"
                for item in listed if sha256(files.get(item["file"], b"")) != item["sha256"]]
    return {"files": len(listed), "intact": not problems, "problems": problems}


# --- PDF signatures through the signing port ----------------------------------------------------

PORT_FIELD = "ArchiveSignature"
PORT_RESERVED = 32 * 1024  # DER bytes kept for the CMS: the signer's chain and a timestamp token with the TSA's


def sign_pdf_through(pdf: bytes, sign: Callable[[bytes], bytes], algorithm: str, *, reason: str, location: str,
                     name: str, field: str = PORT_FIELD) -> bytes:
    """``pdf`` signed over all of it by the detached CMS ``sign`` returns for the ``algorithm``
    (sha256 or sm3) digest of the signed bytes — the signing port's contract, hash in, CMS out,
    so a remote signing server signs too. The signature dictionary has SubFilter
    adbe.pkcs7.detached (ISO 32000-1 §12.8.3.3; PAdES-Basic, ETSI TS 102 778-2): the port's CMS
    carries the signer's signingTime and no ESS signing-certificate-v2, which ETSI.CAdES.detached
    (PAdES baseline) would require."""
    from datetime import UTC, datetime

    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields
    from pyhanko.sign.signers.cms_embedder import PdfCMSEmbedder, SigIOSetup, SigObjSetup
    from pyhanko.sign.signers.pdf_byterange import SignatureObject

    from bingan.formats.signing import SigningError, digest

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    embedding = PdfCMSEmbedder(fields.SigFieldSpec(field)).write_cms(field_name=field, writer=writer)
    next(embedding)
    embedding.send(SigObjSetup(sig_placeholder=SignatureObject(
        timestamp=datetime.now(UTC), subfilter=fields.SigSeedSubFilter.ADOBE_PKCS7_DETACHED, name=name,
        location=location, reason=reason, bytes_reserved=PORT_RESERVED)))
    # pyHanko writes the file and its byte range; the digest that counts is ours (SM3 for SM2 keys).
    prepared, output = embedding.send(SigIOSetup(md_algorithm="sha256"))
    written = output.getvalue()
    signed = written[:prepared.reserved_region_start] + written[prepared.reserved_region_end:]
    signature = sign(digest(algorithm, signed))
    if 2 * len(signature) + 2 > prepared.reserved_region_end - prepared.reserved_region_start:
        raise SigningError(f"签名数据过大（{len(signature)} 字节），超出 PDF 签名预留空间")
    embedding.send(signature)
    return output.getvalue()


@dataclass(frozen=True)
class SignedPdf:
    """The last signature of a PDF: its CMS and the bytes it covers, or why there is none to check."""

    cms: bytes = b""
    covered: bytes = b""
    problem: str = ""  # Chinese


_BYTE_RANGE = re.compile(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]")


def last_signature(pdf: bytes) -> SignedPdf:
    """The file's last signature, which must cover the whole file (nothing appended after signing).

    Read from the bytes, not the object tree (a PDF parse costs more than the check): the last
    /ByteRange names the two covered spans, and the hole between them must be exactly the hex
    string of the CMS. Whatever a forger puts in the file, the signature then vouches for every
    byte but its own value, or fails."""
    from asn1crypto import cms

    *_, found = [None, *_BYTE_RANGE.finditer(pdf)]
    if found is None:
        return SignedPdf(problem="文件中没有签名")
    start, first, second, rest = (int(n) for n in found.groups())
    if start != 0 or second + rest != len(pdf) or not first < second:
        return SignedPdf(problem="签名未覆盖整个文件：签名后文件又被追加或改动了内容")
    hole = pdf[first:second]
    try:
        if hole[:1] != b"<" or hole[-1:] != b">":
            raise ValueError("not a hex string")
        content = cms.ContentInfo.load(bytes.fromhex(hole[1:-1].decode("ascii"))).dump()  # no zero padding
    except (ValueError, TypeError, UnicodeDecodeError):
        return SignedPdf(problem="签名数据无法解析")
    return SignedPdf(content, pdf[:first] + pdf[second:])
