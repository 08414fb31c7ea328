"""Watermarks: the visible overlay, and the invisible payload through every robustness target."""
from __future__ import annotations

import io
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))

import formats_gen

from bingan.formats import watermark as wm
from bingan.formats.document import open_document

PAYLOAD = wm.Payload.at(4242, datetime(2026, 11, 27, 10, 31, tzinfo=UTC))
LINES = wm.visible_lines("张三", "S0001", "10.1.2.3", "示例医院", datetime(2026, 11, 27, 10, 31, tzinfo=UTC))


@pytest.fixture(scope="module")
def page() -> Image.Image:
    with open_document(formats_gen.text_pdf()) as document:
        return document.render(1, width=1000).convert("RGB")


@pytest.fixture(scope="module")
def served(page) -> Image.Image:
    return wm.apply_visible(wm.embed_invisible(page, PAYLOAD), LINES)


def jpeg(image: Image.Image, quality: int = 75) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def rescale(image: Image.Image, factor: float = 0.8) -> Image.Image:
    return image.resize((int(image.width * factor), int(image.height * factor)), Image.BILINEAR)


def crop_borders(image: Image.Image, share: float = 0.1) -> Image.Image:
    dx, dy = int(image.width * share), int(image.height * share)
    return image.crop((dx, dy, image.width - dx, image.height - dy))


def phone_photo(image: Image.Image) -> Image.Image:
    """Perspective (held at an angle), darker exposure, lens blur, sensor noise, phone JPEG."""
    array = np.asarray(image).astype(np.float32)
    h, w = array.shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = np.float32([[w * .04, h * .02], [w * .97, h * .05], [w * .93, h * .97], [w * .02, h * .95]])
    out = cv2.warpPerspective(array, cv2.getPerspectiveTransform(src, dst), (w, h), borderValue=(40, 40, 40))
    out = cv2.GaussianBlur(out * 0.85 + 20, (0, 0), 1.2)
    out += np.random.default_rng(1).normal(0, 4, out.shape)
    return jpeg(Image.fromarray(np.clip(out, 0, 255).astype(np.uint8)), 85)


def test_payload_round_trips_with_crc():
    bits = PAYLOAD.bits()
    assert len(bits) == 80
    assert wm.Payload.from_bits(bits) == PAYLOAD
    bits[5] ^= 1
    assert wm.Payload.from_bits(bits) is None  # a wrong bit is caught, never a wrong user
    assert PAYLOAD.time == datetime(2026, 11, 27, 10, 31, tzinfo=UTC)


@pytest.mark.parametrize(
    "attack",
    [lambda x: x, jpeg, lambda x: jpeg(rescale(x), 90), crop_borders, phone_photo],
    ids=["served", "jpeg_q75", "rescale_80", "crop_10pct", "phone_photo"],
)
def test_invisible_payload_survives(page, served, attack):
    result = wm.extract_invisible(attack(served), page)
    assert result.payload == PAYLOAD
    assert result.confidence > 3


def test_works_on_a_pure_white_page_after_jpeg_and_rescale():
    white = Image.new("RGB", (1000, 1414), "white")
    marked = wm.apply_visible(wm.embed_invisible(white, PAYLOAD), LINES)
    for suspect in (jpeg(marked), jpeg(rescale(marked), 75)):
        assert wm.extract_invisible(suspect, white).payload == PAYLOAD


def test_the_mark_is_faint(page):
    difference = np.abs(np.asarray(wm.embed_invisible(page, PAYLOAD)).astype(int) - np.asarray(page).astype(int))
    assert difference.max() <= 2 * wm.AMPLITUDE
    assert difference.mean() < wm.AMPLITUDE


def test_an_unmarked_page_yields_no_payload(page):
    assert wm.extract_invisible(jpeg(page), page).payload is None


def test_embedding_takes_at_most_40_ms(page):
    wm.embed_invisible(page, PAYLOAD)
    timings = []
    for _ in range(15):
        start = time.perf_counter()
        wm.embed_invisible(page, PAYLOAD)
        timings.append((time.perf_counter() - start) * 1000)
    assert statistics.median(timings) <= 40


def test_visible_overlay_is_cached_and_marks_the_page(page):
    first = wm.apply_visible(page, LINES)
    start = time.perf_counter()
    second = wm.apply_visible(page, LINES)
    assert (time.perf_counter() - start) * 1000 < 60
    assert np.array_equal(np.asarray(first), np.asarray(second))
    changed = np.any(np.asarray(first) != np.asarray(page), axis=2).mean()
    assert 0.02 < changed < 0.5  # text tiles cover part of the page, not all of it
