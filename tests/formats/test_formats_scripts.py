"""Real-world text layers: every script, rare name characters and symbols survive; OCR reads
only pages without a usable layer, and never costs a page the text its layer had.

Pages are routed through ``Document.page_texts()`` in "auto" mode; whether a page was read
by OCR shows in its ``source``."""
from __future__ import annotations

import pypdfium2 as pdfium
import pytest

from bingan.formats.document import open_document
from bingan.formats.quality import FIELD_GAP, normalize_cjk_spaces

pytestmark = pytest.mark.timeout(300)

RARE_NAMES = ["王𠮷", "刘䶮", "张㛃", "李㐂", "赵㐄", "𠮷䶮㛃㐂㐄"]


@pytest.fixture(scope="module")
def script_file(gen) -> bytes:
    return gen.script_pdf([gen.RARE_NAME_PAGE, gen.KOREAN_PAGE, gen.ARABIC_PAGE])


@pytest.fixture(scope="module")
def script_pages(script_file):
    return open_document(script_file).page_texts()


def bare_pdfium_text(data: bytes, number: int) -> str:
    document = pdfium.PdfDocument(data)
    try:
        return document[number - 1].get_textpage().get_text_range().replace("\r\n", "\n")
    finally:
        document.close()


def test_rare_name_characters_of_the_extension_blocks_survive_extraction(script_pages):
    assert [name for name in RARE_NAMES if name not in script_pages[0].text] == []


def test_pages_in_other_scripts_keep_their_text_layer(script_pages):
    assert [page.source for page in script_pages] == ["text", "text", "text"]


@pytest.mark.parametrize("number", [2, 3], ids=["korean", "arabic"])
def test_page_in_another_script_reads_as_bare_pdfium_reads_it(script_file, script_pages, number):
    assert script_pages[number - 1].text == normalize_cjk_spaces(bare_pdfium_text(script_file, number))


def test_field_gap_after_a_character_outside_the_bmp_is_kept(script_pages):
    assert f"王𠮷{FIELD_GAP}性别：男" in script_pages[0].text


def test_line_boxes_hold_rare_characters(script_pages):
    assert [box.text for box in script_pages[0].boxes] == [
        f"患者：王𠮷{FIELD_GAP}性别：男", FIELD_GAP.join(["家属：刘䶮", "张㛃", "李㐂", "赵㐄"]), "曾用名：𠮷䶮㛃㐂㐄"]


@pytest.mark.parametrize("pages", ["KOREAN_PAGE", "ARABIC_PAGE"])
def test_ocr_that_cannot_read_the_script_never_replaces_a_damaged_layer(gen, pages):
    # Every other glyph maps to U+FFFD: the layer fails the quality check, OCR runs, reads
    # less of the script than the layer still has, and the layer stays.
    data = gen.damaged_unicode_maps(gen.script_pdf([getattr(gen, pages)]))
    document = open_document(data)
    layer = document.page_texts(ocr=False)[0]
    page = document.page_texts()[0]
    assert layer.needs_ocr and (page.source, page.text) == ("text", layer.text)


def test_no_page_of_a_born_digital_book_is_read_by_ocr(gen):
    # Latin accents, ligature-like symbols, arrows, figures and vector charts on the pages.
    pages = open_document(gen.book_pdf(20)).page_texts()
    assert [page.number for page in pages if page.source != "text" or page.needs_ocr] == []


def test_image_only_pages_carrying_one_typed_line_are_read_by_ocr(gen):
    pages = open_document(gen.multi_page_scan(2)).page_texts()
    assert [page.source for page in pages] == ["ocr", "ocr"]
    assert "multi page document" in pages[0].text and "Page 2" in pages[1].text


def test_scan_under_a_short_text_label_is_read_by_ocr_and_keeps_the_label(gen):
    # An archive stamps a scanned page with an invisible label; the page's words are in the picture.
    data = gen.scanned_pdf([gen.scan_image(dpi=150)], hidden_text=["Scanned 2024-01-05 p.1"])
    page = open_document(data).page_texts()[0]
    assert page.source == "ocr" and "冠状动脉粥样硬化性心脏病" in page.text
    assert "Scanned 2024-01-05 p.1" in page.text
