"""OFD reader specification: structure, leniency towards real producers, text in reading order."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))

import ofd_gen as gen

from bingan.formats import ofd
from bingan.formats.base import FormatError

pytestmark = pytest.mark.timeout(60)


def test_page_count_and_text_in_reading_order() -> None:
    data = gen.simple_ofd(pages=3)
    assert ofd.page_count(data) == 3
    texts = ofd.page_texts(data)
    assert [p.number for p in texts] == [1, 2, 3]
    assert texts[0].text.splitlines() == [*gen.MEDICAL_LINES, "第 1 页"]
    assert texts[2].text.endswith("第 3 页")
    assert texts[0].source == "text" and not texts[0].needs_ocr


def test_boxes_are_in_points_from_top_left() -> None:
    b = gen.OfdBuilder()
    b.pages.append(gen.PageSpec(texts=[gen.Text("病案", x=10, y=20, size=5)]))
    box = ofd.page_texts(b.build())[0].boxes[0]
    mm = 72 / 25.4
    assert box.text == "病案"
    assert box.x0 == pytest.approx(10 * mm, abs=0.5)
    assert box.x1 == pytest.approx(20 * mm, abs=0.5)  # two glyphs of 5 mm each
    assert box.y0 < 20 * mm < box.y1  # the baseline lies inside the box
    assert box.y1 - box.y0 == pytest.approx(5 * mm, abs=0.5)


def test_reading_order_sorts_lines_and_columns_not_file_order() -> None:
    b = gen.OfdBuilder()
    # Written bottom-up and right-to-left; the right cell is 0.6 mm lower, as in real forms.
    b.pages.append(gen.PageSpec(texts=[
        gen.Text("诊断：肺炎", 110, 50.6), gen.Text("姓名：王五", 20, 50),
        gen.Text("病案首页", 20, 30)]))
    text = ofd.page_texts(b.build())[0].text
    assert text.splitlines() == ["病案首页", "姓名：王五 诊断：肺炎"]


def test_ctm_scales_and_moves_text_boxes() -> None:
    b = gen.OfdBuilder()
    b.pages.append(gen.PageSpec(texts=[gen.Text("放大", 10, 20, size=5, ctm="2 0 0 2 0 0")]))
    box = ofd.page_texts(b.build())[0].boxes[0]
    mm = 72 / 25.4
    assert box.y1 - box.y0 == pytest.approx(10 * mm, abs=0.5)
    assert box.x1 - box.x0 == pytest.approx(20 * mm, abs=0.5)


def test_template_text_is_part_of_the_page() -> None:
    texts = ofd.page_texts(gen.rich_ofd())[0].text.splitlines()
    assert texts[0] == "模板页眉：某某人民医院"  # template sits above the body text
    assert "入院诊断：社区获得性肺炎" in texts


def annotated(*annots: tuple[str, str], body: list[str] | None = None, visible: bool = True) -> bytes:
    """A page of ``body`` lines (the medical record by default) with (Type, text) annotations
    drawn near the top, above the body."""
    b = gen.OfdBuilder()
    b.pages.append(gen.text_page(gen.MEDICAL_LINES if body is None else body))
    b.annotations[0] = "".join(gen.text_annot(900 + 2 * i, kind, text, 20, 12 + 8 * i,
                                              visible=visible)
                               for i, (kind, text) in enumerate(annots))
    return b.build()


@pytest.mark.parametrize("kind", ["Path", "FreeText", "Comment"])
def test_annotation_text_follows_the_body_text(kind: str) -> None:
    page = ofd.page_texts(annotated((kind, "审核意见：同意归档")))[0]
    assert page.text.splitlines() == [*gen.MEDICAL_LINES, "审核意见：同意归档"]
    mm = 72 / 25.4
    assert page.boxes[-1].text == "审核意见：同意归档"
    assert page.boxes[-1].x0 == pytest.approx(20 * mm, abs=0.5)  # where the annotation draws it
    assert page.boxes[-1].y0 < 12 * mm < page.boxes[-1].y1


def test_annotations_keep_their_own_reading_order() -> None:
    text = ofd.page_texts(annotated(("Path", "批注一"), ("Path", "批注二")))[0].text
    assert text.splitlines()[-2:] == ["批注一", "批注二"]


@pytest.mark.parametrize("kind", ["Stamp", "Watermark", "watermark"])
def test_stamp_and_watermark_text_is_not_page_text(kind: str) -> None:
    assert ofd.page_texts(annotated((kind, "内部资料 严禁外传")))[0].text.splitlines() == gen.MEDICAL_LINES


def test_hidden_annotation_text_is_not_page_text() -> None:
    data = annotated(("Path", "已撤销的批注"), visible=False)
    assert "已撤销的批注" not in ofd.page_texts(data)[0].text


def test_page_without_body_text_leaves_annotation_text_to_ocr() -> None:
    # A scan with a note on it: the page must still go to OCR, which reads the note as well.
    page = ofd.page_texts(annotated(("Path", "审核意见：同意归档"), body=[]))[0]
    assert page.text == "" and page.source == "none"


def test_broken_annotation_file_keeps_the_body_text() -> None:
    data = gen.with_part(annotated(("Path", "批注")), "Doc_0/Annots/Page_0/Annotation.xml", b"<a")
    assert ofd.page_texts(data)[0].text.splitlines() == gen.MEDICAL_LINES


@pytest.mark.parametrize("variant", [
    {"namespace": None}, {"declare_ns": False}, {"namespace": "http://www.ofdspec.org"},
    {"encoding": "GBK"}, {"encoding": "GB18030"}, {"upper_paths": True},
], ids=["no-namespace", "undeclared-prefix", "wrong-namespace", "gbk", "gb18030", "DOC_0"])
def test_lenient_towards_producer_quirks(variant: dict) -> None:
    data = gen.simple_ofd(**variant)
    assert ofd.page_count(data) == 1
    assert "入院诊断：社区获得性肺炎" in ofd.page_texts(data)[0].text


def test_gbk_bytes_declared_as_utf8_still_decode() -> None:
    b = gen.OfdBuilder()
    b.pages.append(gen.text_page(["门诊病历"]))
    parts = b.parts()
    page = "Doc_0/Pages/Page_0/Content.xml"
    parts[page] = parts[page].decode("utf-8").encode("gbk")  # declaration still says UTF-8
    assert ofd.page_texts(gen.zip_parts(parts))[0].text == "门诊病历"


def test_absolute_and_backslash_references() -> None:
    b = gen.OfdBuilder()
    b.pages.append(gen.text_page(["检验报告"]))
    parts = b.parts()
    doc = parts["Doc_0/Document.xml"].decode()
    parts["Doc_0/Document.xml"] = doc.replace('BaseLoc="Pages/Page_0/Content.xml"',
                                              'BaseLoc="/Doc_0\\Pages\\Page_0\\Content.xml"').encode()
    assert ofd.page_texts(gen.zip_parts(parts))[0].text == "检验报告"


def test_missing_optional_parts_are_tolerated() -> None:
    data = gen.simple_ofd()
    for part in ("Doc_0/PublicRes.xml", "Doc_0/DocumentRes.xml"):
        data = gen.with_part(data, part, None)
    assert "病案号 2024000123" in ofd.page_texts(data)[0].text


def test_missing_page_part_gives_empty_page() -> None:
    data = gen.with_part(gen.simple_ofd(pages=2), "Doc_0/Pages/Page_1/Content.xml", None)
    texts = ofd.page_texts(data)
    assert len(texts) == 2 and texts[1].text == "" and texts[1].source == "none"


def test_metadata_from_docinfo() -> None:
    meta = ofd.metadata(gen.simple_ofd(pages=2, creator="数科OFD", title="出院小结"))
    assert meta.media_type == "application/ofd"
    assert meta.pages == 2
    assert meta.producer == "数科OFD 1.0"
    assert meta.title == "出院小结"
    assert meta.created is not None and meta.created.year == 2024 and meta.created.hour == 8
    assert meta.signatures == []
    assert meta.extra["Author"] == "病案室"


def test_attachments_are_listed() -> None:
    b = gen.OfdBuilder()
    b.pages.append(gen.text_page(["附件"]))
    parts = b.parts()
    doc = parts["Doc_0/Document.xml"].decode()
    parts["Doc_0/Document.xml"] = doc.replace(
        "</ofd:Pages>", "</ofd:Pages><ofd:Attachments>Attachs/Attachments.xml</ofd:Attachments>").encode()
    parts["Doc_0/Attachs/Attachments.xml"] = (
        f'<ofd:Attachments xmlns:ofd="{gen.NS}"><ofd:Attachment ID="1" Name="检验单.pdf" '
        'Format="pdf"><ofd:FileLoc>a.pdf</ofd:FileLoc></ofd:Attachment></ofd:Attachments>').encode()
    parts["Doc_0/Attachs/a.pdf"] = b"%PDF-1.4"
    from bingan.formats.ofd.reader import OfdDocument

    doc_obj = OfdDocument(gen.zip_parts(parts))
    assert doc_obj.attachments() == [("检验单.pdf", "Doc_0/Attachs/a.pdf")]


def test_page_number_out_of_range_is_a_format_error() -> None:
    with pytest.raises(FormatError) as err:
        ofd.render_page(gen.simple_ofd(), 5)
    assert "页码" in err.value.message


def test_vertical_text_with_delta_y() -> None:
    b = gen.OfdBuilder()
    b.pages.append(gen.PageSpec(raw=(
        '<ofd:TextObject ID="900" Boundary="100 20 10 60" Font="2" Size="5">'
        '<ofd:TextCode X="0" Y="5" DeltaY="6 6 6">竖排文字</ofd:TextCode></ofd:TextObject>')))
    box = ofd.page_texts(b.build())[0].boxes[0]
    mm = 72 / 25.4
    assert box.text == "竖排文字"
    assert box.y1 - box.y0 == pytest.approx((18 + 5) * mm, abs=0.5)  # three steps + one glyph
    assert box.x1 - box.x0 == pytest.approx(5 * mm, abs=0.5)


def test_rotated_text_box_follows_the_ctm() -> None:
    b = gen.OfdBuilder()
    # 90° rotation: the run goes down the page from the boundary origin.
    b.pages.append(gen.PageSpec(raw=(
        '<ofd:TextObject ID="901" Boundary="50 50 20 40" Font="2" Size="5" CTM="0 1 -1 0 0 0">'
        '<ofd:TextCode X="0" Y="0" DeltaX="5 5">旋转字</ofd:TextCode></ofd:TextObject>')))
    box = ofd.page_texts(b.build())[0].boxes[0]
    mm = 72 / 25.4
    assert box.y1 - box.y0 == pytest.approx(15 * mm, abs=0.5)
    assert box.y0 == pytest.approx(50 * mm, abs=0.5)
