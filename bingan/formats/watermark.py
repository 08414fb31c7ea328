"""Watermarks for served page images (F2, S2). Pure functions: images in, images out.

Visible: the user's name and staff number, time, client IP and hospital name, tiled diagonally.
The tile is drawn once per (text, size) and cached; each request only composites it (~ms).

Invisible: a 64-bit payload (user id, minute) plus a CRC-16, spread over a grid of cells
(spread spectrum: each bit owns several hundred cells, each cell darkened or not by a pseudo-
random chip). A cell is a block of about 1/120 of the page width, so the mark lives in the
block means (JPEG keeps DC coefficients best), survives blur and rescaling, and shows on pure
white paper as a faint grey texture. Extraction is semi-blind: the suspect image is aligned to
the archived original page with ORB features and a homography, the original is subtracted and
each bit is the sign of its correlation over the flat (paper) cells.
"""
from __future__ import annotations

import functools
import math
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT_PATH = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
CELLS_X = 120  # cells across the page width
AMPLITUDE = 4  # grey levels; marked cells are 2·A darker (255 → 247 on white paper)
PAYLOAD_BITS = 64
CODE_BITS = PAYLOAD_BITS + 16  # payload + CRC-16
KEY = 0x42696E67  # pseudo-random layout; the same for embedding and extraction


# --- visible ---------------------------------------------------------------------------------

@functools.lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(FONT_PATH, size)


@functools.lru_cache(maxsize=128)
def visible_overlay(lines: tuple[str, ...], width: int, height: int, alpha: int = 56) -> Image.Image:
    """An RGBA layer of diagonal text tiles covering width × height (cached per user and size)."""
    size = max(12, width // 45)
    font = _font(size)
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    text_w = max(int(probe.textlength(line, font=font)) for line in lines)
    line_h = int(size * 1.35)
    tile = Image.new("LA", (text_w + size * 4, line_h * len(lines) + size * 3), (0, 0))
    draw = ImageDraw.Draw(tile)
    for index, line in enumerate(lines):
        draw.text((size * 2, size + index * line_h), line, font=font, fill=(90, alpha))
    tile = tile.rotate(30, expand=True, resample=Image.BICUBIC)
    layer = Image.new("LA", (width, height), (0, 0))
    for row, y in enumerate(range(-tile.height // 2, height, int(tile.height * 0.75))):
        shift = (row % 2) * tile.width // 2
        for x in range(-tile.width + shift, width, tile.width):
            layer.paste(tile, (x, y), tile)
    return layer.convert("RGBA")


def visible_lines(full_name: str, staff_number: str, client_ip: str, hospital: str, when: datetime) -> tuple[str, ...]:
    local = when.astimezone(UTC) + timedelta(hours=8)
    return (f"{hospital}  {full_name} {staff_number}".strip(), f"{local:%Y-%m-%d %H:%M}  {client_ip}")


def apply_visible(image: Image.Image, lines: tuple[str, ...]) -> Image.Image:
    base = image.convert("RGB")
    overlay = visible_overlay(lines, base.width, base.height)
    base.paste(overlay, (0, 0), overlay)
    return base


# --- invisible: payload ----------------------------------------------------------------------

@dataclass(frozen=True)
class Payload:
    user_id: int
    minute: int  # minutes since 2020-01-01 UTC

    @classmethod
    def at(cls, user_id: int, when: datetime) -> Payload:
        return cls(user_id, int((when.astimezone(UTC) - EPOCH).total_seconds() // 60))

    @property
    def time(self) -> datetime:
        return EPOCH + timedelta(minutes=self.minute)

    def bits(self) -> np.ndarray:
        value = ((self.user_id & 0xFFFFFFFF) << 32) | (self.minute & 0xFFFFFFFF)
        data = value.to_bytes(8, "big")
        crc = zlib.crc32(data) & 0xFFFF
        word = (value << 16) | crc
        return np.array([(word >> (CODE_BITS - 1 - i)) & 1 for i in range(CODE_BITS)], dtype=np.int8)

    @classmethod
    def from_bits(cls, bits: np.ndarray) -> Payload | None:
        word = 0
        for bit in bits.astype(int):
            word = (word << 1) | int(bit)
        value, crc = word >> 16, word & 0xFFFF
        if zlib.crc32(value.to_bytes(8, "big")) & 0xFFFF != crc:
            return None
        return cls(value >> 32, value & 0xFFFFFFFF)


@functools.lru_cache(maxsize=32)
def _layout(cells_y: int) -> tuple[np.ndarray, np.ndarray]:
    """For each cell: which code bit it carries and its ±1 chip."""
    rng = np.random.default_rng(KEY + cells_y)
    count = CELLS_X * cells_y
    owner = rng.permutation(count) % CODE_BITS
    chips = rng.choice(np.array([-1, 1], dtype=np.int8), size=count)
    return owner.reshape(cells_y, CELLS_X), chips.reshape(cells_y, CELLS_X)


def _cells_y(width: int, height: int) -> int:
    return max(1, round(CELLS_X * height / width))


def embed_invisible(image: Image.Image, payload: Payload, amplitude: int = AMPLITUDE) -> Image.Image:
    """Darken the cells whose chip × bit sign is negative; white stays ≥ 255 - 2·amplitude."""
    rgb = np.asarray(image.convert("RGB"))
    height, width = rgb.shape[:2]
    cells_y = _cells_y(width, height)
    owner, chips = _layout(cells_y)
    signs = (payload.bits() * 2 - 1)[owner] * chips  # ±1 per cell
    dark = ((1 - signs) // 2).astype(np.uint8) * np.uint8(2 * amplitude)  # 0 or 2A per cell
    mask = cv2.resize(dark, (width, height), interpolation=cv2.INTER_NEAREST)
    marked = cv2.subtract(rgb, cv2.merge([mask, mask, mask]))
    return Image.fromarray(marked)


# --- invisible: extraction -------------------------------------------------------------------

@dataclass(frozen=True)
class Extraction:
    payload: Payload | None
    confidence: float  # mean |correlation| per bit relative to its spread; > 3 is a clear signal
    inliers: int  # feature matches supporting the alignment (0 = assumed full-frame)
    bits: tuple[int, ...] = ()


def _grey(image: Image.Image | np.ndarray) -> np.ndarray:
    array = np.asarray(image.convert("L")) if isinstance(image, Image.Image) else image
    if array.ndim == 3:
        array = cv2.cvtColor(array, cv2.COLOR_RGB2GRAY)
    return array


def align(suspect: np.ndarray, original: np.ndarray, *, min_inliers: int = 12) -> tuple[np.ndarray, int]:
    """Warp the suspect into the original's frame (ORB + RANSAC homography); fall back to a resize."""
    height, width = original.shape
    homography, inliers = _homography(suspect, original)
    if homography is None or inliers < min_inliers:
        return cv2.resize(suspect, (width, height), interpolation=cv2.INTER_AREA), 0
    warped = cv2.warpPerspective(suspect, homography, (width, height), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    valid = cv2.warpPerspective(np.full(suspect.shape, 255, np.uint8), homography, (width, height)) > 0
    warped = np.where(valid, warped, 0).astype(np.uint8)
    return warped, inliers


def _homography(suspect: np.ndarray, original: np.ndarray) -> tuple[np.ndarray | None, int]:
    orb = cv2.ORB_create(nfeatures=4000, scaleFactor=1.2, nlevels=10, fastThreshold=10)
    kp_s, des_s = orb.detectAndCompute(suspect, None)
    kp_o, des_o = orb.detectAndCompute(original, None)
    if des_s is None or des_o is None or len(kp_s) < 8 or len(kp_o) < 8:
        return None, 0
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    pairs = matcher.knnMatch(des_s, des_o, k=2)
    good = [m for m, *rest in pairs if rest and m.distance < 0.8 * rest[0].distance]
    if len(good) < 8:
        return None, 0
    src = np.float32([kp_s[m.queryIdx].pt for m in good]).reshape(-1, 1, 2)
    dst = np.float32([kp_o[m.trainIdx].pt for m in good]).reshape(-1, 1, 2)
    homography, mask = cv2.findHomography(src, dst, cv2.RANSAC, 4.0)
    return homography, int(mask.sum()) if mask is not None else 0


def match_score(suspect: Image.Image | np.ndarray, original: Image.Image | np.ndarray) -> int:
    """Feature inliers between two images: used to auto-find which page a leak shows."""
    _, inliers = _homography(_fit_width(_grey(suspect), 1000), _fit_width(_grey(original), 1000))
    return inliers


def _fit_width(array: np.ndarray, width: int) -> np.ndarray:
    if array.shape[1] <= width:
        return array
    height = round(array.shape[0] * width / array.shape[1])
    return cv2.resize(array, (width, height), interpolation=cv2.INTER_AREA)


def extract_invisible(suspect: Image.Image | np.ndarray, original: Image.Image | np.ndarray) -> Extraction:
    """Recover the payload from a photo, screenshot or copy of a served page.

    ``original`` is the archived page as rendered for serving. Pages with content align by
    features (crops, rescaling, perspective); a blank page has no features, so it is assumed to
    fill the suspect image (JPEG and rescaling work, crops and photos do not).
    """
    reference = _grey(original).astype(np.uint8)
    aligned, inliers = align(_grey(suspect).astype(np.uint8), reference)
    return _decode(aligned, reference, inliers)


def _decode(aligned: np.ndarray, reference: np.ndarray, inliers: int) -> Extraction:
    height, width = reference.shape
    cells_y = _cells_y(width, height)
    valid = aligned > 0
    residual = _residual(aligned.astype(np.float32), reference.astype(np.float32), valid)
    # Pixels far outside the mark's range are the visible overlay or noise: leave them out.
    keep = (np.abs(residual) <= 2.5 * AMPLITUDE).astype(np.float32)
    kept = cv2.resize(keep, (CELLS_X, cells_y), interpolation=cv2.INTER_AREA)
    cell_mean = cv2.resize(residual * keep, (CELLS_X, cells_y), interpolation=cv2.INTER_AREA) / (kept + 1e-6)
    weight = _flat_cells(reference, valid, cells_y) * (kept > 0.5)
    owner, chips = _layout(cells_y)
    weighted = (cell_mean - np.average(cell_mean, weights=weight + 1e-9)) * chips * weight
    sums = np.bincount(owner.ravel(), weights=weighted.ravel(), minlength=CODE_BITS)
    bits = (sums > 0).astype(np.int8)
    spread = float(np.std(weighted[weight > 0])) * math.sqrt(max(1.0, weight.sum() / CODE_BITS)) + 1e-9
    confidence = float(np.mean(np.abs(sums)) / spread)
    return Extraction(Payload.from_bits(bits), confidence, inliers, tuple(int(b) for b in bits))


def _residual(aligned: np.ndarray, reference: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Suspect minus the original after undoing a linear brightness/contrast change (photos)."""
    sample = valid & (reference > 0)
    ref, sus = reference[sample], aligned[sample]
    if ref.size < 100 or float(np.var(ref)) < 1e-6:
        gain, offset = 1.0, float(np.mean(sus) - np.mean(ref)) if ref.size else 0.0
    else:
        gain, offset = np.polyfit(ref[:: max(1, ref.size // 200_000)], sus[:: max(1, ref.size // 200_000)], 1)
    residual = aligned - (gain * reference + offset)
    residual[~valid] = 0
    return residual.astype(np.float32)


def _flat_cells(reference: np.ndarray, valid: np.ndarray, cells_y: int) -> np.ndarray:
    """1 for cells of plain paper fully inside the suspect; text edges and borders are noise."""
    ink = cv2.dilate((reference < 235).astype(np.uint8), np.ones((9, 9), np.uint8))
    ink_share = cv2.resize(ink.astype(np.float32), (CELLS_X, cells_y), interpolation=cv2.INTER_AREA)
    inside = cv2.resize(valid.astype(np.float32), (CELLS_X, cells_y), interpolation=cv2.INTER_AREA)
    return ((ink_share < 0.05) & (inside > 0.99)).astype(np.float32)
