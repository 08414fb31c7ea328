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
import ofd_sign_gen as sign

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
    img = ofd.render_page(sign.signed_ofd(picture=picture), 1, dpi=DPI)
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


# -- line styles, shadings and colour spaces ---------------------------------------------------------
BAR = "M 0 0 L 160 0 L 160 30 L 0 30 C"  # a 160 x 30 mm rectangle in object space


def paint_page(*objects: str, color_spaces: tuple[str, ...] = (),
               draw_params: tuple[str, ...] = ()) -> Image.Image:
    """A 200 x 120 mm page with the given content objects, rendered at DPI."""
    b = gen.OfdBuilder(box="0 0 200 120")
    b.color_spaces.extend(color_spaces)
    b.draw_params.extend(draw_params)
    b.pages.append(gen.PageSpec(raw="".join(objects)))
    return ofd.render_page(b.build(), 1, dpi=DPI)


def rgb_at(img: Image.Image, x: float, y: float) -> list[int]:
    """The median colour of a 1 mm square centred on (x, y) mm."""
    return np.median(region(img, x - 0.5, y - 0.5, 1, 1).reshape(-1, 3), axis=0).tolist()


def inked(img: Image.Image, x: float, y: float) -> bool:
    return dark(region(img, x - 0.5, y - 0.5, 1, 1)) > 0.5


def line(obj_id: int, attrs: str) -> str:
    """A black horizontal line from x=20 to x=180 mm at y=50, 1 mm wide."""
    return gen.shape(obj_id, "20 50 160 1", "M 0 0 L 160 0",
                     stroke='<ofd:StrokeColor Value="0 0 0"/>', attrs=f' LineWidth="1"{attrs}')


def test_dash_pattern_leaves_gaps_at_its_period() -> None:
    img = paint_page(line(1, ' DashPattern="5 5"'))
    assert all(inked(img, 22.5 + 10 * k, 50) for k in range(16))  # 5 mm dash every 10 mm
    assert not any(inked(img, 27.5 + 10 * k, 50) for k in range(16))  # 5 mm gap between


def test_dash_offset_shifts_the_pattern() -> None:
    img = paint_page(line(1, ' DashPattern="5 5" DashOffset="5"'))
    assert not any(inked(img, 22.5 + 10 * k, 50) for k in range(16))  # starts with the gap
    assert all(inked(img, 27.5 + 10 * k, 50) for k in range(16))


def test_dash_and_colour_come_from_a_relative_draw_param() -> None:
    base = ('<ofd:DrawParam ID="7" DashPattern="5 5" LineWidth="1">'
            '<ofd:StrokeColor Value="0 0 255"/></ofd:DrawParam>')
    child = '<ofd:DrawParam ID="8" Relative="7"/>'  # sets nothing itself
    obj = gen.shape(1, "20 50 160 1", "M 0 0 L 160 0", attrs=' DrawParam="8"')
    img = paint_page(obj, draw_params=(base, child))
    assert rgb_at(img, 22.5, 50) == pytest.approx([0, 0, 255], abs=10)
    assert rgb_at(img, 27.5, 50) == pytest.approx([255, 255, 255], abs=3)


@pytest.mark.parametrize(("cap", "beyond_end"), [("Butt", False), ("Round", True), ("Square", True)])
def test_line_cap_decides_whether_the_stroke_passes_its_end(cap: str, beyond_end: bool) -> None:
    obj = gen.shape(1, "20 50 80 1", "M 0 0 L 80 0", stroke='<ofd:StrokeColor Value="0 0 0"/>',
                    attrs=f' LineWidth="6" Cap="{cap}"')
    img = paint_page(obj)
    assert inked(img, 99, 50)
    assert inked(img, 101.5, 50) is beyond_end  # a cap adds half the width (3 mm)


def axial(extend: int = 0, start: str = "0 0", end: str = "160 0") -> str:
    return (f'<ofd:FillColor><ofd:AxialShd StartPoint="{start}" EndPoint="{end}" Extend="{extend}">'
            f'{gen.segments((0, "255 0 0"), (1, "0 0 255"))}</ofd:AxialShd></ofd:FillColor>')


def test_axial_shading_goes_from_the_first_colour_to_the_last_along_its_axis() -> None:
    img = paint_page(gen.shape(1, "20 40 160 30", BAR, fill=axial(), attrs=' Fill="true" Stroke="false"'))
    assert rgb_at(img, 21, 55) == pytest.approx([250, 0, 5], abs=8)  # start: red
    assert rgb_at(img, 100, 55) == pytest.approx([128, 0, 128], abs=8)  # halfway: the mix
    assert rgb_at(img, 179, 55) == pytest.approx([5, 0, 250], abs=8)  # end: blue
    reds = [rgb_at(img, x, 45)[0] for x in range(25, 180, 10)]
    assert reds == sorted(reds, reverse=True)  # red fades steadily along the axis
    assert rgb_at(img, 100, 45) == rgb_at(img, 100, 65)  # constant across the axis


@pytest.mark.parametrize(("extend", "before", "after"), [
    (0, [255, 255, 255], [255, 255, 255]),  # nothing drawn beyond the axis ends
    (1, [255, 0, 0], [255, 255, 255]),  # 1: continued before the start point
    (2, [255, 255, 255], [0, 0, 255]),  # 2: continued after the end point
    (3, [255, 0, 0], [0, 0, 255]),
])
def test_axial_extend_continues_the_end_colours_beyond_the_axis(
        extend: int, before: list[int], after: list[int]) -> None:
    fill = axial(extend, start="40 0", end="120 0")  # the axis covers half the bar
    img = paint_page(gen.shape(1, "20 40 160 30", BAR, fill=fill, attrs=' Fill="true" Stroke="false"'))
    assert rgb_at(img, 40, 55) == pytest.approx(before, abs=3)
    assert rgb_at(img, 160, 55) == pytest.approx(after, abs=3)


def test_axial_reflect_mirrors_the_segments_every_map_unit() -> None:
    fill = axial().replace("<ofd:AxialShd ", '<ofd:AxialShd MapType="Reflect" MapUnit="40" ')
    img = paint_page(gen.shape(1, "20 40 160 30", BAR, fill=fill, attrs=' Fill="true" Stroke="false"'))
    for x, expected in ((21, [250, 0, 5]), (60, [0, 0, 255]), (100, [255, 0, 0]), (140, [0, 0, 255]),
                        (179, [250, 0, 5])):
        assert rgb_at(img, x, 55) == pytest.approx(expected, abs=10), x


def test_radial_shading_changes_colour_with_the_distance_from_its_centre() -> None:
    fill = ('<ofd:FillColor><ofd:RadialShd StartPoint="50 50" EndPoint="50 50" EndRadius="40" '
            f'Extend="2">{gen.segments((0, "255 255 0"), (1, "0 128 0"))}</ofd:RadialShd></ofd:FillColor>')
    img = paint_page(gen.shape(1, "50 10 100 100", "M 0 0 L 100 0 L 100 100 L 0 100 C", fill=fill,
                               attrs=' Fill="true" Stroke="false"'))
    assert rgb_at(img, 100, 60) == pytest.approx([255, 255, 0], abs=10)  # the centre
    ring = [rgb_at(img, 100 + dx, 60 + dy) for dx, dy in ((20, 0), (-20, 0), (0, 20), (0, -20))]
    assert all(c == pytest.approx([128, 192, 0], abs=12) for c in ring)  # halfway out, any side
    assert rgb_at(img, 145, 105) == pytest.approx([0, 128, 0], abs=3)  # past the end radius


def test_indexed_colour_takes_the_palette_entry() -> None:
    space = ('<ofd:ColorSpace ID="5" Type="RGB"><ofd:Palette><ofd:CV>0 0 0</ofd:CV>'
             '<ofd:CV>0 160 0</ofd:CV><ofd:CV>0 0 255</ofd:CV></ofd:Palette></ofd:ColorSpace>')
    obj = gen.shape(1, "20 40 160 30", BAR, fill='<ofd:FillColor ColorSpace="5" Index="1"/>',
                    attrs=' Fill="true" Stroke="false"')
    img = paint_page(obj, color_spaces=(space,))
    assert rgb_at(img, 100, 55) == pytest.approx([0, 160, 0], abs=3)


@pytest.mark.parametrize(("space", "value", "expected"), [
    ('Type="GRAY" BitsPerComponent="4"', "10", [170, 170, 170]),  # 10 of 15
    ('Type="CMYK" BitsPerComponent="8"', "0 255 255 0", [255, 0, 0]),
    ('Type="RGB" BitsPerComponent="16"', "0 32896 65535", [0, 128, 255]),
])
def test_colour_space_type_and_bits_per_component(space: str, value: str, expected: list[int]) -> None:
    obj = gen.shape(1, "20 40 160 30", BAR, fill=f'<ofd:FillColor ColorSpace="6" Value="{value}"/>',
                    attrs=' Fill="true" Stroke="false"')
    img = paint_page(obj, color_spaces=(f'<ofd:ColorSpace ID="6" {space}/>',))
    assert rgb_at(img, 100, 55) == pytest.approx(expected, abs=3)


def test_colour_alpha_lets_the_page_show_through() -> None:
    obj = gen.shape(1, "20 40 160 30", BAR, fill='<ofd:FillColor Value="255 0 0" Alpha="128"/>',
                    attrs=' Fill="true" Stroke="false"')
    assert rgb_at(paint_page(obj), 100, 55) == pytest.approx([255, 127, 127], abs=4)


def test_pattern_fill_falls_back_to_the_colour_of_its_cell() -> None:
    cell = gen.shape(2, "0 0 4 4", "M 0 0 L 4 0 L 4 4 L 0 4 C",
                     fill='<ofd:FillColor Value="0 0 200"/>', attrs=' Fill="true"')
    fill = (f'<ofd:FillColor><ofd:Pattern Width="4" Height="4"><ofd:CellContent>{cell}'
            '</ofd:CellContent></ofd:Pattern></ofd:FillColor>')
    obj = gen.shape(1, "20 40 160 30", BAR, fill=fill, attrs=' Fill="true" Stroke="false"')
    assert rgb_at(paint_page(obj), 100, 55) == pytest.approx([0, 0, 200], abs=3)


def test_gouraud_shading_falls_back_to_its_average_colour() -> None:
    points = "".join(f'<ofd:Point X="{x}" Y="{y}"><ofd:Color Value="{v}"/></ofd:Point>'
                     for x, y, v in ((0, 0, "255 0 0"), (160, 0, "0 0 255"), (0, 30, "255 0 255")))
    fill = f"<ofd:FillColor><ofd:GouraudShd>{points}</ofd:GouraudShd></ofd:FillColor>"
    obj = gen.shape(1, "20 40 160 30", BAR, fill=fill, attrs=' Fill="true" Stroke="false"')
    assert rgb_at(paint_page(obj), 100, 55) == pytest.approx([170, 0, 170], abs=3)
