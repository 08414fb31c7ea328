"""Plain text files: encodings detected, A4 pages in Noto CJK, paginated by lines, rendered."""
from __future__ import annotations

import codecs

import numpy as np
import pytest

from bingan.formats import text as plain
from bingan.formats.document import open_document
from bingan.formats.ocr import ocr_image
from bingan.formats.quality import has_ink

pytestmark = pytest.mark.timeout(120)

REPORT = "检验报告单\n姓名：张三\t性别：男\n白细胞计数 WBC 6.5 ×10^9/L\n血红蛋白 HGB 135 g/L"
PER_PAGE = int((plain.PAGE_HEIGHT_PT - 2 * plain.MARGIN_PT) // plain.LINE_HEIGHT_PT)


@pytest.mark.parametrize(("encoded", "encoding"), [
    (REPORT.encode("utf-8"), "utf-8"),
    (codecs.BOM_UTF8 + REPORT.encode("utf-8"), "utf-8"),
    (REPORT.replace("×", "x").encode("gbk"), "gb18030"),  # GBK is read as its superset
    (("䶮" + REPORT).encode("gb18030"), "gb18030"),  # a 4-byte GB18030 character
    (REPORT.encode("utf-16"), "utf-16"),  # with BOM, as Windows Notepad writes "Unicode"
])
def test_encodings_are_detected_and_decoded(encoded, encoding):
    with open_document(encoded) as document:
        assert document.media_type == "text/plain"
        assert document.metadata().extra["encoding"] == encoding
        page = document.page_texts()[0]
    assert "姓名：张三    性别：男" in page.text and "血红蛋白 HGB 135 g/L" in page.text
    assert page.source == "text" and not page.needs_ocr


def test_lines_are_paginated_onto_a4_pages():
    lines = [f"第{i}行 血红蛋白 HGB 135 g/L" for i in range(PER_PAGE * 2 + 5)]
    with open_document("\n".join(lines).encode("gb18030")) as document:
        pages = document.page_texts()
    assert len(pages) == 3
    assert [page.text.splitlines()[0] for page in pages] == [lines[0], lines[PER_PAGE], lines[2 * PER_PAGE]]
    assert [len(page.boxes) for page in pages] == [PER_PAGE, PER_PAGE, 5]


def test_form_feed_starts_a_new_page():
    with open_document("第一页\f第二页".encode()) as document:
        assert [page.text for page in document.page_texts()] == ["第一页", "第二页"]


def test_long_line_wraps_inside_the_margins_and_text_joins_it_back():
    long_line = "诊疗计划：低盐低脂饮食，头孢哌酮舒巴坦钠抗感染治疗，" * 6
    with open_document(long_line.encode()) as document:
        page = document.page_texts()[0]
        image = document.render(1, dpi=72)
    assert len(page.boxes) > 1  # wrapped onto several lines
    assert page.text == long_line.rstrip()  # no line break inside a term for the index
    assert max(box.x1 for box in page.boxes) <= plain.PAGE_WIDTH_PT - plain.MARGIN_PT
    ink_columns = np.nonzero((np.asarray(image.convert("L")) < 128).any(axis=0))[0]
    assert ink_columns.min() >= plain.MARGIN_PT - 2 and ink_columns.max() <= plain.PAGE_WIDTH_PT - plain.MARGIN_PT + 2


def test_latin_words_are_not_split_when_a_space_allows():
    words = " ".join(["hemoglobin"] * 40)
    lines = plain.wrap(words)
    assert len(lines) > 1 and all(line.text.split(" ")[-1] == "hemoglobin" for line in lines)
    assert plain.TextPage(1, tuple(lines)).text == words


def test_render_is_an_a4_page_at_the_requested_size():
    with open_document(REPORT.encode()) as document:
        assert document.render(1, dpi=150).size == (1240, 1754)
        assert document.render(1, width=600).width == 600
        assert has_ink(document.render(1, dpi=24))


def test_rendered_glyphs_are_real_chinese():
    """The page is drawn in a CJK font (no empty boxes): OCR reads the words back."""
    with open_document(REPORT.encode()) as document:
        image = document.render(1, dpi=200)
    top = image.crop((0, 0, image.width, int(image.height * 0.16)))
    recognised = ocr_image(top).text
    assert "检验报告单" in recognised and "血红蛋白" in recognised


def test_whitespace_only_file_is_one_empty_page():
    with open_document(b"   \n\n  ") as document:
        pages = document.page_texts()
    assert [(page.text, page.source) for page in pages] == [("", "none")]


def test_text_through_the_guarded_path():
    with open_document(REPORT.encode("gbk", "replace"), guarded=True) as document:
        assert document.page_count() == 1 and document.render(1, dpi=36).width == 298
