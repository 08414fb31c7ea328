"""Putting a page's image right (页面调整): auto-crop cuts the page out of the document camera's
darker table and leaves a scanner's page alone; a quarter turn, a crop by shares of the picture,
and straightening by the measured skew — each leaves a page the quality checks pass."""
from __future__ import annotations

import io

import pytest
from pages import jpeg, rotated, text_page
from PIL import Image

from bingan.errors import Refusal
from bingan.records.digitisation import images
from bingan.records.digitisation.quality import check_page

TABLE = (60, 52, 45)  # a dark wooden desk under the document camera


def on_table(page: Image.Image, width: int = 1920, height: int = 1080, at: tuple[int, int] = (700, 60)) -> Image.Image:
    """The page as the document camera sees it: smaller, lying on the desk."""
    frame = Image.new("RGB", (width, height), TABLE)
    small = page.resize((round(page.width * 0.55), round(page.height * 0.55)))
    frame.paste(small, at)
    return frame


def picture(image: Image.Image) -> images.PageImage:
    return images.read_upload(jpeg(image), "shot.jpg")[0]


def verdicts(image: Image.Image) -> dict[str, bool]:
    return {v.check: v.ok for v in check_page(image).verdicts}


def test_auto_crop_cuts_the_page_out_of_the_camera_picture():
    shot = on_table(text_page())
    assert not verdicts(shot)["edge"]  # the desk shows: 未裁切到纸张边缘
    cropped = images.auto_crop(picture(shot)).image
    assert abs(cropped.width - 682) < 0.05 * 682 and abs(cropped.height - 965) < 0.05 * 965, cropped.size  # the page
    assert all(verdicts(cropped).values()), check_page(cropped).reasons


def test_auto_crop_leaves_a_scanned_page_as_it_is():
    scanned = picture(text_page())
    assert images.auto_crop(scanned) is scanned


def test_auto_crop_leaves_a_picture_without_a_page_alone():
    desk = picture(Image.new("RGB", (1600, 1200), TABLE))
    assert images.auto_crop(desk) is desk


def test_a_quarter_turn_clockwise_brings_the_top_left_corner_to_the_top_right():
    page = text_page(800, 1200)
    page.paste((0, 0, 0), (0, 0, 100, 100))
    turned = images.rotate(picture(page), 90).image
    assert turned.size == (1200, 800)
    assert turned.getpixel((1150, 50))[0] < 40 and turned.getpixel((50, 50))[0] > 200


def test_a_turn_other_than_a_quarter_is_refused():
    with pytest.raises(Refusal, match="90、180 或 270"):
        images.rotate(picture(text_page()), 45)


def test_a_crop_keeps_the_rectangle_given_by_shares_of_the_picture():
    page = picture(text_page(1000, 1400))
    assert images.crop(page, 0.1, 0.2, 0.6, 0.7).image.size == (500, 700)


@pytest.mark.parametrize(("box", "words"), [((0.6, 0.1, 0.2, 0.9), "左小于右"), ((0.1, 0.1, 0.12, 0.9), "过小"),
                                            ((0.0, 0.0, 1.2, 1.0), "图像之内")])
def test_a_crop_outside_the_picture_or_too_small_is_refused(box, words):
    with pytest.raises(Refusal, match=words):
        images.crop(picture(text_page()), *box)


def test_straightening_by_the_measured_skew_leaves_a_level_page():
    skewed = rotated(text_page(), 4)
    skew = next(v for v in check_page(skewed).verdicts if v.check == "skew")
    assert not skew.ok
    level = images.straighten(picture(skewed), skew.value).image
    assert verdicts(level)["skew"], check_page(level).reasons


def test_a_thumbnail_is_a_small_jpeg():
    small = Image.open(io.BytesIO(images.thumbnail(jpeg(text_page()), 240)))
    assert small.format == "JPEG" and small.width == 240
