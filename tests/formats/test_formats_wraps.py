"""Soft line wraps (formats/wraps.py): a paragraph line that ends only because the column is
full is joined by SOFT_WRAP, so search reads across it; every other line break stays hard."""
from __future__ import annotations

import ofd_gen
import pytest

from bingan.formats.document import open_document
from bingan.formats.wraps import SOFT_WRAP
from bingan.ingest.demo import document_bytes, generate

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def wrapped_pages(gen) -> list[str]:
    with open_document(gen.wrapped_pdf(), "application/pdf") as document:
        return [page.text for page in document.page_texts(ocr=False)]


def test_pdf_paragraph_wrapped_inside_a_word_is_joined_by_soft_wraps(wrapped_pages, gen):
    assert wrapped_pages[0].split("\n")[0] == (
        f"既往史：否认肝炎、结{SOFT_WRAP}核等传染病史。曾患肺{SOFT_WRAP}炎，予抗感染治疗后痊{SOFT_WRAP}"
        "愈，2021年因胸痛行PCI术，术后规律服药。")


def test_pdf_soft_wrap_keeps_the_line_for_display(wrapped_pages, gen):
    assert wrapped_pages[0].split("\n")[0].split(SOFT_WRAP)[:3] == gen.WRAPPED_PARAGRAPH[:3]


def test_pdf_english_hyphenated_wrap_joins_the_word_and_a_wrap_at_a_space_reads_as_a_space(wrapped_pages):
    assert wrapped_pages[0].split("\n")[1] == f"Chest CT shows pneumonia of the right{SOFT_WRAP}lower lobe."


def test_pdf_paragraphs_stay_apart(wrapped_pages):
    assert "服药。\nChest" in wrapped_pages[0]


def test_pdf_table_rows_ending_and_starting_a_word_are_not_joined(wrapped_pages):
    assert "备注：疑似结\n核抗体" in wrapped_pages[1]


def test_pdf_numbered_list_items_are_not_joined(wrapped_pages):
    assert "伤寒、结\n2. 核酸" in wrapped_pages[1]


def test_pdf_field_lines_are_not_joined(wrapped_pages):
    assert "姓名：张三\n性别：男\n年龄：68岁\n住址" in wrapped_pages[1]


def test_pdf_line_ending_a_sentence_is_not_joined(wrapped_pages):
    assert "予出院。\n肺部" in wrapped_pages[1]


def test_page_without_wraps_reads_as_before(gen):
    with open_document(gen.text_pdf(), "application/pdf") as document:
        assert SOFT_WRAP not in "".join(page.text for page in document.page_texts(ocr=False))


def _ofd(lines: list[tuple[str, float, float]]) -> str:
    """One OFD page of 4.2 mm (12 pt) text runs at (x, y) mm, read back."""
    builder = ofd_gen.OfdBuilder()
    builder.pages.append(ofd_gen.PageSpec(texts=[ofd_gen.Text(text, x, y, 4.2) for text, x, y in lines]))
    with open_document(builder.build(), "application/ofd") as document:
        return document.page_texts(ocr=False)[0].text


def test_ofd_paragraph_in_a_narrow_column_is_joined_by_soft_wraps(gen):
    text = _ofd([(line, 20.0, 30.0 + 6.35 * index) for index, line in enumerate(gen.WRAPPED_PARAGRAPH[:3])])
    assert text == f"既往史：否认肝炎、结{SOFT_WRAP}核等传染病史。曾患肺{SOFT_WRAP}炎，予抗感染治疗后痊"


def test_ofd_table_rows_are_not_joined():
    text = _ofd([("检验项目", 20.0, 30.0), ("备注：疑似结", 70.0, 30.0),
                 ("核抗体", 20.0, 36.35), ("建议复查结果", 70.0, 36.35)])
    assert "疑似结\n核抗体" in text


def test_ocr_lines_of_a_wrapped_paragraph_are_joined_by_soft_wraps(gen):
    scan = gen.scan_image(gen.WRAPPED_PARAGRAPH[:3], dpi=200)
    with open_document(gen.image_bytes(scan, "PNG", dpi=(200, 200)), "image/png") as document:
        text = document.page_texts()[0].text
    assert f"结{SOFT_WRAP}核" in text and f"肺{SOFT_WRAP}炎" in text


def test_demo_pdf_paragraphs_are_wrapped_text():
    record = next(generate(1))
    born_digital = [d for d in record.documents if d.kind == "pdf"]
    with open_document(document_bytes(born_digital[1], record), "application/pdf") as document:
        texts = [page.text for page in document.page_texts(ocr=False)]
    assert any(SOFT_WRAP in text for text in texts)
