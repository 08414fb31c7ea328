"""PDF through the one interface: text with boxes, rendering, metadata, damage, encryption."""
from __future__ import annotations

import io

import pikepdf
import pytest

from bingan.formats.base import FormatError
from bingan.formats.document import open_document
from bingan.formats.quality import FIELD_GAP, normalize_cjk_spaces
from bingan.ingest.extract import text_hash

pytestmark = pytest.mark.timeout(60)


def test_text_round_trip_preserves_chinese(gen, text_pdf):
    pages = open_document(text_pdf).page_texts(ocr=False)
    expected = [normalize_cjk_spaces("\n".join(lines)) for lines in gen.MEDICAL_PAGES]
    assert [page.text for page in pages] == expected


def test_text_pages_come_from_text_layer(text_pdf):
    pages = open_document(text_pdf).page_texts()
    assert [(page.source, page.needs_ocr) for page in pages] == [("text", False), ("text", False)]


def test_boxes_hold_each_line_at_its_position(gen, text_pdf):
    page = open_document(text_pdf).page_texts(ocr=False)[0]
    first = page.boxes[0]
    assert first.text == "入院记录"
    # Drawn at x=72 pt, baseline 72 pt below the top edge, 12 pt font.
    assert 70 < first.x0 < 75 and 58 < first.y0 < first.y1 < 76


def test_boxes_cover_every_line(gen, text_pdf):
    page = open_document(text_pdf).page_texts(ocr=False)[1]
    assert [box.text for box in page.boxes] == [normalize_cjk_spaces(line) for line in gen.MEDICAL_PAGES[1]]


@pytest.fixture(scope="module")
def form_lines(gen):
    return open_document(gen.form_pdf()).page_texts(ocr=False)[0].text.split("\n")


def test_fields_drawn_as_separate_runs_keep_a_field_gap(gen, form_lines):
    assert form_lines[1] == FIELD_GAP.join(gen.FORM_FIELDS)


def test_fields_separated_by_typed_spaces_keep_a_field_gap(gen, form_lines):
    assert form_lines[2] == FIELD_GAP.join(gen.FORM_FIELDS)


def test_fields_separated_by_ideographic_spaces_keep_a_field_gap(gen, form_lines):
    assert form_lines[3] == FIELD_GAP.join(gen.FORM_FIELDS)


def test_table_cells_stay_separated_row_by_row(gen, form_lines):
    assert form_lines[4:] == [FIELD_GAP.join(row) for row in gen.FORM_TABLE]


def test_title_drawn_letter_by_letter_is_one_word(form_lines):
    assert form_lines[0] == "出院小结"


def test_title_with_a_space_after_every_character_is_one_word(gen):
    page = open_document(gen.text_pdf([["入 院 记 录", "病 程 记 录：第 2 天"]])).page_texts(ocr=False)[0]
    assert page.text == "入院记录\n病程记录：第2天"


def test_two_columns_read_one_column_after_the_other(gen):
    page = open_document(gen.two_column_pdf()).page_texts(ocr=False)[0]
    assert page.text.split("\n") == gen.LEFT_COLUMN + gen.RIGHT_COLUMN


def test_field_gaps_change_only_whitespace_so_text_hashes_stay(gen):
    import pypdfium2 as pdfium

    data = gen.form_pdf()
    pdfium_text = pdfium.PdfDocument(data)[0].get_textpage().get_text_range()
    assert text_hash(open_document(data).page_texts(ocr=False)[0].text) == text_hash(pdfium_text)


def test_render_size_follows_dpi(text_pdf):
    image = open_document(text_pdf).render(1, dpi=144)
    assert (image.width, image.height) == (round(595.28 * 2), round(841.89 * 2))


def test_render_size_follows_width(text_pdf):
    assert open_document(text_pdf).render(2, width=600).width == 600


def test_render_page_out_of_range_is_format_error(text_pdf):
    with pytest.raises(FormatError, match="超出范围"):
        open_document(text_pdf).render(3)


def test_metadata_producer_title_and_date(text_pdf):
    meta = open_document(text_pdf).metadata()
    assert (meta.media_type, meta.pages, meta.producer, meta.title) == (
        "application/pdf", 2, "Bingan test generator", "入院记录")
    assert meta.created is not None and meta.created.year == 2000


def test_file_path_opens_like_bytes(text_pdf, tmp_path):
    path = tmp_path / "record.bin"
    path.write_bytes(text_pdf)
    with open_document(path) as document:
        assert document.page_count() == 2


def test_encrypted_pdf_reported_in_chinese(gen, text_pdf):
    with pytest.raises(FormatError, match="已加密"):
        open_document(gen.encrypted_pdf(text_pdf)).page_count()


def test_empty_user_password_still_opens(gen, text_pdf):
    document = open_document(gen.encrypted_pdf(text_pdf, user_password=""))
    assert document.metadata().encrypted
    assert "主诉" in document.page_texts(ocr=False)[0].text


@pytest.mark.parametrize("damage", ["truncated", "bit_flipped", "random_bytes"])
def test_damaged_pdf_is_format_error_with_chinese_message(gen, text_pdf, damage):
    data = {"truncated": gen.truncated(text_pdf), "bit_flipped": gen.bit_flipped(text_pdf),
            "random_bytes": b"%PDF-1.4\n" + gen.random_bytes()}[damage]
    try:
        document = open_document(data)
        document.page_texts(ocr=False)
    except FormatError as error:
        assert "PDF" in error.message and any("\u4e00" <= ch <= "\u9fff" for ch in error.message)


def test_zero_byte_file_rejected():
    with pytest.raises(FormatError, match="文件为空"):
        open_document(b"")


def test_broken_xref_repaired_by_pikepdf(text_pdf):
    # Wrong offsets in the cross-reference table: PDFium gives up, qpdf rebuilds it.
    broken = text_pdf.replace(b"xref", b"xxxx").replace(b"trailer", b"trailxx")
    document = open_document(broken)
    assert "入院记录" in document.page_texts(ocr=False)[0].text
    assert document.metadata().extra["reader"] == "pdfium+repaired"


def test_blank_page_needs_no_ocr(gen):
    page = open_document(gen.blank_pdf()).page_texts(ocr="auto")[0]
    assert (page.text, page.source, page.needs_ocr) == ("", "none", False)


def test_image_only_page_is_routed_to_ocr(gen):
    data = gen.scanned_pdf([gen.scan_image(dpi=100)])
    page = open_document(data).page_texts(ocr=False)[0]
    assert page.needs_ocr and page.source == "none"


def test_mojibake_text_layer_is_routed_to_ocr(gen):
    garbage = [gen.mojibake(line) for line in gen.MEDICAL_PAGES[0]]
    data = gen.scanned_pdf([gen.scan_image(dpi=100)], hidden_text=garbage)
    page = open_document(data).page_texts(ocr=False)[0]
    assert page.text and page.needs_ocr


def _with_signature_field(data: bytes) -> bytes:
    pdf = pikepdf.open(io.BytesIO(data))
    value = pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Sig, Filter=pikepdf.Name("/Adobe.PPKLite"),
        SubFilter=pikepdf.Name("/adbe.pkcs7.detached"), Contents=pikepdf.String(b"\x00" * 64),
        ByteRange=pikepdf.Array([0, 10, 20, 10]), M=pikepdf.String("D:20240315103000+08'00'")))
    field = pdf.make_indirect(pikepdf.Dictionary(
        FT=pikepdf.Name.Sig, T=pikepdf.String("sig1"), V=value, Type=pikepdf.Name.Annot,
        Subtype=pikepdf.Name.Widget, Rect=[0, 0, 0, 0], P=pdf.pages[0].obj))
    pdf.pages[0].obj.Annots = pdf.make_indirect(pikepdf.Array([field]))
    pdf.Root.AcroForm = pdf.make_indirect(pikepdf.Dictionary(Fields=pikepdf.Array([field]), SigFlags=3))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def test_unreadable_signature_listed_as_unverifiable(text_pdf):
    # An empty PKCS#7 blob: PDFium lists the field, pyHanko cannot verify it.
    signatures = open_document(_with_signature_field(text_pdf)).metadata().signatures
    assert [(s.verdict, s.kind) for s in signatures] == [("unverifiable", "PDF adbe.pkcs7.detached")]
    assert "无法" in signatures[0].reason and signatures[0].signed_at.hour == 10


def test_pdf_only_pdfminer_can_read_gives_text_but_no_pictures(gen):
    data = gen.pdfminer_only_pdf()
    with pytest.raises(pikepdf.PdfError):
        pikepdf.open(io.BytesIO(data))  # qpdf cannot repair it, so the last fallback is exercised
    document = open_document(data)
    pages = document.page_texts(ocr=False)
    assert [page.source for page in pages] == ["text", "text"]
    assert "冠状动脉粥样硬化性心脏病" in pages[0].text and "头孢哌酮舒巴坦钠" in pages[1].text
    assert pages[0].boxes[0].text == "入院记录"
    assert document.metadata().extra["reader"] == "text-only"
    with pytest.raises(FormatError, match="只能读取文字"):
        document.render(1)


def test_pdfminer_fallback_through_the_guarded_path(gen):
    with open_document(gen.pdfminer_only_pdf(), guarded=True) as document:
        assert "主诉" in document.page_texts(ocr=False)[0].text
