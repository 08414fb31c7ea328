"""Image quality checks of a captured page (拍摄质量自动检查, C3): blur, brightness, skew and a
cut-off page edge, each a verdict with a Chinese reason, so a flagged page reaches the reviewer
first and the operator can re-shoot before anyone reads it.

Every check looks at one small grey copy of the page (long side ``WORK_SIDE``): the measures
are about the page's structure, not its fine detail, and the small copy keeps all four checks
well under 50 ms a page (bench/digitisation_quality.py).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image

WORK_SIDE = 1000  # px: a 150-dpi A4 page; text strokes stay 2–3 px wide, enough for the Laplacian

# Blur: variance of the 4-neighbour Laplacian over the working copy. A typed page in focus
# measures 4,000+ (a dark one still 500); a 3-px Gaussian blur (a shaken document camera) brings
# the same page under 50. A blank back side is flat and is not judged.
BLUR_MIN_VARIANCE = 300.0
# A page whose grey levels hardly vary is blank (背面空白页): nothing to be sharp or skewed. A
# blurred text page still varies (std 20+); paper grain alone stays under 5.
BLANK_STD = 6.0

# Brightness: a page photographed in poor light has a grey paper; mean grey under 90 (of 255)
# makes thin strokes unreadable; over 40 % of pixels crushed to near-black is a shadow or a lid.
DARK_MEAN = 90.0
DARK_CLIPPED_SHARE = 0.40
DARK_LEVEL = 16
# Washed out (over-exposed): the darkest 1 % of pixels is still light grey, so strokes are lost.
BRIGHT_INK_LEVEL = 170

# Skew: the angle whose shear makes text rows line up best (row-count variance of the ink); OCR
# loses lines beyond about 1°, and readers notice 1.5°.
SKEW_MAX_DEGREES = 1.5
SKEW_SEARCH = 8.0  # a page on the camera's table is rarely further off; larger is layout

# Cut-off: the outermost strip of the page should be margin. Ink along it means text or a
# table runs out of the picture (页面被裁切); a strip mostly dark is desk or cover, not paper.
EDGE_STRIP = 0.01  # of the page's width or height
EDGE_INK_SHARE = 0.02
EDGE_BACKGROUND_SHARE = 0.60

PAPER_SHARE = 0.9  # the grey level under which 90 % of the pixels lie: paper, even beside a wide desk

SIDES = {"top": "上", "bottom": "下", "left": "左", "right": "右"}


@dataclass(frozen=True)
class Verdict:
    check: str  # blur | brightness | skew | edge
    ok: bool
    value: float
    reason: str  # Chinese, shown to the operator and reviewer; "" when ok


@dataclass(frozen=True)
class Quality:
    verdicts: tuple[Verdict, ...]

    @property
    def flagged(self) -> bool:
        return not all(v.ok for v in self.verdicts)

    @property
    def reasons(self) -> list[str]:
        return [v.reason for v in self.verdicts if not v.ok]

    def as_json(self) -> dict:
        return {"flagged": self.flagged, "reasons": self.reasons, "checks": [asdict(v) for v in self.verdicts]}


def check_page(image: Image.Image) -> Quality:
    """The four verdicts of one page image."""
    grey = _working_copy(image)
    counts = np.bincount(grey.ravel(), minlength=256)
    ink = grey < _level(counts, 0.5) * 0.6  # clearly darker than the paper (a page's median is paper)
    levels = np.arange(256)
    mean = float((counts * levels).sum() / counts.sum())
    std = float(np.sqrt((counts * (levels - mean) ** 2).sum() / counts.sum()))
    blank = std < BLANK_STD
    # Desk or cover: darker than the paper, the paper taken as the light tenth of the picture, which
    # holds when the desk around an uncropped camera shot outweighs the page (the median is desk then).
    background = grey < _level(counts, PAPER_SHARE) * 0.6
    return Quality((_blur(grey, blank), _brightness(counts, mean, blank), _skew(ink, blank),
                    _edge(ink, background)))


def _working_copy(image: Image.Image) -> np.ndarray:
    """The page shrunk (box filter, before the grey conversion: fewer pixels to convert) to
    ``WORK_SIDE`` on its long side, as 8-bit grey."""
    scale = WORK_SIDE / max(image.size)
    if scale < 1:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.BOX)
    return np.asarray(image.convert("L"))


def _level(counts: np.ndarray, share: float) -> int:
    """The grey level below which ``share`` of the pixels lie (a percentile from the histogram)."""
    return int(np.searchsorted(np.cumsum(counts), share * counts.sum()))


def _blur(grey: np.ndarray, blank: bool) -> Verdict:
    g = grey.astype(np.int16)
    lap = g[1:-1, 1:-1] * 4 - g[:-2, 1:-1] - g[2:, 1:-1] - g[1:-1, :-2] - g[1:-1, 2:]
    variance = float(lap.var())
    if blank or variance >= BLUR_MIN_VARIANCE:
        return Verdict("blur", True, round(variance, 1), "")
    return Verdict("blur", False, round(variance, 1),
                   f"图像模糊（清晰度 {variance:.0f}，应不低于 {BLUR_MIN_VARIANCE:.0f}），请重拍")


def _brightness(counts: np.ndarray, mean: float, blank: bool) -> Verdict:
    crushed = float(counts[: DARK_LEVEL + 1].sum() / counts.sum())
    if mean < DARK_MEAN or crushed > DARK_CLIPPED_SHARE:
        return Verdict("brightness", False, round(mean, 1),
                       f"图像过暗（平均亮度 {mean:.0f}，黑色区域 {crushed:.0%}），请补光后重拍")
    if not blank and _level(counts, 0.01) > BRIGHT_INK_LEVEL:
        return Verdict("brightness", False, round(mean, 1), "图像过亮，字迹发白不清，请降低曝光后重拍")
    return Verdict("brightness", True, round(mean, 1), "")


def _skew(ink: np.ndarray, blank: bool) -> Verdict:
    if blank:
        return Verdict("skew", True, 0.0, "")
    angle = skew_angle(ink)
    if abs(angle) <= SKEW_MAX_DEGREES:
        return Verdict("skew", True, angle, "")
    return Verdict("skew", False, angle, f"页面倾斜约 {abs(angle):.1f}°（允许 {SKEW_MAX_DEGREES}°），请摆正后重拍")


def skew_angle(ink: np.ndarray) -> float:
    """Degrees the page's text rows are turned (counter-clockwise positive), by projection profile:
    each ink pixel's row shifted by x·tan(angle) (a shear — no rotation of the image), the angle
    whose row counts vary most is the one that lines the text rows up. Searched coarse then fine."""
    ys, xs = np.nonzero(ink)
    if len(ys) == 0:
        return 0.0
    margin = int(ink.shape[1] * np.tan(np.radians(SKEW_SEARCH + 1))) + 1

    def sharpness(angle: float) -> float:
        rows = ys + np.rint(xs * np.tan(np.radians(angle))).astype(np.int64) + margin
        return float(np.bincount(rows).astype(np.float64).var())

    coarse = max(np.arange(-SKEW_SEARCH, SKEW_SEARCH + 0.01, 1.0), key=sharpness)
    fine = max(np.arange(coarse - 0.75, coarse + 0.76, 0.25), key=sharpness)
    return round(float(fine), 2) + 0.0


def _edge(ink: np.ndarray, background: np.ndarray) -> Verdict:
    desk_side, desk = _worst_strip(background)
    if desk > EDGE_BACKGROUND_SHARE:
        return Verdict("edge", False, round(desk, 3), f"{SIDES[desk_side]}边缘露出背景，未裁切到纸张边缘，请调整后重拍")
    worst, share = _worst_strip(ink)
    if share > EDGE_BACKGROUND_SHARE:
        return Verdict("edge", False, round(share, 3), f"{SIDES[worst]}边缘露出背景，未裁切到纸张边缘，请调整后重拍")
    if share > EDGE_INK_SHARE:
        return Verdict("edge", False, round(share, 3), f"内容触及{SIDES[worst]}边缘，页面可能被裁切，请重拍完整页面")
    return Verdict("edge", True, round(share, 3), "")


def _worst_strip(mask: np.ndarray) -> tuple[str, float]:
    """The side whose outer strip has most of ``mask``, and that share."""
    height, width = mask.shape
    rows, cols = max(1, round(height * EDGE_STRIP)), max(1, round(width * EDGE_STRIP))
    strips = {"top": mask[:rows], "bottom": mask[-rows:], "left": mask[:, :cols], "right": mask[:, -cols:]}
    shares = {side: float(strip.mean()) for side, strip in strips.items()}
    worst = max(shares, key=shares.get)
    return worst, shares[worst]
