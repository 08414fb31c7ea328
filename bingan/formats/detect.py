"""Media type by content (magic bytes), never by file name: hospital systems send
misnamed files (".pdf" that is a JPEG, ".dat" that is an OFD)."""
from __future__ import annotations

import codecs
import io
import os
import re
import zipfile
from pathlib import Path
from typing import BinaryIO

PDF = "application/pdf"
OFD = "application/ofd"
JPEG = "image/jpeg"
PNG = "image/png"
TIFF = "image/tiff"
HEIC = "image/heic"
GIF = "image/gif"
BMP = "image/bmp"
TEXT = "text/plain"
XML = "application/xml"
HTML = "text/html"
OCTET = "application/octet-stream"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
DOC = "application/msword"
XLS = "application/vnd.ms-excel"
PPT = "application/vnd.ms-powerpoint"
OLE = "application/x-ole-storage"
RTF = "application/rtf"
ODT = "application/vnd.oasis.opendocument.text"

IMAGE_TYPES = frozenset({JPEG, PNG, TIFF, HEIC, GIF, BMP})
TEXT_TYPES = frozenset({TEXT, XML, HTML})  # shown as text laid out on A4 pages
OFFICE_TYPES = frozenset({DOCX, XLSX, PPTX, DOC, XLS, PPT, RTF, ODT,
                          "application/vnd.oasis.opendocument.spreadsheet",
                          "application/vnd.oasis.opendocument.presentation"})

_HEAD = 64 * 1024
_OLE_SCAN = 8 * 1024 * 1024  # directory sectors of small .doc/.xls files sit well inside this
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1",
                b"msf1"}
_BMP_HEADERS = {12, 40, 52, 56, 64, 108, 124}
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

Source = bytes | bytearray | memoryview | str | os.PathLike


def is_video(media_type: str) -> bool:
    return media_type.startswith("video/")


def is_image(media_type: str) -> bool:
    return media_type in IMAGE_TYPES


def is_office(media_type: str) -> bool:
    return media_type in OFFICE_TYPES


def is_text(media_type: str) -> bool:
    return media_type in TEXT_TYPES


def detect(source: Source) -> str:
    """Media type of a file path or of bytes; application/octet-stream when unknown."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _detect_stream(io.BytesIO(bytes(source)))
    with open(Path(source), "rb") as stream:
        return _detect_stream(stream)


def _detect_stream(stream: BinaryIO) -> str:
    head = stream.read(_HEAD)
    found = _by_magic(head)
    if found == "zip":
        return _zip_kind(stream, head)
    if found == OLE:
        stream.seek(0)
        return _ole_kind(stream.read(_OLE_SCAN))
    if found:
        return found
    text = _head_text(head)
    return _text_kind(text) if text is not None else OCTET


def _by_magic(head: bytes) -> str | None:
    for check in (_pdf, _images, _iso_media, _containers, _office_magic):
        found = check(head)
        if found:
            return found
    return None


def _pdf(head: bytes) -> str | None:
    # Readers accept junk before the header (mail gateways prepend lines), so do we.
    return PDF if b"%PDF-" in head[:1024] else None


def _images(head: bytes) -> str | None:
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return TIFF
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if head[:2] == b"BM" and len(head) >= 18 and int.from_bytes(head[14:18], "little") in _BMP_HEADERS:
        return BMP
    return None


def _iso_media(head: bytes) -> str | None:
    """ISO base media (MP4, MOV, HEIC) and QuickTime files without an ftyp box."""
    if head[4:8] == b"ftyp":
        brands = {head[i:i + 4] for i in range(8, min(len(head), 8 + 64), 4)}
        if head[8:12] in _HEIF_BRANDS or (brands & _HEIF_BRANDS and not brands & {b"isom", b"mp41", b"mp42"}):
            return HEIC
        return "video/quicktime" if head[8:12] == b"qt  " else "video/mp4"
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"pnot"):
        return "video/quicktime"
    return None


def _containers(head: bytes) -> str | None:
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "video/x-msvideo"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm" if b"webm" in head[:64] else "video/x-matroska"
    if head.startswith((b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3")):
        return "video/mpeg"
    if _is_mpeg_ts(head):
        return "video/mp2t"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    return None


def _is_mpeg_ts(head: bytes) -> bool:
    for offset, size in ((0, 188), (4, 192)):  # plain TS, and M2TS with its 4-byte timecode
        if len(head) >= offset + 3 * size and all(head[offset + i * size] == 0x47 for i in range(3)):
            return True
    return False


def _office_magic(head: bytes) -> str | None:
    if head.startswith(_OLE_MAGIC):
        return OLE
    if head.startswith(b"{\\rtf"):
        return RTF
    return None


def _zip_kind(stream: BinaryIO, head: bytes) -> str:
    try:
        stream.seek(0)
        with zipfile.ZipFile(stream) as archive:
            names = archive.namelist()
            mimetype = _odf_mimetype(archive, names)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        # A damaged central directory: the local headers at the start still name the entries.
        names, mimetype = [], ""
        if b"ofd.xml" in head.lower():
            return OFD
    return _kind_from_names(names, mimetype)


def _odf_mimetype(archive: zipfile.ZipFile, names: list[str]) -> str:
    if "mimetype" not in names:
        return ""
    if archive.getinfo("mimetype").file_size > 200:
        return ""
    return archive.read("mimetype").decode("ascii", "replace").strip()


def _kind_from_names(names: list[str], mimetype: str) -> str:
    lower = [name.lower().lstrip("/") for name in names]
    if "ofd.xml" in lower:
        return OFD
    if mimetype.startswith("application/vnd.oasis.opendocument."):
        return mimetype
    for prefix, media_type in (("word/", DOCX), ("xl/", XLSX), ("ppt/", PPTX)):
        if any(name.startswith(prefix) for name in lower):
            return media_type
    return "application/zip"


def _ole_kind(data: bytes) -> str:
    # Stream names live in the directory sectors as UTF-16LE.
    for stream_name, media_type in (("WordDocument", DOC), ("Workbook", XLS), ("Book", XLS),
                                    ("PowerPoint Document", PPT)):
        if stream_name.encode("utf-16-le") in data:
            return media_type
    return OLE


def _head_text(head: bytes) -> str | None:
    """The decoded head when the file is text (UTF-8, GB18030 or UTF-16 with a BOM), else None."""
    if not head:
        return None
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):  # Windows Notepad's "Unicode"
        text = codecs.getincrementaldecoder("utf-16")(errors="replace").decode(head)
        return text if _mostly_printable(text) else None
    for encoding in ("utf-8-sig", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            text = decoder.decode(head, final=False)  # the head may cut a character in half
        except UnicodeDecodeError:
            continue
        return text if _mostly_printable(text) else None
    return None


_MARKUP_START = re.compile(r"<(\?xml\b|!doctype\s+html\b|html\b|[a-z_\u4e00-\u9fff])")


def _text_kind(text: str) -> str:
    """XML (CDA shared documents, HIS exports) and HTML reports are text that starts with a tag."""
    start = text.lstrip("\ufeff \t\r\n").lower()
    found = _MARKUP_START.match(start)
    if not found:
        return TEXT
    if found.group(1).startswith(("!doctype", "html")) or (found.group(1) == "?xml" and "<html" in start[:2048]):
        return HTML
    return XML


def _mostly_printable(text: str) -> bool:
    if not text:
        return False
    control = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f\x1a")
    return control == 0
