"""The image quality checks (C3) on generated pages: a sharp typed page passes every check; the same
page blurred, darkened, rotated 5° or cut off is flagged by exactly the check that should catch it,
with a Chinese reason; a blank back side is not called blurred."""
from __future__ import annotations

import pytest
from pages import blurred, cropped, darkened, rotated, text_page
from PIL import Image

from bingan.records.digitisation.quality import check_page


@pytest.fixture(scope="module")
def page() -> Image.Image:
    return text_page()


def failed(image: Image.Image) -> dict[str, str]:
    return {v.check: v.reason for v in check_page(image).verdicts if not v.ok}


def test_a_sharp_straight_well_lit_page_passes_every_check(page):
    quality = check_page(page)
    assert not quality.flagged and quality.reasons == []
    assert [v.check for v in quality.verdicts] == ["blur", "brightness", "skew", "edge"]


@pytest.mark.parametrize(("fault", "check", "words"), [
    (blurred, "blur", "模糊"),
    (darkened, "brightness", "过暗"),
    (rotated, "skew", "倾斜约 5.0°"),
    (cropped, "edge", "内容触及右边缘"),
])
def test_each_fault_is_flagged_by_its_own_check_with_a_chinese_reason(page, fault, check, words):
    found = failed(fault(page))
    assert list(found) == [check]
    assert words in found[check]


def test_the_skew_angle_is_measured_in_both_directions(page):
    skew = {v.check: v for v in check_page(rotated(page, -2)).verdicts}["skew"]
    assert skew.value == pytest.approx(-2.0, abs=0.3) and not skew.ok
    assert {v.check: v for v in check_page(rotated(page, 1)).verdicts}["skew"].ok


def test_a_page_photographed_on_the_desk_shows_background_at_its_edge(page):
    on_desk = Image.new("RGB", (page.width + 200, page.height + 200), (40, 30, 20))
    on_desk.paste(page, (100, 100))
    assert "露出背景" in failed(on_desk)["edge"]


def test_a_blank_back_side_is_neither_blurred_nor_skewed():
    assert failed(Image.new("RGB", (1240, 1754), (242, 242, 242))) == {}


def test_a_large_camera_shot_is_judged_on_its_working_copy(page):
    big = text_page(2480, 3508)
    assert not check_page(big).flagged and failed(blurred(big)).keys() == {"blur"}
