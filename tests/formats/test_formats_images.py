"""Scans and photos: pages, orientation, deskew, and hostile images."""
from __future__ import annotations

import pytest
from PIL import Image

from bingan.formats.base import FormatError
from bingan.formats.document import open_document
from bingan.formats.images import deskew, estimate_skew

pytestmark = pytest.mark.timeout(60)


def test_multipage_tiff_has_one_page_per_frame(gen):
    frames = [gen.scan_image([f"第{n}页"], dpi=60) for n in (1, 2, 3)]
    assert open_document(gen.multipage_tiff(frames)).page_count() == 3


def test_tiff_pages_render_separately(gen):
    frames = [gen.scan_image(["入院记录"], dpi=60), gen.scan_image(["出院记录"], dpi=60).resize((300, 400))]
    document = open_document(gen.multipage_tiff(frames))
    assert document.render(2).size == (300, 400)


def test_exif_orientation_applied(gen):
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    photo = Image.new("RGB", (400, 200), "white")
    document = open_document(gen.image_bytes(photo, "JPEG", exif=exif.tobytes()))
    assert document.render(1).size == (200, 400)


def test_render_at_dpi_scales_from_image_resolution(gen):
    scan = gen.scan_image(["入院记录"], dpi=200)
    document = open_document(gen.image_bytes(scan, "PNG", dpi=(200, 200)))
    assert document.render(1, dpi=100).width == round(scan.width / 2)


def test_render_at_width(gen):
    document = open_document(gen.image_bytes(gen.scan_image(dpi=100), "PNG"))
    assert document.render(1, width=320).width == 320


@pytest.mark.parametrize("angle", [2.0, -3.0, 1.2])
def test_skew_estimated_within_a_quarter_degree(gen, angle):
    assert abs(estimate_skew(gen.scan_image(dpi=150, angle=angle, noise=0.03)) - angle) <= 0.25


def test_straight_page_left_alone(gen):
    page = gen.scan_image(dpi=150, angle=0.3)
    straight, _ = deskew(page)
    assert straight is page


def test_skewed_page_straightened(gen):
    straight, angle = deskew(gen.scan_image(dpi=150, angle=2.5))
    assert angle > 2 and abs(estimate_skew(straight)) <= 0.25


def test_image_pages_always_need_ocr(gen):
    page = open_document(gen.image_bytes(gen.scan_image(dpi=60), "JPEG")).page_texts(ocr=False)[0]
    assert (page.source, page.needs_ocr) == ("none", True)


def test_heic_round_trip(gen):
    photo = gen.scan_image(["入院记录"], dpi=60).convert("RGB")
    document = open_document(gen.image_bytes(photo, "HEIF"))
    assert document.media_type == "image/heic" and document.render(1).size == photo.size


@pytest.mark.parametrize("fmt", ["GIF", "BMP"])
def test_gif_and_bmp_have_one_page(gen, fmt):
    document = open_document(gen.image_bytes(gen.scan_image(dpi=40), fmt))
    assert document.page_count() == 1 and document.render(1).width == gen.scan_image(dpi=40).width


def test_decompression_bomb_rejected(gen):
    with pytest.raises(FormatError, match="图像尺寸过大"):
        open_document(gen.png_bomb())


def test_zero_size_image_rejected(gen):
    with pytest.raises(FormatError) as error:
        open_document(gen.zero_size_bmp())
    assert "图像" in error.value.message


def test_truncated_jpeg_is_format_error(gen):
    data = gen.truncated(gen.image_bytes(gen.scan_image(dpi=100), "JPEG"), 0.3)
    with pytest.raises(FormatError):
        open_document(data).render(1)
