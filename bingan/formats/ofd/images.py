"""Image resources of an OFD: raster formats through Pillow, JBIG2 through pdfium."""
from __future__ import annotations

import io
import struct

import pikepdf
import pypdfium2 as pdfium
from PIL import Image

from bingan.formats.pdf import PDFIUM_LOCK

JBIG2_FILE_ID = b"\x97JB2\r\n\x1a\n"
MAX_PIXELS = 80_000_000  # a 600-dpi A3 scan is ~70 M pixels; more is an attack or an error
# pdfium is not thread-safe: one lock for every caller in formats/, PDF and OFD alike.
_PDFIUM_LOCK = PDFIUM_LOCK


def kind(data: bytes) -> str:
    if data.startswith(JBIG2_FILE_ID):
        return "jbig2"
    for magic, name in ((b"\x89PNG", "png"), (b"\xff\xd8", "jpeg"), (b"GIF8", "gif"),
                        (b"BM", "bmp"), (b"II*\x00", "tiff"), (b"MM\x00*", "tiff"),
                        (b"PK", "ofd")):
        if data.startswith(magic):
            return name
    # Embedded JBIG2 (no file header) starts with segment 0's header: number 0, then flags.
    if len(data) > 11 and data[:4] == b"\x00\x00\x00\x00" and data[4] & 0x3F in (48, 0, 16, 38, 39):
        return "jbig2"
    return "unknown"


def decode(data: bytes) -> Image.Image:
    """Any supported image resource as a Pillow image; raises ValueError/OSError when not."""
    if kind(data) == "jbig2":
        return decode_jbig2(data)
    img = Image.open(io.BytesIO(data))
    if img.width * img.height > MAX_PIXELS:
        raise ValueError(f"image too large: {img.width}x{img.height}")
    img.load()
    return img


# -- JBIG2 ------------------------------------------------------------------------------------------
def _segment_header(data: bytes, pos: int) -> tuple[int, int, int, int] | None:
    """(type, page, data length, header length) of the segment header at pos (T.88 §7.2)."""
    if pos + 11 > len(data):
        return None
    number = struct.unpack_from(">I", data, pos)[0]
    flags = data[pos + 4]
    seg_type, long_page = flags & 0x3F, bool(flags & 0x40)
    rts = data[pos + 5]
    count = rts >> 5
    p = pos + 6
    if count == 7:  # long form: 4-byte count and a retention bit field
        count = struct.unpack_from(">I", data, pos + 5)[0] & 0x1FFFFFFF
        p = pos + 9 + (count + 8) // 8
    ref_size = 1 if number <= 256 else 2 if number <= 65536 else 4
    p += count * ref_size
    page_len = 4 if long_page else 1
    if p + page_len + 4 > len(data):
        return None
    page = int.from_bytes(data[p:p + page_len], "big")
    length = struct.unpack_from(">I", data, p + page_len)[0]
    return seg_type, page, length, p + page_len + 4 - pos


def _segments(data: bytes) -> list[tuple[int, int, bytes, bytes]]:
    """(type, page, header, data) of each segment, from a JBIG2 file or an embedded stream."""
    pos, sequential = 0, True
    if data.startswith(JBIG2_FILE_ID):
        flags = data[8]
        sequential = bool(flags & 1)
        pos = 9 if flags & 2 else 13
    headers: list[tuple[int, int, bytes, int]] = []
    out: list[tuple[int, int, bytes, bytes]] = []
    while pos < len(data):
        parsed = _segment_header(data, pos)
        if parsed is None:
            break
        seg_type, page, length, hlen = parsed
        header = data[pos:pos + hlen]
        pos += hlen
        if sequential:
            out.append((seg_type, page, header, data[pos:pos + length]))
            pos += length
        else:
            headers.append((seg_type, page, header, length))
        if seg_type == 51:  # end of file
            break
    for seg_type, page, header, length in headers:  # random-access: data follows all headers
        out.append((seg_type, page, header, data[pos:pos + length]))
        pos += length
    return out


def _embedded_stream(data: bytes) -> tuple[bytes, int, int]:
    """The page-1 segments as a PDF JBIG2Decode stream, with the page width and height."""
    width = height = 0
    bottom = 0
    parts = []
    for seg_type, page, header, body in _segments(data):
        if seg_type == 51 or page > 1:
            continue
        if seg_type == 48 and len(body) >= 8:
            width, height = struct.unpack_from(">II", body)
        elif seg_type in (6, 7, 22, 23, 38, 39, 42, 43) and len(body) >= 16:
            w, h, _, y = struct.unpack_from(">IIII", body)
            width = max(width, w)
            bottom = max(bottom, y + h)
        parts.append(header + body)
    if height in (0, 0xFFFFFFFF):
        height = bottom
    if not (0 < width < 1 << 16 and 0 < height < 1 << 16):
        raise ValueError(f"JBIG2 page size {width}x{height}")
    return b"".join(parts), width, height


def decode_jbig2(data: bytes) -> Image.Image:
    """Decode by wrapping the stream in a one-image PDF and letting pdfium render it."""
    stream, width, height = _embedded_stream(data)
    pdf = pikepdf.new()
    image = pikepdf.Stream(pdf, stream)
    image.update({"/Type": pikepdf.Name.XObject, "/Subtype": pikepdf.Name.Image,
                  "/Width": width, "/Height": height, "/ColorSpace": pikepdf.Name.DeviceGray,
                  "/BitsPerComponent": 1, "/Filter": pikepdf.Name.JBIG2Decode})
    content = pikepdf.Stream(pdf, f"q {width} 0 0 {height} 0 0 cm /Im0 Do Q".encode())
    page = pikepdf.Dictionary({
        "/Type": pikepdf.Name.Page, "/MediaBox": [0, 0, width, height], "/Contents": content,
        "/Resources": pikepdf.Dictionary({"/XObject": pikepdf.Dictionary({"/Im0": image})})})
    pdf.pages.append(pikepdf.Page(page))
    buf = io.BytesIO()
    pdf.save(buf)
    with _PDFIUM_LOCK:
        doc = pdfium.PdfDocument(buf.getvalue())
        try:
            return doc[0].render(scale=1, grayscale=True).to_pil().convert("L")
        finally:
            doc.close()
