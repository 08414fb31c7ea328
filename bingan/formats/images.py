"""Scans and photos: JPEG, PNG, TIFF (multi-page), GIF, BMP, HEIC.

Pages come out upright (EXIF orientation) and straight (deskew above 0.5°), because OCR
accuracy drops quickly with skew and users read the same images.
"""
from __future__ import annotations

import io
import math
import threading
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from bingan.formats import guard
from bingan.formats.base import FormatError, Metadata

try:  # HEIC photos from phones; pillow-heif registers itself as a Pillow plugin
    import pillow_heif

    pillow_heif.register_heif_opener()
except ImportError:  # pragma: no cover — optional at runtime, present in our environment
    pillow_heif = None

MAX_PIXELS = 150_000_000  # a 600-dpi A3 scan is ~70 MP; beyond this it is a bomb or an error
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
MAX_FRAMES = 2_000
DESKEW_MIN_DEGREES = 0.5
DESKEW_RANGE = 5.0  # scanners skew a few degrees; larger angles are layout, not skew
ASSUMED_DPI = 300.0  # scans without a resolution tag are almost always 300 dpi

_LOCK = threading.Lock()  # Pillow image objects are not safe to share between threads


def _fresh_lock() -> None:
    global _LOCK
    _LOCK = threading.Lock()  # a guarded child is single-threaded; another thread may have held ours


guard.reset_in_child(_fresh_lock)


class ImageFile:
    """One image file; TIFF pages are its frames, other formats have one page."""

    def __init__(self, source: bytes | Path, media_type: str = "") -> None:
        self._data = source if isinstance(source, bytes) else Path(source).read_bytes()
        self.media_type = media_type
        self._image = _open_checked(self._data)
        self._frames = _frame_count(self._image)

    def page_count(self) -> int:
        return self._frames

    def dpi(self) -> float:
        value = self._image.info.get("dpi")
        try:
            dpi = float(value[0]) if value else 0.0
        except (TypeError, ValueError, IndexError):
            dpi = 0.0
        return dpi if 50 <= dpi <= 2400 else ASSUMED_DPI

    def page(self, number: int, *, straighten: bool = True) -> Image.Image:
        """Page ``number`` (1-based), upright, RGB or L, deskewed when ``straighten``."""
        if not 1 <= number <= self._frames:
            raise FormatError(f"页码 {number} 超出范围（共 {self._frames} 页）", f"frame {number}")
        with _LOCK:
            image = _load_frame(self._image, number - 1)
        return deskew(image)[0] if straighten else image

    def render(self, number: int, dpi: float | None = None, width: int | None = None) -> Image.Image:
        image = self.page(number)
        if width:
            factor = width / image.width
        elif dpi:
            factor = dpi / self.dpi()
        else:
            return image
        size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
        _check_size(*size)
        return image.resize(size, Image.Resampling.LANCZOS)

    def metadata(self) -> Metadata:
        meta = Metadata(media_type=self.media_type, pages=self._frames)
        meta.extra.update(width=str(self._image.width), height=str(self._image.height),
                          dpi=f"{self.dpi():g}", format=str(self._image.format or ""))
        software = _exif_value(self._image, 0x0131)
        meta.producer = software
        return meta


def _open_checked(data: bytes, max_pixels: int = MAX_PIXELS) -> Image.Image:
    if not data:
        raise FormatError("图像文件为空", "zero bytes")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise FormatError("图像尺寸过大，可能是恶意文件，已拒绝", str(exc)) from exc
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
            raise FormatError("图像文件已损坏或格式不受支持", repr(exc)) from exc
    _check_size(*image.size, max_pixels=max_pixels)
    return image


def open_upload(data: bytes, max_pixels: int) -> Image.Image:
    """An uploaded picture, opened but not yet decoded: its header says how many pixels decoding
    would allocate, so a few-KB decompression bomb is refused (FormatError) before it costs memory."""
    return _open_checked(data, max_pixels)


def _check_size(width: int, height: int, max_pixels: int = MAX_PIXELS) -> None:
    if width <= 0 or height <= 0:
        raise FormatError("图像尺寸为零，文件无效", f"{width}x{height}")
    if width * height > max_pixels:
        raise FormatError("图像尺寸过大，可能是恶意文件，已拒绝", f"{width}x{height}")


def _frame_count(image: Image.Image) -> int:
    # Animated GIFs and HEIC bursts are one picture; only TIFF frames are document pages.
    if image.format != "TIFF":
        return 1
    frames = getattr(image, "n_frames", 1)
    if frames > MAX_FRAMES:
        raise FormatError("TIFF 页数过多，已拒绝", f"{frames} frames")
    return frames


def _load_frame(image: Image.Image, index: int) -> Image.Image:
    try:
        image.seek(index)
        _check_size(*image.size)
        frame = image.copy()
        frame.load()
        frame = ImageOps.exif_transpose(frame) or frame
    except FormatError:
        raise
    except (OSError, ValueError, EOFError, SyntaxError, Image.DecompressionBombError) as exc:
        raise FormatError("图像文件已损坏，无法解码", repr(exc)) from exc
    return _normalise_mode(frame)


def _normalise_mode(image: Image.Image) -> Image.Image:
    if image.mode in ("RGB", "L"):
        return image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        background = Image.new("RGB", image.size, "white")  # transparent scans read as paper
        rgba = image.convert("RGBA")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if image.mode in ("1", "I;16", "I;16B", "I", "F"):
        return _to_grey(image)
    return image.convert("RGB")


def _to_grey(image: Image.Image) -> Image.Image:
    if image.mode == "1":
        return image.convert("L")
    pixels = np.asarray(image, dtype=np.float64)
    top = pixels.max() or 1.0
    return Image.fromarray((pixels / top * 255).astype("uint8"))


def _exif_value(image: Image.Image, tag: int) -> str:
    try:
        value = image.getexif().get(tag, "")
    except Exception:  # broken EXIF must not reject a readable picture
        return ""
    return str(value).strip("\x00 ") if value else ""


# -- deskew ------------------------------------------------------------------------------

_WORK_WIDTH = 1000  # estimate on a reduced copy: the angle does not need full resolution
_MAX_INK_POINTS = 60_000
MIN_INK_POINTS = 2_000  # fewer is a line or two of text: no reliable angle
MIN_PEAK_GAIN = 1.15


def estimate_skew(image: Image.Image) -> float:
    """Skew angle in degrees (positive = text rises to the right, counter-clockwise).

    Projection profile: rotate the ink pixels by candidate angles and keep the angle whose
    horizontal histogram is sharpest (text lines fall into few rows).
    """
    points = _ink_points(image)
    if points is None:
        return 0.0
    best, _ = _best_angle(points, np.arange(-DESKEW_RANGE, DESKEW_RANGE + 0.01, 0.5))
    fine, score = _best_angle(points, np.arange(best - 0.5, best + 0.51, 0.05))
    _, level = _best_angle(points, np.array([0.0]))
    # A line or two of text gives a noisy profile: trust only a clear improvement over 0°.
    if score < level * MIN_PEAK_GAIN:
        return 0.0
    return round(float(fine), 2)


def _ink_points(image: Image.Image) -> np.ndarray | None:
    grey = image.convert("L")
    if grey.width > _WORK_WIDTH:
        grey = grey.resize((_WORK_WIDTH, max(1, round(grey.height * _WORK_WIDTH / grey.width))),
                           Image.Resampling.BILINEAR)
    pixels = np.asarray(grey)
    threshold = min(180, int(pixels.mean()) - 30)
    ys, xs = np.nonzero(pixels < threshold)
    if len(xs) < MIN_INK_POINTS:
        return None
    if len(xs) > _MAX_INK_POINTS:
        keep = np.random.default_rng(0).choice(len(xs), _MAX_INK_POINTS, replace=False)
        xs, ys = xs[keep], ys[keep]
    return np.stack([xs.astype(np.float64), ys.astype(np.float64)])


def _best_angle(points: np.ndarray, angles: np.ndarray) -> tuple[float, float]:
    xs, ys = points
    scores = []
    for angle in angles:
        theta = math.radians(angle)
        # Row of each ink pixel after rotating the page by -angle (image y grows downwards).
        rows = ys * math.cos(theta) + xs * math.sin(theta)
        histogram = np.bincount((rows - rows.min()).astype(np.int64))
        scores.append(float(np.sum(np.diff(histogram.astype(np.float64)) ** 2)))
    index = int(np.argmax(scores))
    return float(angles[index]), scores[index]


def deskew(image: Image.Image) -> tuple[Image.Image, float]:
    """The image straightened when its skew exceeds 0.5°, and the angle that was measured."""
    angle = estimate_skew(image)
    if abs(angle) <= DESKEW_MIN_DEGREES:
        return image, angle
    fill = 255 if image.mode == "L" else (255, 255, 255)
    straight = image.rotate(-angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=fill)
    straight.info.update(image.info)
    return straight, angle
