"""PAdES signing (PDF Advanced Electronic Signatures, ETSI EN 319 142 baseline B) and files
attached to a PDF (/EmbeddedFiles). Pure: the key and certificates come from the caller, which
keeps them (records/hospital_certificate.py); formats never stores a key."""
from __future__ import annotations

import hashlib
import io
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
