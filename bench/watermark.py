"""Invisible watermark benchmark: imperceptibility, robustness per attack, embedding time.

    .venv/bin/python bench/watermark.py [--payloads 12] [--repeat 30] [--amplitude 1.5]
    .venv/bin/python bench/watermark.py --sample docs/screenshots/watermark-sample.png

Pages are A4 at 150 dpi (1240 × 1754): a born-digital text page, a pure white page and a noisy
grey scan. Every leak starts from what a user receives (invisible mark, visible overlay, JPEG
q80); each attack then runs once per random payload (user, minute) with its own random
parameters. Prints success rates per page and attack, PSNR and visibility, and embed times.
"""
from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "fixtures")]

import formats_gen as gen  # noqa: E402

from bingan.formats import watermark as wm  # noqa: E402
from bingan.formats.document import open_document  # noqa: E402

WIDTH, HEIGHT = 1240, 1754
LINES = wm.visible_lines("张三", "S0001", "10.1.2.3", "示例医院", datetime(2026, 11, 27, 10, 31, tzinfo=UTC))
Attack = Callable[[Image.Image, np.random.Generator], Image.Image]
amplitude = wm.AMPLITUDE  # --amplitude explores the trade-off without editing the module


# --- pages -----------------------------------------------------------------------------------

def pages() -> dict[str, Image.Image]:
    with open_document(gen.text_pdf()) as document:
        text = document.render(1, width=WIDTH).convert("RGB").resize((WIDTH, HEIGHT))
    scan = gen.scan_image(dpi=150, angle=1.0, noise=0.03).convert("RGB").resize((WIDTH, HEIGHT))
    grey = np.asarray(scan).astype(np.float32) * np.float32([0.93, 0.91, 0.86])  # recycled paper tint
    return {"text": text, "white": Image.new("RGB", (WIDTH, HEIGHT), "white"),
            "scan": Image.fromarray(grey.astype(np.uint8))}


# --- attacks ---------------------------------------------------------------------------------

def jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def served(page: Image.Image, payload: wm.Payload) -> Image.Image:
    return jpeg(wm.apply_visible(wm.embed_invisible(page, payload, amplitude), LINES), 80)


def as_is(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    return image


def jpeg_75(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    return jpeg(image, 75)


def rescale_80(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    method = [Image.BILINEAR, Image.BICUBIC, Image.LANCZOS, Image.BOX][int(rng.integers(4))]
    small = image.resize((int(image.width * 0.8), int(image.height * 0.8)), method)
    return jpeg(small, 75)


def crop_10(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A screenshot of the viewer with about 10 % of every border cut off (lossless PNG)."""
    w, h = image.size
    left, right = (rng.uniform(0.08, 0.12, 2) * w).astype(int)
    top, bottom = (rng.uniform(0.08, 0.12, 2) * h).astype(int)
    return image.crop((left, top, w - right, h - bottom))


def phone_photo(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The page on a screen photographed by a phone: the screen's pixel grid, a tilted camera that
    resamples it (moiré), uneven exposure, lens blur, sensor noise and the phone's JPEG."""
    screen = np.asarray(image).astype(np.float32)
    screen *= _pixel_grid(screen.shape[:2])[:, :, None]
    h, w = screen.shape[:2]
    scale = rng.uniform(0.75, 1.1)  # photo pixels per screen pixel
    out_w, out_h = int(w * scale * 1.1), int(h * scale * 1.1)
    corners = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    jitter = rng.uniform(-0.05, 0.05, (4, 2)) * [w * scale, h * scale]
    placed = np.float32([[0.05, 0.03], [1.05, 0.03], [1.05, 1.07], [0.05, 1.07]]) * [w * scale, h * scale] + jitter
    warp = cv2.getPerspectiveTransform(corners, np.float32(placed))
    photo = cv2.warpPerspective(screen, warp, (out_w, out_h), flags=cv2.INTER_LINEAR, borderValue=(35, 35, 40))
    photo = photo * _shading(out_h, out_w, rng)[:, :, None] * rng.uniform(0.75, 0.9) + rng.uniform(10, 30)
    photo = cv2.GaussianBlur(photo, (0, 0), rng.uniform(0.8, 1.4))
    photo += rng.normal(0, rng.uniform(2, 5), photo.shape).astype(np.float32)
    return jpeg(Image.fromarray(np.clip(photo, 0, 255).astype(np.uint8)), int(rng.integers(80, 92)))


def _pixel_grid(shape: tuple[int, int]) -> np.ndarray:
    """Dark gaps between screen pixels: every pixel is 12 % darker at its left and top rows."""
    grid = np.ones(shape, np.float32)
    grid[::1, ::3] *= 0.94
    grid[::3, ::1] *= 0.94
    return grid


def _shading(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """Vignetting plus a light gradient across the photo (from 0.8 to 1.0)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    cx, cy = rng.uniform(0.3, 0.7) * width, rng.uniform(0.3, 0.7) * height
    radius = ((x - cx) / width) ** 2 + ((y - cy) / height) ** 2
    return 1.0 - 0.2 * np.clip(radius * 1.5, 0, 1) * rng.uniform(0.5, 1.0)


ATTACKS: dict[str, Attack] = {"served_jpeg80": as_is, "jpeg_q75": jpeg_75, "rescale_80": rescale_80,
                              "crop_10pct": crop_10, "phone_photo": phone_photo}


# --- measures --------------------------------------------------------------------------------

def robustness(page_images: dict[str, Image.Image], payloads: int, seed: int) -> dict[tuple[str, str], tuple]:
    """(page, attack) -> (decoded, runs, lowest confidence, median extraction seconds)."""
    rng = np.random.default_rng(seed)
    results: dict[tuple[str, str], list[tuple[bool, float, float]]] = {}
    for _ in range(payloads):
        payload = wm.Payload(int(rng.integers(1, 2**31)), int(rng.integers(0, 2**31)))
        for page_name, page in page_images.items():
            leak = served(page, payload)
            for attack_name, attack in ATTACKS.items():
                suspect = attack(leak, rng)
                start = time.perf_counter()
                result = wm.extract_invisible(suspect, page)
                seconds = time.perf_counter() - start
                results.setdefault((page_name, attack_name), []).append(
                    (result.payload == payload, result.confidence, seconds))
    return {key: (sum(run[0] for run in runs), len(runs), min(run[1] for run in runs),
                  statistics.median(run[2] for run in runs)) for key, runs in results.items()}


def embed_ms(page: Image.Image, repeat: int) -> tuple[float, float]:
    payload = wm.Payload(4242, 3_600_000)
    wm.embed_invisible(page, payload)
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        wm.embed_invisible(page, payload)
        timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    return statistics.median(timings), timings[int(len(timings) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--payloads", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--amplitude", type=float, default=wm.AMPLITUDE)
    parser.add_argument("--sample", type=Path, help="write the served text page (both marks) here and stop")
    args = parser.parse_args()
    global amplitude
    amplitude = args.amplitude
    page_images = pages()
    payload = wm.Payload(4242, 3_600_000)
    if args.sample:
        served(page_images["text"], payload).save(args.sample, optimize=True)
        return
    print("| page | PSNR dB | visibility | as served (JPEG q80): PSNR | visibility |\n|---|---|---|---|---|")
    for name, page in page_images.items():
        marked = wm.embed_invisible(page, payload, amplitude)
        exact, shown = wm.quality(page, marked), wm.quality(jpeg(page, 80), jpeg(marked, 80))
        print(f"| {name} | {exact.psnr:.1f} | {exact.visibility:.2f} | {shown.psnr:.1f} | {shown.visibility:.2f} |")
    median, p95 = embed_ms(page_images["text"], args.repeat)
    print(f"\nembed 1240×1754: median {median:.1f} ms, p95 {p95:.1f} ms\n")
    print("| page | attack | decoded | lowest confidence | extraction s (median) |\n|---|---|---|---|---|")
    for (page_name, attack_name), (ok, runs, low, seconds) in robustness(page_images, args.payloads, args.seed).items():
        print(f"| {page_name} | {attack_name} | {ok}/{runs} | {low:.1f} | {seconds:.2f} |")


if __name__ == "__main__":
    main()
