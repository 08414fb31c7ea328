"""OFD rendering: what must appear where on the page image, and what the PDF must contain."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))

import ofd_gen as gen

from bingan.formats import ofd
from bingan.formats.ofd import images

pytestmark = pytest.mark.timeout(120)
DPI = 100
RICH = gen.rich_ofd()


def px(mm: float) -> int:
    return round(mm / 25.4 * DPI)


def region(img: Image.Image, x: float, y: float, w: float, h: float) -> np.ndarray:
    """Pixels of a rectangle given in mm from the top-left."""
    arr = np.asarray(img.convert("RGB")).astype(int)
    return arr[px(y):px(y + h), px(x):px(x + w)]


def dark(a: np.ndarray) -> float:
    return float((a.sum(axis=2) < 300).mean())


def reddish(a: np.ndarray) -> float:
    return float(((a[..., 0] > 180) & (a[..., 1] < 80) & (a[..., 2] < 80)).mean())


def pdf_text(pdf: bytes, page: int = 0) -> str:
    doc = pdfium.PdfDocument(pdf)
    try:
        return doc[page].get_textpage().get_text_range()
    finally:
        doc.close()


@pytest.fixture(scope="module")
def rich_page() -> Image.Image:
    return ofd.render_page(RICH, 1, dpi=DPI)


def test_page_size_follows_physical_box() -> None:
    img = ofd.render_page(gen.simple_ofd(box="0 0 148 210"), 1, dpi=DPI)  # A5
    assert img.size == (px(148), px(210))


def test_chinese_text_is_drawn_where_the_ofd_puts_it(rich_page: Image.Image) -> None:
    # "住院病案首页": baseline at y=30 mm, 5 mm glyphs from x=20 mm.
    assert dark(region(rich_page, 20, 26, 30, 4)) > 0.05
    assert dark(region(rich_page, 20, 31.5, 30, 2)) < 0.01  # gap between lines
    assert dark(region(rich_page, 110, 26, 60, 4)) == 0  # nothing right of the text


def test_text_survives_in_the_pdf() -> None:
    # pdfium adds spaces where half-width digits sit at full-width pitch: compare without.
    text = pdf_text(ofd.to_pdf(RICH)).replace("\r\n", "\n").replace(" ", "")
    for line in gen.MEDICAL_LINES:
        assert line.replace(" ", "") in text
    assert "模板页眉" in text


def test_paths_strokes_fills_and_arcs(rich_page: Image.Image) -> None:
    fill = region(rich_page, 30, 115, 40, 15).reshape(-1, 3)
    assert np.median(fill, axis=0).tolist() == pytest.approx([200, 255, 200], abs=3)
    edge = region(rich_page, 30, 99.7, 40, 0.6).reshape(-1, 3)  # top stroke, blue, 1 mm wide
    assert (edge[:, 2] > 200).mean() > 0.9 and (edge[:, 0] < 60).mean() > 0.9
    arc_top = region(rich_page, 38, 159, 4, 2)  # the arc passes through (40, 160)
    assert reddish(arc_top) > 0.05


def test_png_image(rich_page: Image.Image) -> None:
    centre = region(rich_page, 138, 113, 4, 4).reshape(-1, 3)
    assert np.median(centre, axis=0).tolist() == pytest.approx([255, 255, 0], abs=3)
    corner = region(rich_page, 120.5, 100.5, 1.5, 1.5).reshape(-1, 3)
    assert np.median(corner, axis=0).tolist() == pytest.approx([0, 128, 255], abs=3)


def test_jbig2_image(rich_page: Image.Image) -> None:
    # The JBIG2 picture is 64x32 px stretched to 64x32 mm: black square at px (4..30, 4..20).
    assert dark(region(rich_page, 125, 145, 20, 10)) > 0.95
    assert dark(region(rich_page, 155, 150, 25, 20)) == 0


def test_jbig2_decoder_matches_the_source_bitmap() -> None:
    src = Image.new("L", (40, 24), 255)
    ImageDraw.Draw(src).line((0, 0, 39, 23), fill=0, width=3)
    out = images.decode_jbig2(gen.jbig2_generic(src))
    assert out.size == src.size
    assert (np.asarray(out) < 128).tolist() == (np.asarray(src) < 128).tolist()


def test_jbig2_file_format_header_is_stripped() -> None:
    src = Image.new("L", (16, 16), 0)
    embedded = gen.jbig2_generic(src)
    file_form = images.JBIG2_FILE_ID + bytes([0x03]) + embedded  # sequential, pages unknown
    assert (np.asarray(images.decode_jbig2(file_form)) < 128).all()


def test_template_is_drawn(rich_page: Image.Image) -> None:
    assert dark(region(rich_page, 20, 12, 40, 3)) > 0.03


def test_template_foreground_covers_the_body() -> None:
    b = gen.OfdBuilder()
    cover = gen.path_object(b.new_id(), "0 0 210 297", "M 10 10 L 200 10 L 200 60 L 10 60 C",
                            stroke="0 0 0", fill="0 0 0", width=0.1)
    b.templates["3"] = (cover, "Foreground")
    b.pages.append(gen.PageSpec(texts=[gen.Text("白字", 20, 30, 5)], template="3"))
    img = ofd.render_page(b.build(), 1, dpi=DPI)
    assert dark(region(img, 15, 15, 150, 40)) > 0.99


def test_annotation_stamp(rich_page: Image.Image) -> None:
    assert reddish(region(rich_page, 140, 230, 40, 40)) > 0.05
    assert reddish(region(rich_page, 100, 230, 30, 40)) == 0


@pytest.mark.parametrize("kind", ["png", "gif", "ofd"])
def test_seal_picture_of_a_signature(kind: str) -> None:
    if kind == "ofd":
        picture = ("ofd", gen.seal_ofd())
    else:
        import io

        buf = io.BytesIO()
        Image.open(io.BytesIO(gen.seal_png())).save(buf, kind.upper())
        picture = (kind, buf.getvalue())
    img = ofd.render_page(gen.signed_ofd(picture=picture), 1, dpi=DPI)
    assert reddish(region(img, 140, 200, 40, 40)) > 0.05  # StampAnnot Boundary 140 200 40 40
    assert reddish(region(img, 20, 200, 100, 40)) == 0
    assert dark(region(img, 20, 26, 30, 4)) > 0.05  # the seal does not hide the page


def test_clip_limits_drawing() -> None:
    b = gen.OfdBuilder()
    clip = ('<ofd:Clips><ofd:Clip><ofd:Area><ofd:Path><ofd:AbbreviatedData>M 0 0 L 50 0 L 50 50 '
            'L 0 50 C</ofd:AbbreviatedData></ofd:Path></ofd:Area></ofd:Clip></ofd:Clips>')
    path = gen.path_object(b.new_id(), "20 20 100 100", "M 0 0 L 100 0 L 100 100 L 0 100 C",
                           stroke="0 0 0", fill="0 0 0", width=0.1)
    b.pages.append(gen.PageSpec(raw=path.replace("<ofd:StrokeColor", clip + "<ofd:StrokeColor")))
    img = ofd.render_page(b.build(), 1, dpi=DPI)
    assert dark(region(img, 22, 22, 46, 46)) > 0.99
    assert dark(region(img, 75, 75, 40, 40)) == 0


def test_invisible_text_is_searchable_but_not_drawn() -> None:
    b = gen.OfdBuilder()
    b.pages.append(gen.PageSpec(texts=[gen.Text("隐藏文字层", 20, 30, 5, fill=False)]))
    data = b.build()
    img = ofd.render_page(data, 1, dpi=DPI)
    assert dark(region(img, 15, 20, 60, 15)) == 0
    assert "隐藏文字层" in pdf_text(ofd.to_pdf(data))
    assert ofd.page_texts(data)[0].text == "隐藏文字层"


def test_embedded_truetype_font_is_used() -> None:
    font = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    if not font.exists():
        pytest.skip("DejaVuSans.ttf (a TrueType font to embed) is not installed")
    b = gen.OfdBuilder()
    b.font_file = font.read_bytes()
    b.pages.append(gen.PageSpec(texts=[gen.Text("Hello OFD", 20, 30, 5, delta=3)]))
    pdf = ofd.to_pdf(b.build())
    assert b"DejaVuSans" in pdf  # the embedded font, not the fallback
    assert "HelloOFD" in pdf_text(pdf).replace(" ", "")  # wide OFD pitch: pdfium adds spaces


def test_broken_embedded_font_falls_back_and_keeps_text() -> None:
    b = gen.OfdBuilder()
    b.font_file = b"\x00\x01\x00\x00 not really a font"
    b.pages.append(gen.text_page(["字体损坏也要显示"]))
    data = b.build()
    assert "字体损坏也要显示" in pdf_text(ofd.to_pdf(data))
    assert dark(region(ofd.render_page(data, 1, dpi=DPI), 20, 26, 30, 4)) > 0.05


def test_broken_image_is_skipped_not_fatal() -> None:
    data = gen.with_part(RICH, "Doc_0/Res/image_50.png", b"\x89PNG broken")
    img = ofd.render_page(data, 1, dpi=DPI)
    assert dark(region(img, 20, 26, 30, 4)) > 0.05


def test_multi_page_render_converts_once() -> None:
    data = gen.simple_ofd(pages=3)
    first = ofd.to_pdf(data)
    images_ = [ofd.render_page(data, n, dpi=72) for n in (1, 2, 3)]
    assert ofd.to_pdf(data) is first  # cached conversion, not a new one
    doc = pdfium.PdfDocument(first)
    assert len(doc) == 3
    doc.close()
    assert all(abs(im.width - 595) <= 1 and abs(im.height - 842) <= 1 for im in images_)


def test_dpi_out_of_range_is_a_format_error() -> None:
    with pytest.raises(ofd.FormatError):
        ofd.render_page(gen.simple_ofd(), 1, dpi=0)
