"""Watermarks for served page images (F2, S2). Pure functions: images in, images out.

Visible: the user's name and staff number, time, client IP and hospital name, tiled diagonally.
The tile is drawn once per (text, size) and cached; each request only composites it (~ms).

Invisible: a 64-bit payload (user id, minute) plus a CRC-16, spread over a grid of cells
(spread spectrum: each bit owns ~70 cells, each cell a pseudo-random ±1 chip). A cell is a soft
Gaussian bump, not a hard block: edges are what the eye sees, while smooth low-frequency bumps
survive JPEG, rescaling and lens blur. Amplitude 1.5 grey levels, dithered; on white paper only
the darker half survives the clip (PSNR ~52 dB). Extraction is semi-blind: the suspect image is
aligned to the archived original page (ORB + homography, then re-aligned on the mark itself),
the original and the photo's shading are subtracted, the overlay is left out as outliers, and
each bit is the sign of its matched-filter correlation over the plain (paper) areas.
"""
from __future__ import annotations

import functools
import math
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT_PATH = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
CELLS_X = 64  # carrier cells across the page width (~19 px each at 150 dpi)
OVERSAMPLE = 4  # the carrier is built on a grid this much finer than the cells, then stretched
SMOOTHING = 0.5  # Gaussian σ of a cell's bump, in cells
AMPLITUDE = 1.5  # grey levels at the centre of a field of like cells: on white, bumps reach -1 to -2
BACKGROUND = 1.5  # σ in cells of the local mean the extractor removes (photo shading, white-page offset)
EDGE_LEVEL = 40  # grey-level jump in the original beyond which misalignment swamps the mark
OUTLIER_LEVEL = 6  # residuals beyond this (or OUTLIER_SPREADS × the noise) are the overlay or glare
OUTLIER_SPREADS = 3.0
REFINE_ROUNDS = 3  # re-alignments on the mark itself after the feature homography
CLEAR = 4.0  # confidence at which refining the alignment stops
REGISTRATION_BLOCKS = (6, 4)  # rows × columns of blocks whose drift is measured
MAX_DRIFT = 48  # pixels a block may be off after the feature homography
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


def _carrier(signs: np.ndarray) -> np.ndarray:
    """A smooth field in [-1, 1] on a grid OVERSAMPLE× finer than the cells: one soft bump per cell.

    Hard-edged cells are what the eye sees; a Gaussian-shaped bump has no edge, and its energy
    stays at low spatial frequencies that JPEG, rescaling and lens blur all keep.
    """
    fine = np.repeat(np.repeat(signs.astype(np.float32), OVERSAMPLE, 0), OVERSAMPLE, 1)
    return cv2.GaussianBlur(fine, (0, 0), SMOOTHING * OVERSAMPLE, borderType=cv2.BORDER_REFLECT)


@functools.lru_cache(maxsize=4)
def _dither(height: int, width: int) -> np.ndarray:
    """Ordered (Bayer 4×4) dither offsets in (-0.5, 0.5): rounding the fractional mark to whole
    grey levels then leaves no contour lines, only a pixel-fine pattern the eye averages away."""
    bayer = np.array([[0, 8, 2, 10], [12, 4, 14, 6], [3, 11, 1, 9], [15, 7, 13, 5]], np.float32) / 16 - 15 / 32
    return np.ascontiguousarray(np.tile(bayer, (height // 4 + 1, width // 4 + 1))[:height, :width])


def _field(bits: np.ndarray, width: int, height: int, amplitude: float = 1.0) -> np.ndarray:
    """The carrier for these code bits at full size, in [-amplitude, amplitude] (float32)."""
    owner, chips = _layout(_cells_y(width, height))
    signs = (bits * 2 - 1)[owner] * chips
    return cv2.resize(_carrier(signs) * np.float32(amplitude), (width, height), interpolation=cv2.INTER_LINEAR)


@functools.lru_cache(maxsize=16)  # ~2 MB each: a reader turning pages within the minute reuses it
def _pattern(payload: Payload, width: int, height: int, amplitude: float = AMPLITUDE) -> np.ndarray:
    """The mark as uint8 offset by 128 (128 = unchanged), dithered and rounded to whole grey levels.
    Shared between calls: read only."""
    field = _field(payload.bits(), width, height, amplitude)
    cv2.add(field, _dither(height, width), dst=field)
    return cv2.convertScaleAbs(field, alpha=1.0, beta=128.0)


def embed_invisible(image: Image.Image, payload: Payload, amplitude: float = AMPLITUDE) -> Image.Image:
    """Add the smooth mark to every channel; on white paper only its darker half survives the clip,
    so white stays ≥ 255 - amplitude and never turns grey as a whole."""
    rgb = np.asarray(image if image.mode == "RGB" else image.convert("RGB"))
    height, width = rgb.shape[:2]
    pattern = _pattern(payload, width, height, amplitude)
    # Saturating uint8 arithmetic (cv2) touches a quarter of the memory that float or int16 would;
    # GRAY2RGB spreads a channel over three at a third of cv2.merge's cost.
    lighter = cv2.cvtColor(cv2.subtract(pattern, 128), cv2.COLOR_GRAY2RGB)
    darker = cv2.cvtColor(cv2.subtract(np.full_like(pattern, 128), pattern), cv2.COLOR_GRAY2RGB)
    return Image.fromarray(cv2.subtract(cv2.add(rgb, lighter), darker))


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
    homography, inliers = _homography(suspect, original)
    if homography is None or inliers < min_inliers:
        return _stretch(suspect, original.shape), 0
    return _warp(suspect, homography, original.shape), inliers


def _stretch(suspect: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    return cv2.resize(suspect, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)


def _warp(suspect: np.ndarray, homography: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The suspect in the original's frame; 0 marks pixels the suspect does not cover."""
    height, width = shape[:2]
    warped = cv2.warpPerspective(suspect, homography, (width, height), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    valid = cv2.warpPerspective(np.full(suspect.shape, 255, np.uint8), homography, (width, height)) > 0
    return np.where(valid & (warped > 0), warped, 1).astype(np.uint8) * valid


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
    features (crops, rescaling, perspective). A blank page has none: it is first assumed to fill
    the suspect image (JPEG, rescaling), then aligned by the page's outline in a photo, then by
    the mark's own cell lattice (crops at any scale in SYNC_SCALES).
    """
    reference = _grey(original).astype(np.uint8)
    grey = _grey(suspect).astype(np.uint8)
    homography, inliers = _homography(grey, reference)
    if homography is not None and inliers >= 12:
        return _refined(grey, reference, homography, inliers)
    best = _decode(*_flatten(_stretch(grey, reference.shape), reference), 0)
    if best.payload is not None and best.confidence > CLEAR:
        return best
    # Nothing to align on (a blank page): the page outline in a photo, then the mark's own lattice.
    for candidate in _sync_candidates(grey, reference.shape):
        extraction = _refined(grey, reference, candidate, 0)
        if _rank(extraction) > _rank(best):
            best = extraction
        if best.payload is not None:
            break
    return best


def _refined(grey: np.ndarray, reference: np.ndarray, homography: np.ndarray, inliers: int) -> Extraction:
    """Decode at this alignment, re-aligning on the mark itself while the result is unclear."""
    best = None
    for _ in range(1 + REFINE_ROUNDS):
        flat, usable = _flatten(_warp(grey, homography, reference.shape), reference)
        extraction = _decode(flat, usable, inliers)
        if best is None or _rank(extraction) > _rank(best):
            best = extraction
        if extraction.payload is not None and extraction.confidence > CLEAR:
            break
        correction = _registration(flat, usable, reference, extraction.bits)
        if correction is None:
            break
        homography = correction @ homography
    return best


def _rank(extraction: Extraction) -> tuple[bool, float]:
    """A payload that passes the CRC beats any confidence without one."""
    return extraction.payload is not None, extraction.confidence


def _flatten(aligned: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The residual (suspect minus original) without shading, and where it can carry the mark."""
    height, width = reference.shape
    fine = (CELLS_X * OVERSAMPLE, _cells_y(width, height) * OVERSAMPLE)
    valid = aligned > 0
    residual = _residual(aligned.astype(np.float32), reference.astype(np.float32), valid)
    steady = _steady(reference, valid)
    # Photos add shading far broader than a cell (tens of grey levels): remove it before judging
    # which pixels are outliers, or the outlier test throws away whole shaded regions. The overlay
    # biases the first estimate of the shading, so estimate twice.
    usable = steady
    for _ in range(2):
        background = _background(*_fine_means(residual, usable, fine))
        flat = residual - cv2.resize(background, (width, height), interpolation=cv2.INTER_LINEAR)
        usable = steady * _inliers(flat, steady)
    return flat, usable


def _decode(flat: np.ndarray, usable: np.ndarray, inliers: int) -> Extraction:
    height, width = flat.shape
    cells_y = _cells_y(width, height)
    mean, trusted = _fine_means(flat, usable, (CELLS_X * OVERSAMPLE, cells_y * OVERSAMPLE))
    # Matched filter: correlate with the same bump the embedder drew, then sum each cell's block.
    matched = _smooth((mean - _background(mean, trusted)) * trusted, SMOOTHING * OVERSAMPLE)
    cell_score = matched.reshape(cells_y, OVERSAMPLE, CELLS_X, OVERSAMPLE).sum(axis=(1, 3))
    cell_weight = trusted.reshape(cells_y, OVERSAMPLE, CELLS_X, OVERSAMPLE).sum(axis=(1, 3))
    owner, chips = _layout(cells_y)
    weighted = cell_score * chips
    sums = np.bincount(owner.ravel(), weights=weighted.ravel(), minlength=CODE_BITS)
    bits = (sums > 0).astype(np.int8)
    return Extraction(Payload.from_bits(bits), _confidence(sums, weighted, owner, cell_weight), inliers,
                      tuple(int(b) for b in bits))


def _registration(flat: np.ndarray, usable: np.ndarray, reference: np.ndarray,
                  bits: tuple[int, ...]) -> np.ndarray | None:
    """A homography that moves the residual onto the mark the decoded bits predict.

    Features cluster where the text is, so the homography drifts by a cell or more far from it
    (the blank lower half of a page). The mark itself covers the whole page: even with some bits
    wrong the predicted pattern correlates with the residual, and per-block phase correlation
    measures the local drift.
    """
    height, width = reference.shape
    field = _field(np.array(bits, dtype=np.int8), width, height)
    expected = np.minimum(field * np.float32(AMPLITUDE), 255 - reference.astype(np.float32))
    # Half resolution and a blur: the carrier is smooth, JPEG and sensor noise are not.
    half = (width // 2, height // 2)
    expected = cv2.GaussianBlur(cv2.resize(expected, half, interpolation=cv2.INTER_AREA), (0, 0), 1.5)
    observed = cv2.GaussianBlur(cv2.resize(flat * usable, half, interpolation=cv2.INTER_AREA), (0, 0), 1.5)
    support = cv2.resize(usable, half, interpolation=cv2.INTER_AREA)
    found, wanted = [], []
    block_h, block_w = half[1] // REGISTRATION_BLOCKS[0], half[0] // REGISTRATION_BLOCKS[1]
    reach = MAX_DRIFT // 2
    for top in range(reach, half[1] - block_h - reach + 1, block_h):
        for left in range(reach, half[0] - block_w - reach + 1, block_w):
            if support[top:top + block_h, left:left + block_w].mean() < 0.5:
                continue
            shift = _drift(observed[top - reach:top + block_h + reach, left - reach:left + block_w + reach],
                           expected[top:top + block_h, left:left + block_w], reach)
            if shift is not None:
                centre = (2 * left + block_w, 2 * top + block_h)
                found.append((centre[0] + 2 * shift[0], centre[1] + 2 * shift[1]))
                wanted.append(centre)
    if len(found) < 6:
        return None
    # An affine correction: a few noisy block drifts cannot pin down a perspective safely.
    affine, inliers = cv2.estimateAffine2D(np.float32(found), np.float32(wanted), ransacReprojThreshold=4.0)
    if affine is None or int(inliers.sum()) < 6:
        return None
    return np.vstack([affine, [0.0, 0.0, 1.0]])


def _drift(search: np.ndarray, template: np.ndarray, reach: int) -> tuple[float, float] | None:
    """Where the template sits in the search area relative to its centre (subpixel), if clearly."""
    scores = cv2.matchTemplate(search, template, cv2.TM_CCORR_NORMED)
    _, best, _, (x, y) = cv2.minMaxLoc(scores)
    if best < 0.1 or not (0 < x < scores.shape[1] - 1 and 0 < y < scores.shape[0] - 1):
        return None
    return x - reach + _vertex(scores[y, x - 1:x + 2]), y - reach + _vertex(scores[y - 1:y + 2, x])


def _vertex(three: np.ndarray) -> float:
    """Offset of a parabola's peak through three equally spaced values."""
    left, middle, right = (float(v) for v in three)
    curvature = left - 2 * middle + right
    return 0.5 * (left - right) / curvature if curvature < 0 else 0.0


def _fine_means(residual: np.ndarray, usable: np.ndarray, fine: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Mean residual of the usable pixels on the carrier's fine grid, and how much of each sample
    was usable (samples mostly covered by text or the overlay are not trusted)."""
    support = cv2.resize(usable, fine, interpolation=cv2.INTER_AREA)
    mean = cv2.resize(residual * usable, fine, interpolation=cv2.INTER_AREA) / (support + 1e-6)
    return mean, np.where(support > 0.3, support, 0).astype(np.float32)


def _background(mean: np.ndarray, trusted: np.ndarray) -> np.ndarray:
    """Local mean over a few cells: shading, exposure, and the white page's one-sided offset."""
    sigma = BACKGROUND * OVERSAMPLE
    return _smooth(mean * trusted, sigma) / (_smooth(trusted, sigma) + 1e-6)


def _smooth(array: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(array, (0, 0), sigma, borderType=cv2.BORDER_CONSTANT)


def _confidence(sums: np.ndarray, weighted: np.ndarray, owner: np.ndarray, cell_weight: np.ndarray) -> float:
    """Mean |bit sum| over its noise: about 0.8 without a mark, 3 or more for a clear signal.

    The noise is how much a bit's cells disagree with one another, scaled to the sum of a bit.
    """
    used = (cell_weight > 0).ravel()
    if used.sum() < 2 * CODE_BITS:
        return 0.0
    bit_of, value = owner.ravel()[used], weighted.ravel()[used]
    counts = np.bincount(bit_of, minlength=CODE_BITS)
    means = np.bincount(bit_of, weights=value, minlength=CODE_BITS) / np.maximum(counts, 1)
    noise = float(np.sqrt(np.mean((value - means[bit_of]) ** 2))) * math.sqrt(used.sum() / CODE_BITS) + 1e-9
    return float(np.mean(np.abs(sums)) / noise)


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


def _steady(reference: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """1 inside the suspect and away from the original's edges (misalignment makes them noise)."""
    edges = cv2.morphologyEx(reference, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > EDGE_LEVEL
    bad = cv2.dilate((edges | ~valid).astype(np.uint8), np.ones((7, 7), np.uint8))
    return (bad == 0).astype(np.float32)


def _inliers(residual: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """0 around pixels far outside the noise: the visible overlay (absent from the original), glare."""
    sample = residual[usable > 0][::97]
    spread = 1.4826 * float(np.median(np.abs(sample))) if sample.size else 0.0
    outliers = (np.abs(residual) > max(OUTLIER_LEVEL, OUTLIER_SPREADS * spread)).astype(np.uint8)
    return (cv2.dilate(outliers, np.ones((7, 7), np.uint8)) == 0).astype(np.float32)


# --- invisible: alignment without features (blank pages) -------------------------------------
#
# The mark's layout is fixed: cell (r, c) always carries code bit owner[r, c] times chip[r, c].
# Whatever the payload, at the right alignment the cells of one bit agree once multiplied by their
# chips, so the energy of the per-bit sums, Σ_b (Σ_c∈b chip·v)², far exceeds its expectation
# without a mark (Σ v²). That ratio needs no payload, so it can score every scale and offset.

SYNC_SCALES = (0.6, 1.5)  # suspect pixels per original pixel searched when nothing else aligns
SYNC_STEP = 0.015  # relative scale step of the coarse search (a 32-cell block tolerates ~2 %)
SYNC_BLOCK = 32  # cells of the suspect's centre scored in the coarse search
SYNC_CLEAR = 3.0  # ratio at which the coarse search stops (no mark: ≈ 1, rarely above 1.8)
SYNC_PIXELS = 8.0  # the search runs on a copy reduced to about this many pixels per cell
PAGE_SHARE = 0.2  # a page outline must cover at least this share of a photo


def _sync_candidates(grey: np.ndarray, shape: tuple[int, ...]) -> Iterator[np.ndarray]:
    """Homographies (suspect → original) worth decoding at, cheapest first; lazily, since the
    lattice search costs seconds and a photo's outline usually suffices."""
    quad = _page_quad(grey)
    if quad is not None:
        height, width = shape[:2]
        corners = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
        yield cv2.getPerspectiveTransform(quad, corners)
    lattice = _lattice_search(grey, shape)
    if lattice is not None:
        yield lattice


def _page_quad(grey: np.ndarray) -> np.ndarray | None:
    """The four corners of a bright page on a darker surround (a photo of the screen), if any."""
    small = _fit_width(grey, 800)
    factor = grey.shape[1] / small.shape[1]
    _, binary = cv2.threshold(cv2.GaussianBlur(small, (5, 5), 0), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    contours, _ = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    outline = max(contours, key=cv2.contourArea)
    if cv2.contourArea(outline) < PAGE_SHARE * small.size:
        return None
    quad = cv2.approxPolyDP(outline, 0.02 * cv2.arcLength(outline, True), True).reshape(-1, 2)
    if len(quad) != 4:
        return None
    frame = np.float32([[0, 0], [small.shape[1] - 1, 0], [small.shape[1] - 1, small.shape[0] - 1],
                        [0, small.shape[0] - 1]])
    ordered = _order_corners(quad.astype(np.float32))
    if np.abs(ordered - frame).max() < 3:  # the page fills the picture: the full-frame decode covered it
        return None
    return _sharpen_corners(grey, ordered * factor)


def _order_corners(points: np.ndarray) -> np.ndarray:
    """Top-left, top-right, bottom-right, bottom-left."""
    total, difference = points.sum(axis=1), points[:, 0] - points[:, 1]
    return np.float32([points[total.argmin()], points[difference.argmax()], points[total.argmax()],
                       points[difference.argmin()]])


def _sharpen_corners(grey: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """Each side re-fitted as a line through its edge pixels: polygon corners are off by pixels."""
    edges = cv2.Canny(cv2.GaussianBlur(grey, (5, 5), 0), 30, 90)
    ys, xs = np.nonzero(edges)
    points = np.stack([xs, ys], axis=1).astype(np.float32)
    lines = []
    for start, end in zip(corners, np.roll(corners, -1, axis=0), strict=True):
        direction = (end - start) / (np.linalg.norm(end - start) + 1e-9)
        normal = np.float32([-direction[1], direction[0]])
        along = (points - start) @ direction
        near = (np.abs((points - start) @ normal) < 6) & (along > 0.1 * np.linalg.norm(end - start)) \
            & (along < 0.9 * np.linalg.norm(end - start))
        if near.sum() < 20:
            return corners
        vx, vy, x0, y0 = cv2.fitLine(points[near], cv2.DIST_HUBER, 0, 0.01, 0.01).ravel()
        lines.append((np.float32([x0, y0]), np.float32([vx, vy])))
    sharp = [_intersect(lines[i - 1], lines[i]) for i in range(4)]
    return np.float32(sharp) if all(s is not None for s in sharp) else corners


def _intersect(first: tuple[np.ndarray, np.ndarray], second: tuple[np.ndarray, np.ndarray]) -> np.ndarray | None:
    (p, u), (q, v) = first, second
    matrix = np.array([[u[0], -v[0]], [u[1], -v[1]]], np.float64)
    if abs(np.linalg.det(matrix)) < 1e-6:
        return None
    t, _ = np.linalg.solve(matrix, (q - p).astype(np.float64))
    return p + t * u


def _lattice_search(grey: np.ndarray, shape: tuple[int, ...]) -> np.ndarray | None:
    """Scale and offset of the mark's cell lattice in a suspect with no features (a cropped blank page).

    Coarse: scales in steps of SYNC_STEP, half-cell phases, every offset of a central block at once
    (FFT correlation with each bit's chip map). Fine: the whole suspect around the best coarse fit.
    """
    height, width = shape[:2]
    cells_y = _cells_y(width, height)
    pitch = np.array([height / cells_y, width / CELLS_X])  # original pixels per cell (y, x)
    factor = max(1.0, float(pitch.min()) / SYNC_PIXELS)
    response = _response(grey, factor, pitch / factor)
    best = None
    for scale in _scales():
        found = _coarse(response, pitch * scale / factor, cells_y)
        if found is not None and (best is None or found[0] > best[0]):
            best = (found[0], scale, found[1])
        if best is not None and best[0] > SYNC_CLEAR:
            break
    if best is None:
        return None
    scale, shift = _fine(response, pitch, factor, cells_y, best[1], best[2])
    # suspect pixel x (full resolution) ↦ original x / scale + shift
    return np.array([[1 / scale, 0, shift[1]], [0, 1 / scale, shift[0]], [0, 0, 1]], np.float64)


def _scales() -> list[float]:
    """1 first (a screenshot at 100 %), then outwards alternately."""
    low, high = (math.log(s) for s in SYNC_SCALES)
    steps = np.arange(0, max(-low, high) + SYNC_STEP, SYNC_STEP)
    ordered = [math.exp(sign * step) for step in steps for sign in (1, -1)][1:]
    return [s for s in ordered if SYNC_SCALES[0] <= s <= SYNC_SCALES[1]]


def _response(grey: np.ndarray, factor: float, pitch: np.ndarray) -> np.ndarray:
    """Matched-filter response of the reduced suspect: local mean removed, overlay and edges left out."""
    size = (max(1, round(grey.shape[1] / factor)), max(1, round(grey.shape[0] / factor)))
    image = cv2.resize(grey, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    edges = cv2.morphologyEx(image.astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > EDGE_LEVEL
    steady = (cv2.dilate(edges.astype(np.uint8), np.ones((5, 5), np.uint8)) == 0).astype(np.float32)
    usable = steady
    cell = float(pitch.mean())
    for _ in range(2):  # the overlay biases the first background estimate
        background = _smooth(image * usable, BACKGROUND * cell) / (_smooth(usable, BACKGROUND * cell) + 1e-6)
        flat = image - background
        usable = steady * _inliers(flat, steady)
    support = _smooth(usable, SMOOTHING * cell)
    response = _smooth(flat * usable, SMOOTHING * cell) / (support + 1e-6)
    return np.where(support > 0.3, response, 0).astype(np.float32)


@functools.lru_cache(maxsize=4)
def _chip_spectra(cells_y: int, block: int) -> np.ndarray:
    """FFT of each bit's chip map (chip where the cell carries that bit, else 0), padded for a block."""
    owner, chips = _layout(cells_y)
    maps = np.zeros((CODE_BITS, cells_y + block, CELLS_X + block), np.float32)
    rows, cols = np.indices(owner.shape)
    maps[owner, rows, cols] = chips
    return np.fft.rfft2(maps)


def _coarse(response: np.ndarray, pitch: np.ndarray, cells_y: int) -> tuple[float, np.ndarray] | None:
    """(ratio, shift of the suspect's lattice origin in original cells) of the best half-cell phase."""
    rows, cols = (int(n) for n in np.floor(np.array(response.shape) / pitch) - 1)
    block = (min(SYNC_BLOCK, rows, cells_y), min(SYNC_BLOCK, cols, CELLS_X))
    if min(block) < 8:
        return None
    spectra = _chip_spectra(cells_y, SYNC_BLOCK)
    top, left = (rows - block[0]) // 2, (cols - block[1]) // 2
    best = None
    for phase_y in (0.0, 0.5):
        for phase_x in (0.0, 0.5):
            ys = np.rint((np.arange(top, top + block[0]) + phase_y) * pitch[0]).astype(int)
            xs = np.rint((np.arange(left, left + block[1]) + phase_x) * pitch[1]).astype(int)
            values = response[np.ix_(ys, xs)]
            energy = float((values**2).sum())
            if energy <= 0:
                continue
            padded = np.zeros((cells_y + SYNC_BLOCK, CELLS_X + SYNC_BLOCK), np.float32)
            padded[:block[0], :block[1]] = values
            sums = np.fft.irfft2(spectra * np.conj(np.fft.rfft2(padded)), s=padded.shape)
            # only offsets that keep the block inside the original grid
            ratio = (sums[:, :cells_y - block[0] + 1, :CELLS_X - block[1] + 1] ** 2).sum(axis=0) / energy
            oy, ox = np.unravel_index(int(ratio.argmax()), ratio.shape)
            if best is None or ratio[oy, ox] > best[0]:
                best = (float(ratio[oy, ox]), np.array([oy - top - phase_y, ox - left - phase_x]))
    return best


def _fine(response: np.ndarray, pitch: np.ndarray, factor: float, cells_y: int, scale: float,
          origin: np.ndarray) -> tuple[float, np.ndarray]:
    """Scale and shift (original pixels, y x) scored on every cell the suspect covers."""
    owner, chips = _layout(cells_y)
    centres = (np.indices(owner.shape).reshape(2, -1).T + 0.5) * pitch  # original pixels (y, x)
    shift0 = (origin + 0.5) * pitch  # where the suspect's origin sits in the original, plus the rounding
    best = (-1.0, scale, shift0)
    for relative in np.linspace(-SYNC_STEP, SYNC_STEP, 11):
        trial = scale * (1 + relative)
        for dy in np.linspace(-0.5, 0.5, 5):
            for dx in np.linspace(-0.5, 0.5, 5):
                shift = shift0 + np.array([dy, dx]) * pitch
                ratio = _lattice_ratio(response, (centres - shift) * trial / factor, owner, chips)
                if ratio > best[0]:
                    best = (ratio, trial, shift)
    return best[1], best[2]


def _lattice_ratio(response: np.ndarray, points: np.ndarray, owner: np.ndarray, chips: np.ndarray) -> float:
    """Bit energy over its expectation without a mark, sampling the response at these cell centres."""
    ys, xs = np.rint(points[:, 0]).astype(int), np.rint(points[:, 1]).astype(int)
    inside = (ys >= 0) & (ys < response.shape[0]) & (xs >= 0) & (xs < response.shape[1])
    values = response[ys[inside], xs[inside]] * chips.ravel()[inside]
    energy = float((values**2).sum())
    if energy <= 0:
        return 0.0
    sums = np.bincount(owner.ravel()[inside], weights=values, minlength=CODE_BITS)
    return float((sums**2).sum()) / energy


# --- invisible: how visible it is ------------------------------------------------------------

@dataclass(frozen=True)
class Quality:
    psnr: float  # dB, luminance of the marked page against the unmarked render
    visibility: float  # grey levels: the largest light/dark step the eye can find (see quality)


def quality(original: Image.Image, marked: Image.Image) -> Quality:
    """How far the mark is from being seen.

    Visibility is the largest local contrast of the difference image after a 2-pixel Gaussian
    blur (what the eye resolves at reading distance), taken over 16 × 16 pixel neighbourhoods
    (about half a degree at 100 % zoom, where the eye is most sensitive). On white, one grey
    level is ~0.9 % luminance; below ~2 levels a smooth change is under the contrast threshold.
    """
    difference = _grey(marked).astype(np.float32) - _grey(original).astype(np.float32)
    mse = float(np.mean(difference**2))
    psnr = 10 * math.log10(255**2 / mse) if mse > 0 else math.inf
    blurred = cv2.GaussianBlur(difference, (0, 0), 2.0)
    window = np.ones((16, 16), np.uint8)
    contrast = cv2.dilate(blurred, window) - cv2.erode(blurred, window)
    return Quality(psnr, float(contrast.max()))
