"""The quality check that sends pages to OCR, and the CJK space clean-up."""
from __future__ import annotations

import pytest
from PIL import Image, ImageDraw

from bingan.formats.quality import FIELD_GAP, check_text, has_ink, normalize_cjk_spaces, sound_chars

GOOD = "主诉：反复胸闷气促5年，加重3天。既往史：2型糖尿病10年，冠状动脉粥样硬化性心脏病。"


def test_clean_chinese_passes():
    assert not check_text(GOOD).needs_ocr


def test_rare_name_character_does_not_trigger_ocr():
    assert not check_text("患者：王堃，" + GOOD).needs_ocr


def test_utf8_read_as_gbk_is_mojibake():
    assert check_text(GOOD.encode("utf-8").decode("gbk", "replace")).needs_ocr


def test_gbk_read_as_latin1_is_mojibake():
    assert check_text(GOOD.encode("gbk").decode("latin-1")).needs_ocr


def test_latin1_garbage_like_A_tilde_is_mojibake():
    assert check_text("RÃ©sumÃ© du patient Ã  lâ€™hÃ´pital").needs_ocr


def test_cid_placeholders_need_ocr():
    assert check_text("(cid:1234)(cid:88) 入院").needs_ocr


def test_private_use_characters_need_ocr():
    assert check_text("\ue012\ue013\ue014\ue015 入院").needs_ocr


def test_english_text_passes():
    assert not check_text("Discharge summary: type 2 diabetes mellitus, HbA1c 8.1%").needs_ocr


def test_spaces_between_chinese_characters_removed():
    assert normalize_cjk_spaces("冠 状 动 脉 粥 样 硬 化") == "冠状动脉粥样硬化"


def test_digit_before_chinese_joined():
    assert normalize_cjk_spaces("2 型 糖 尿 病") == "2型糖尿病"


def test_spaces_between_latin_words_kept():
    assert normalize_cjk_spaces("HbA1c 8.1 % 空腹 血糖") == "HbA1c 8.1 % 空腹血糖"


@pytest.mark.parametrize("gap", ["  ", "        ", "\t", "\u3000", " \u3000 "])
def test_wide_gap_between_fields_becomes_one_field_gap(gap):
    assert normalize_cjk_spaces(f"姓名：张三{gap}性别：男{gap}年龄：68岁") == (
        f"姓名：张三{FIELD_GAP}性别：男{FIELD_GAP}年龄：68岁")


@pytest.mark.parametrize("title", ["入  院  记  录", "入\u3000院\u3000记\u3000录"])
def test_letter_spaced_title_with_wide_gaps_is_one_word(title):
    assert normalize_cjk_spaces(title) == "入院记录"


def test_line_of_two_spread_characters_is_one_word():
    assert normalize_cjk_spaces("主诉\n医    嘱\n") == "主诉\n医嘱\n"


def test_label_spread_to_the_width_of_longer_labels_is_one_word():
    assert normalize_cjk_spaces("姓    名：张三    联 系 人：李四") == f"姓名：张三{FIELD_GAP}联系人：李四"


def test_single_character_cells_in_a_row_stay_apart():
    assert normalize_cjk_spaces("张三  男  汉  已婚") == "张三  男  汉  已婚"


def test_paragraph_indent_kept():
    assert normalize_cjk_spaces("\u3000\u3000患者 3 天前\n    出  院") == "\u3000\u3000患者3天前\n    出院"


def test_normalising_twice_changes_nothing():
    once = normalize_cjk_spaces("出 院 小 结\n姓    名：张三\t性别：男 年 龄：68 岁\nHbA1c  8.1 %")
    assert normalize_cjk_spaces(once) == once


def test_blank_image_has_no_ink():
    assert not has_ink(Image.new("L", (200, 280), 255))


def test_image_with_text_has_ink():
    image = Image.new("L", (200, 280), 255)
    ImageDraw.Draw(image).rectangle((20, 20, 180, 60), fill=0)
    assert has_ink(image)


@pytest.mark.parametrize("text", [
    "환자 이름: 김민준  진단: 제2형 당뇨병, 고혈압  처방: 아스피린",
    "اسم المريض أحمد التشخيص داء السكري من النوع الثاني",
    "家属：刘䶮 张㛃 李㐂 赵㐄 王𠮷 曾用名：𠮷䶮㛃㐂㐄",
    "醫院門診病歷記錄，診斷：糖尿病、高血壓。處方：阿斯匹靈",
    "Größe 1,80 m; naïve résumé – café; Ærø, Øst; coöperate",
    "• → ≥ ± ½ © ™ — … ✓ ★ ∑ ∫ ≠ ∞ ‰ № ℃ ① ﬁ ﬂ",
], ids=["korean", "arabic", "rare-names", "traditional", "latin-accents", "symbols"])
def test_sound_text_of_any_script_needs_no_ocr(text):
    assert not check_text(text).needs_ocr


def test_characters_without_a_unicode_mapping_need_ocr():
    # PDFium reports the glyph code of an unmapped character: it may look like any character.
    assert check_text(GOOD, unmapped=len(GOOD) // 2).needs_ocr


def test_replacement_characters_need_ocr():
    assert check_text("入院\ufffd\ufffd\ufffd记录\ufffd\ufffd\ufffd主诉\ufffd\ufffd").needs_ocr


def test_utf8_shown_as_latin1_with_lost_bytes_is_mojibake():
    # PDFium shows bytes a simple font has no glyph name for as a black square.
    assert check_text(GOOD.encode("utf-8").decode("cp1252", "replace").replace("\ufffd", "■")).needs_ocr


def test_sound_characters_exclude_mojibake():
    # 入院记录 and the five digits of GOOD, which every mis-decoding leaves intact.
    assert sound_chars("入院记录\n" + GOOD.encode("gbk").decode("latin-1")) == 4 + 5


def test_one_typed_line_on_an_empty_page_is_ink():
    # A 10 pt line ("This is a multi page document. Page 1.") on A4 at the check resolution.
    image = Image.new("L", (397, 562), 255)
    ImageDraw.Draw(image).text((48, 48), "This is a multi page document. Page 1.", fill=0)
    assert has_ink(image)
