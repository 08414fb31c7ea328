"""Media type comes from the content: file names lie."""
from __future__ import annotations

import io
import zipfile

import pytest

from bingan.formats import detect as kinds
from bingan.formats.detect import detect


def _zip(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, body in entries.items():
            archive.writestr(name, body)
    return out.getvalue()


def test_pdf_detected_by_header(text_pdf):
    assert detect(text_pdf) == "application/pdf"


def test_pdf_with_junk_before_header_still_pdf(text_pdf):
    assert detect(b"garbage line\r\n" + text_pdf) == "application/pdf"


@pytest.mark.parametrize("name", ["OFD.xml", "ofd.XML"])
def test_ofd_is_zip_with_ofd_xml_any_case(name):
    assert detect(_zip({name: b"<ofd:OFD/>", "Doc_0/Document.xml": b"<x/>"})) == "application/ofd"


def test_plain_zip_is_not_ofd():
    assert detect(_zip({"readme.txt": b"hi"})) == "application/zip"


def test_docx_by_word_folder():
    assert detect(_zip({"[Content_Types].xml": b"", "word/document.xml": b""})) == kinds.DOCX


def test_xlsx_by_xl_folder():
    assert detect(_zip({"[Content_Types].xml": b"", "xl/workbook.xml": b""})) == kinds.XLSX


def test_legacy_word_by_ole_stream_name():
    body = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500) + "WordDocument".encode("utf-16-le")
    assert detect(body) == kinds.DOC


@pytest.mark.parametrize("fmt,expected", [
    ("JPEG", "image/jpeg"), ("PNG", "image/png"), ("TIFF", "image/tiff"),
    ("GIF", "image/gif"), ("BMP", "image/bmp"), ("HEIF", "image/heic"),
])
def test_images_by_magic(gen, fmt, expected):
    image = gen.scan_image(["入院记录"], dpi=30).convert("RGB")
    assert detect(gen.image_bytes(image, fmt)) == expected


def test_video_avi(gen, tmp_path):
    assert detect(gen.tiny_video(tmp_path / "clip.dat")) == "video/x-msvideo"


def test_mp4_by_ftyp_box():
    assert detect(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2") == "video/mp4"


def test_matroska_and_webm():
    assert detect(b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01" + b"\x42\x82\x88matroska") == "video/x-matroska"
    assert detect(b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01" + b"\x42\x82\x84webm") == "video/webm"


def test_mpeg_transport_stream():
    packet = b"\x47" + bytes(187)
    assert detect(packet * 4) == "video/mp2t"


def test_chinese_text_in_gbk_is_text():
    assert detect("入院记录：主诉胸闷".encode("gbk")) == "text/plain"


def test_random_bytes_are_octet_stream(gen):
    assert detect(gen.random_bytes()) == "application/octet-stream"


def test_zero_bytes_are_octet_stream():
    assert detect(b"") == "application/octet-stream"


def test_path_and_bytes_agree(text_pdf, tmp_path):
    path = tmp_path / "misnamed.jpg"
    path.write_bytes(text_pdf)
    assert detect(path) == detect(text_pdf) == "application/pdf"
