"""Write an OFD for export: one image per page plus an invisible, searchable text layer."""
from __future__ import annotations

import io
import re
import uuid
import zipfile
from datetime import date
from xml.sax.saxutils import escape, quoteattr

from PIL import Image

from bingan.formats.base import FormatError, PageText
from bingan.formats.ofd.geometry import MM_TO_PT
from bingan.formats.ofd.reader import advance
from bingan.formats.ofd.text import ASCENT

NS = "http://www.ofdspec.org/2016"
FONT_ID = 2
MAX_PAGES = 10_000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _num(v: float) -> str:
    return f"{v:.3f}".rstrip("0").rstrip(".") or "0"


def _text(s: str) -> str:
    return escape(_CONTROL.sub("", s))


class _Ids:
    """Object IDs are unique across the whole document (GB/T 33190 §7.3)."""

    def __init__(self) -> None:
        self.last = FONT_ID

    def next(self) -> int:
        self.last += 1
        return self.last


def _encode_image(img: Image.Image) -> tuple[str, bytes]:
    buf = io.BytesIO()
    if img.mode in ("1", "P", "LA", "RGBA", "PA"):
        # Bilevel scans and transparency stay lossless.
        img.save(buf, "PNG", optimize=False)
        return "png", buf.getvalue()
    img.convert("L" if img.mode in ("L", "I", "I;16", "F") else "RGB").save(buf, "JPEG", quality=85)
    return "jpg", buf.getvalue()


def _text_object(oid: int, text: str, box_mm: tuple[float, float, float, float]) -> str:
    x0, y0, x1, y1 = box_mm
    size = max(y1 - y0, 0.5)
    width = max(x1 - x0, 0.0)
    # Glyphs spread evenly so our reader's box for this run is the box given (see text.py).
    step = (width - advance(text[-1], size)) / (len(text) - 1) if len(text) > 1 else 0.0
    deltas = " ".join(_num(max(step, 0.0)) for _ in text[1:])
    delta_attr = f' DeltaX="{deltas}"' if deltas else ""
    return (f'<ofd:TextObject ID="{oid}" Boundary="{_num(x0)} {_num(y0)} {_num(max(width, size))} '
            f'{_num(size)}" Font="{FONT_ID}" Size="{_num(size)}" Fill="false">'
            f'<ofd:TextCode X="0" Y="{_num(size * ASCENT)}"{delta_attr}>{_text(text)}</ofd:TextCode>'
            '</ofd:TextObject>')


def _boxes_mm(page: PageText, page_mm: tuple[float, float]) -> list[tuple[str, tuple[float, ...]]]:
    out = [(b.text, (b.x0 / MM_TO_PT, b.y0 / MM_TO_PT, b.x1 / MM_TO_PT, b.y1 / MM_TO_PT))
           for b in page.boxes if _CONTROL.sub("", b.text).strip()]
    if out or not page.text.strip():
        return out
    # Text without positions: still searchable, as small lines down the left margin.
    size = 3.0
    lines = [ln for ln in page.text.splitlines() if ln.strip()]
    return [(ln, (5.0, 5.0 + i * size * 1.2, 5.0 + size * len(ln), 5.0 + i * size * 1.2 + size))
            for i, ln in enumerate(lines) if 5.0 + i * size * 1.2 + size <= page_mm[1]]


def _page_xml(ids: _Ids, image_id: int, page: PageText, page_mm: tuple[float, float]) -> str:
    w, h = page_mm
    objs = [f'<ofd:ImageObject ID="{ids.next()}" ResourceID="{image_id}" '
            f'Boundary="0 0 {_num(w)} {_num(h)}" CTM="{_num(w)} 0 0 {_num(h)} 0 0"/>']
    for text, box in _boxes_mm(page, page_mm):
        objs.append(_text_object(ids.next(), _CONTROL.sub("", text), box))
    layer = f'<ofd:Layer ID="{ids.next()}" Type="Body">{"".join(objs)}</ofd:Layer>'
    return _xml(f'<ofd:Page xmlns:ofd="{NS}"><ofd:Content>{layer}</ofd:Content></ofd:Page>')


def _xml(body: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body).encode("utf-8")


def _ofd_xml(title: str) -> bytes:
    title_el = f"<ofd:Title>{_text(title)}</ofd:Title>" if title.strip() else ""
    return _xml(
        f'<ofd:OFD xmlns:ofd="{NS}" Version="1.1" DocType="OFD"><ofd:DocBody><ofd:DocInfo>'
        f"<ofd:DocID>{uuid.uuid4().hex}</ofd:DocID>{title_el}"
        f"<ofd:CreationDate>{date.today().isoformat()}</ofd:CreationDate>"
        "<ofd:Creator>Bingan</ofd:Creator><ofd:CreatorVersion>0.1.0</ofd:CreatorVersion>"
        "</ofd:DocInfo><ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>")


def _document_xml(max_id: int, page_ids: list[int], page_mm: tuple[float, float]) -> bytes:
    pages = "".join(f'<ofd:Page ID="{pid}" BaseLoc="Pages/Page_{i}/Content.xml"/>'
                    for i, pid in enumerate(page_ids))
    return _xml(
        f'<ofd:Document xmlns:ofd="{NS}"><ofd:CommonData><ofd:MaxUnitID>{max_id}</ofd:MaxUnitID>'
        f"<ofd:PageArea><ofd:PhysicalBox>0 0 {_num(page_mm[0])} {_num(page_mm[1])}</ofd:PhysicalBox>"
        "</ofd:PageArea><ofd:PublicRes>PublicRes.xml</ofd:PublicRes>"
        "<ofd:DocumentRes>DocumentRes.xml</ofd:DocumentRes></ofd:CommonData>"
        f"<ofd:Pages>{pages}</ofd:Pages></ofd:Document>")


def _public_res() -> bytes:
    # The text layer is invisible, so no font file is embedded; readers substitute SimSun.
    return _xml(f'<ofd:Res xmlns:ofd="{NS}" BaseLoc="Res"><ofd:Fonts>'
                f'<ofd:Font ID="{FONT_ID}" FontName="SimSun" FamilyName={quoteattr("宋体")}/>'
                "</ofd:Fonts></ofd:Res>")


def _document_res(media: list[tuple[int, str, str]]) -> bytes:
    items = "".join(f'<ofd:MultiMedia ID="{mid}" Type="Image" Format="{fmt.upper()}">'
                    f"<ofd:MediaFile>{name}</ofd:MediaFile></ofd:MultiMedia>"
                    for mid, fmt, name in media)
    return _xml(f'<ofd:Res xmlns:ofd="{NS}" BaseLoc="Res"><ofd:MultiMedias>{items}'
                "</ofd:MultiMedias></ofd:Res>")


def write(pages: list[tuple[Image.Image, PageText]], *, title: str = "",
          page_size_mm: tuple[float, float] = (210, 297)) -> bytes:
    if not pages:
        raise FormatError("没有可导出的页面", "write_ofd called with no pages")
    if len(pages) > MAX_PAGES:
        raise FormatError("导出的页数过多", f"{len(pages)} pages")
    w, h = (float(v) for v in page_size_mm)
    if not (0 < w <= 5000 and 0 < h <= 5000):
        raise FormatError("页面尺寸无效", f"page_size_mm={page_size_mm}")
    ids = _Ids()
    files: dict[str, bytes] = {}
    media: list[tuple[int, str, str]] = []
    page_ids: list[int] = []
    for i, (img, page_text) in enumerate(pages):
        fmt, data = _encode_image(img)
        image_id = ids.next()
        name = f"image_{image_id}.{fmt}"
        media.append((image_id, "jpeg" if fmt == "jpg" else fmt, name))
        files[f"Doc_0/Res/{name}"] = data
        page_ids.append(ids.next())
        files[f"Doc_0/Pages/Page_{i}/Content.xml"] = _page_xml(ids, image_id, page_text, (w, h))
    files["OFD.xml"] = _ofd_xml(title)
    files["Doc_0/Document.xml"] = _document_xml(ids.last, page_ids, (w, h))
    files["Doc_0/PublicRes.xml"] = _public_res()
    files["Doc_0/DocumentRes.xml"] = _document_res(media)
    return pack(files)


def pack(files: dict[str, bytes]) -> bytes:
    """The parts as an OFD zip: OFD.xml first, XML deflated, images stored as they are."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in ("OFD.xml", *sorted(n for n in files if n != "OFD.xml")):
            packed = name.endswith(".xml")  # images are compressed already
            zf.writestr(name, files[name], zipfile.ZIP_DEFLATED if packed else zipfile.ZIP_STORED)
    return buf.getvalue()
