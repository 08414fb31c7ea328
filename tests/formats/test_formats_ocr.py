"""OCR on generated scans (few tests: each page costs seconds)."""
from __future__ import annotations

import pytest

from bingan.formats import ocr
from bingan.formats.document import open_document
from bingan.formats.quality import FIELD_GAP

pytestmark = pytest.mark.timeout(120)

KEY_TERMS = ["入院记录", "主诉", "现病史", "2型糖尿病", "冠状动脉粥样硬化性心脏病", "阿司匹林肠溶片"]


@pytest.fixture(scope="module")
def scanned_png_page(gen, scan_300dpi):
    return open_document(gen.image_bytes(scan_300dpi, "PNG", dpi=(300, 300))).page_texts()[0]


def test_ocr_keeps_medical_terms_on_a_skewed_noisy_scan(scanned_png_page):
    assert [term for term in KEY_TERMS if term not in scanned_png_page.text] == []


def test_ocr_page_has_boxes_in_points(scanned_png_page):
    first = scanned_png_page.boxes[0]
    assert scanned_png_page.source == "ocr" and first.text == "入院记录"
    # The text starts one inch (72 pt) from the top-left corner of the page.
    assert 60 < first.x0 < 100 and 60 < first.y0 < 100


def test_pdf_page_with_mojibake_text_layer_is_read_by_ocr(gen, scan_300dpi):
    garbage = [gen.mojibake(line) for line in gen.MEDICAL_PAGES[0]]
    page = open_document(gen.scanned_pdf([scan_300dpi], hidden_text=garbage)).page_texts()[0]
    assert page.source == "ocr" and "冠状动脉粥样硬化性心脏病" in page.text


def test_ocr_cache_returns_without_recomputing(gen):
    ocr.clear_cache()
    calls = []

    def image():
        calls.append(1)
        return gen.scan_image(["主诉"], dpi=150), 72 / 150

    first = ocr.ocr_cached("same-key", image, page_number=1)
    second = ocr.ocr_cached("same-key", image, page_number=4)
    assert len(calls) == 1 and second.text == first.text and second.number == 4


def test_tesseract_fallback_reads_chinese_without_spaces(gen):
    lines = ocr._tesseract_lines(gen.scan_image(["入院记录", "2型糖尿病"], dpi=300))
    text = ocr._page_text(lines, 1, 1.0).text
    assert "入院记录" in text and "2型糖尿病" in text


def test_ocr_keeps_a_field_gap_between_fields_far_apart(gen):
    image = gen.scan_image(["姓名：张三            性别：男            年龄：68岁"], dpi=150)
    assert ocr.ocr_image(image.crop((0, 120, image.width, 200))).text == FIELD_GAP.join(gen.FORM_FIELDS)
