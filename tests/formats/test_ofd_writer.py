"""OFD writer: read back by our reader, and every part checked against GB/T 33190's schema rules."""
from __future__ import annotations

import io
import zipfile
from xml.etree import ElementTree as ET

import numpy as np
import pytest
from PIL import Image, ImageDraw

from bingan.formats import ofd
from bingan.formats.base import FormatError, PageText, TextBox

pytestmark = pytest.mark.timeout(120)
NS = "http://www.ofdspec.org/2016"
PT = 72 / 25.4

# Required children and attributes per element, from the GB/T 33190-2016 XSD (OFD.xsd,
# Document.xsd, Page.xsd, Res.xsd, Definitions.xsd). Only what the writer can emit is listed.
REQUIRED: dict[str, tuple[list[str], list[str]]] = {
    "OFD": (["DocBody"], ["Version", "DocType"]),
    "DocBody": (["DocInfo", "DocRoot"], []),
    "DocInfo": (["DocID"], []),
    "Document": (["CommonData", "Pages"], []),
    "CommonData": (["MaxUnitID", "PageArea"], []),
    "PageArea": (["PhysicalBox"], []),
    "Pages": (["Page"], []),
    "Page": ([], []),  # Document's Page needs ID/BaseLoc; checked separately (same local name)
    "Content": (["Layer"], []),
    "Layer": ([], ["ID"]),
    "ImageObject": ([], ["ID", "Boundary", "ResourceID"]),
    "TextObject": (["TextCode"], ["ID", "Boundary", "Font", "Size"]),
    "TextCode": ([], []),
    "Res": ([], ["BaseLoc"]),
    "Fonts": (["Font"], []),
    "Font": ([], ["ID", "FontName"]),
    "MultiMedias": (["MultiMedia"], []),
    "MultiMedia": (["MediaFile"], ["ID", "Type"]),
}
ORDER = {  # xs:sequence order of children
    "DocInfo": ["DocID", "Title", "Author", "Subject", "Abstract", "CreationDate", "ModDate",
                "DocUsage", "Cover", "Keywords", "Creator", "CreatorVersion", "CustomDatas"],
    "CommonData": ["MaxUnitID", "PageArea", "PublicRes", "DocumentRes", "TemplatePage",
                   "DefaultCS"],
    "Document": ["CommonData", "Pages", "Outlines", "Permissions", "Actions", "VPreferences",
                 "Bookmarks", "Annotations", "CustomTags", "Attachments", "Extensions"],
}
NUMBER_LISTS = {"Boundary": 4, "CTM": 6, "PhysicalBox": 4}


def local(tag: str) -> str:
    assert tag.startswith("{" + NS + "}"), f"{tag} not in the OFD namespace"
    return tag.split("}", 1)[1]


def check_part(name: str, data: bytes, ids: set[str]) -> None:
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>'), name
    root = ET.fromstring(data)
    for el in root.iter():
        tag = local(el.tag)
        children = [local(c.tag) for c in el]
        required_children, required_attrs = REQUIRED.get(tag, ([], []))
        for req in required_children:
            assert req in children, f"{name}: <{tag}> lacks <{req}>"
        for req in required_attrs:
            assert el.get(req), f"{name}: <{tag}> lacks @{req}"
        if tag in ORDER:
            pos = [ORDER[tag].index(c) for c in children]
            assert pos == sorted(pos), f"{name}: <{tag}> children out of order: {children}"
        for attr, count in NUMBER_LISTS.items():
            if el.get(attr) is not None:
                assert len([float(v) for v in el.get(attr).split()]) == count
        if tag == "PhysicalBox":
            assert len([float(v) for v in el.text.split()]) == 4
        if (el.get("ID") is not None and tag not in ("Page",)) or (tag == "Page" and el.get("ID")):
            assert el.get("ID") not in ids, f"{name}: duplicate ID {el.get('ID')}"
            ids.add(el.get("ID"))
        if tag == "TextObject":
            assert el.get("Fill") == "false"  # invisible text layer
            code = el.find(f"{{{NS}}}TextCode")
            deltas = (code.get("DeltaX") or "").split()
            assert len(deltas) == max(len(code.text) - 1, 0)


def check_package(data: bytes) -> dict[str, bytes]:
    parts = {n: zipfile.ZipFile(io.BytesIO(data)).read(n)
             for n in zipfile.ZipFile(io.BytesIO(data)).namelist()}
    ids: set[str] = set()
    for name, body in parts.items():
        if name.endswith(".xml"):
            check_part(name, body, ids)
    doc = ET.fromstring(parts["Doc_0/Document.xml"])
    max_id = int(doc.find(f".//{{{NS}}}MaxUnitID").text)
    assert max(int(i) for i in ids) <= max_id
    for page in doc.iter(f"{{{NS}}}Page"):
        assert page.get("ID") and page.get("BaseLoc")
        assert "Doc_0/" + page.get("BaseLoc") in parts
    ofd_xml = ET.fromstring(parts["OFD.xml"])
    assert ofd_xml.find(f".//{{{NS}}}Creator").text == "Bingan"
    return parts


def scan(lines: list[str], size: tuple[int, int] = (620, 877)) -> tuple[Image.Image, PageText]:
    """A page image (75 dpi A4) and its text boxes in points."""
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    boxes = []
    for i, line in enumerate(lines):
        top = 30 + i * 20
        draw.rectangle((40, top * 75 / 72, 40 + 12 * len(line), (top + 12) * 75 / 72), fill="gray")
        boxes.append(TextBox(line, 40, top, 40 + 12 * len(line), top + 12))
    return img, PageText(1, "\n".join(lines), boxes, source="ocr")


PAGES = [scan(["出院记录", "姓名：张三 住院号：A123", "诊断：肺炎"]),
         scan(["第二页 检验报告", "血常规 WBC 12.3×10^9/L"])]


def test_round_trip_text_and_pages() -> None:
    data = ofd.write_ofd(PAGES, title="张三病案")
    assert ofd.page_count(data) == 2
    texts = ofd.page_texts(data)
    assert [t.text for t in texts] == [p[1].text for p in PAGES]
    meta = ofd.metadata(data)
    assert meta.title == "张三病案" and meta.producer.startswith("Bingan")


def test_round_trip_boxes_match_input() -> None:
    data = ofd.write_ofd(PAGES)
    got = ofd.page_texts(data)[0].boxes
    for want, box in zip(PAGES[0][1].boxes, got, strict=True):
        assert box.text == want.text
        for a, b in ((box.x0, want.x0), (box.y0, want.y0), (box.x1, want.x1), (box.y1, want.y1)):
            assert a == pytest.approx(b, abs=0.5)


def test_every_part_satisfies_the_schema_rules() -> None:
    parts = check_package(ofd.write_ofd(PAGES, title="A&B <test>"))
    assert {"OFD.xml", "Doc_0/Document.xml", "Doc_0/PublicRes.xml", "Doc_0/DocumentRes.xml",
            "Doc_0/Pages/Page_0/Content.xml", "Doc_0/Pages/Page_1/Content.xml"} <= set(parts)


def test_render_shows_the_image_not_the_text() -> None:
    data = ofd.write_ofd([PAGES[0]])
    img = np.asarray(ofd.render_page(data, 1, dpi=75).convert("L")).astype(int)
    src = np.asarray(PAGES[0][0].convert("L")).astype(int)
    h, w = min(img.shape[0], src.shape[0]), min(img.shape[1], src.shape[1])
    # JPEG and resampling aside, the rendered page is the scan: text layer invisible.
    assert np.abs(img[:h, :w] - src[:h, :w]).mean() < 6


def test_bilevel_and_transparent_images_are_lossless_png() -> None:
    bw = Image.new("1", (200, 280), 1)
    data = ofd.write_ofd([(bw, PageText(1, "", []))])
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert any(n.endswith(".png") for n in names)
    check_package(data)


def test_text_without_boxes_is_still_searchable() -> None:
    img = Image.new("L", (100, 140), 255)
    data = ofd.write_ofd([(img, PageText(1, "无坐标文本\n第二行", []))])
    assert ofd.page_texts(data)[0].text == "无坐标文本\n第二行"


def test_control_characters_and_markup_are_escaped() -> None:
    img = Image.new("RGB", (100, 140), "white")
    page = PageText(1, "a<b>&c\x01", [TextBox("a<b>&c\x01", 10, 10, 60, 22)])
    data = ofd.write_ofd([(img, page)])
    check_package(data)
    assert ofd.page_texts(data)[0].text == "a<b>&c"


def test_page_size_is_written() -> None:
    img = Image.new("RGB", (100, 140), "white")
    data = ofd.write_ofd([(img, PageText(1, "", []))], page_size_mm=(148, 210))
    out = ofd.render_page(data, 1, dpi=72)
    assert abs(out.width - 148 * PT) <= 1 and abs(out.height - 210 * PT) <= 1


@pytest.mark.parametrize("pages", [[], "bad-size"])
def test_invalid_input_is_a_format_error(pages: object) -> None:
    with pytest.raises(FormatError):
        if pages == "bad-size":
            ofd.write_ofd([PAGES[0]], page_size_mm=(0, 297))
        else:
            ofd.write_ofd(pages)  # type: ignore[arg-type]
