"""OCR: rapidocr (PP-OCR models inside the wheel, offline; keeps medical terms intact),
tesseract chi_sim+eng as the fallback when rapidocr cannot be imported or fails.

One rapidocr engine per process, created on first use. Threads: BINGAN_OCR_THREADS
(default 2); when pages are spread over several processes, give each one thread.
"""
from __future__ import annotations

import csv
import io
import logging
import os
import shutil
import subprocess
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from PIL import Image

from bingan.formats import wraps
from bingan.formats.base import FormatError, PageText, TextBox
from bingan.formats.options import format_options
from bingan.formats.quality import FIELD_GAP, normalize_cjk_spaces

log = logging.getLogger(__name__)

TESSERACT_TIMEOUT = 120.0
TESSERACT_LANG = "chi_sim+eng"
MAX_SIDE = 1600  # page image long side; measured: 2000 -> 1600 px is 1.7x faster, same terms
# The text detector runs on a smaller copy (long side 1024 px, ~87 dpi on A4); recognition
# still cuts its lines from the 1600 px page. Measured: detection 2-4x faster, every term
# intact on 12 pt and 8 pt pages. Recognition (fixed 48 px line height) is the rest.
CACHE_SIZE = 256
# Two detected pieces of one row stand in separate fields (table cells, "姓名：张三    性别：男")
# when the gap between their boxes is at least this share of the box height. The detector
# merges characters closer than ~1/2 em into one box and pads boxes by ~1/4 em on each
# side, so half a box height between boxes is about an em of paper.
FIELD_GAP_HEIGHTS = 0.5
FAILED_MESSAGE = "文字识别（OCR）失败"

_engine_lock = threading.Lock()
_engine: object | None = None
_engine_broken = False
_cache: OrderedDict[str, PageText] = OrderedDict()
_cache_lock = threading.Lock()


@dataclass(frozen=True)
class _Line:
    text: str
    x0: float
    y0: float
    x1: float
    y1: float


def det_max_side() -> int:
    """BINGAN_OCR_DET_MAX_SIDE (default 1024; e.g. 1600 for very small print)."""
    return format_options().ocr_det_max_side


def threads() -> int:
    return format_options().ocr_threads


def ocr_image(image: Image.Image, *, page_number: int = 1, scale: float = 1.0) -> PageText:
    """Text of a page image. ``scale`` converts pixels to the page's points (72 / dpi)."""
    lines = _rapidocr_lines(image)
    if lines is None:
        lines = _tesseract_lines(image)
    return _page_text(lines, page_number, scale)


def ocr_cached(key: str, image: Image.Image | Callable[[], tuple[Image.Image, float]], *,
               page_number: int = 1, scale: float = 1.0) -> PageText:
    """``ocr_image`` behind an in-process LRU keyed by the caller's hash of the page image.

    ``image`` may be a function returning (image, scale), so a cache hit does not even
    render the page.
    """
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return _copy(hit, page_number)
    picture = image
    if callable(image):
        picture, scale = image()
    result = ocr_image(picture, page_number=page_number, scale=scale)
    with _cache_lock:
        _cache[key] = result
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return _copy(result, page_number)


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def _copy(page: PageText, number: int) -> PageText:
    return PageText(number=number, text=page.text, boxes=list(page.boxes), source="ocr")


# -- rapidocr ----------------------------------------------------------------------------


def _get_engine() -> object | None:
    global _engine, _engine_broken
    with _engine_lock:
        if _engine is None and not _engine_broken:
            try:
                from rapidocr import RapidOCR

                _engine = RapidOCR(params={
                    "Global.log_level": "error",
                    "Global.max_side_len": MAX_SIDE,
                    "Det.limit_type": "max",
                    "Det.limit_side_len": det_max_side(),
                    "EngineConfig.onnxruntime.intra_op_num_threads": threads(),
                    "EngineConfig.onnxruntime.inter_op_num_threads": 1,
                })
            except Exception as exc:  # missing wheel, broken model: fall back
                log.warning("rapidocr unavailable, using tesseract: %r", exc)
                _engine_broken = True
        return _engine


def _rapidocr_lines(image: Image.Image) -> list[_Line] | None:
    engine = _get_engine()
    if engine is None:
        return None
    pixels = np.asarray(image.convert("RGB"))[:, :, ::-1]  # rapidocr expects BGR like cv2
    try:
        # Pages are deskewed and upright already: the per-line direction classifier only
        # costs time.
        result = engine(pixels, use_cls=False)  # type: ignore[operator]
    except Exception as exc:  # onnxruntime errors vary; tesseract takes over
        log.warning("rapidocr failed, using tesseract: %r", exc)
        return None
    if result.boxes is None or result.txts is None:
        return []
    return [_Line(text, float(box[:, 0].min()), float(box[:, 1].min()),
                  float(box[:, 0].max()), float(box[:, 1].max()))
            for box, text in zip(np.asarray(result.boxes), result.txts, strict=False) if text.strip()]


# -- tesseract ---------------------------------------------------------------------------


def _tesseract_lines(image: Image.Image) -> list[_Line]:
    binary = shutil.which("tesseract")
    if not binary:
        raise FormatError(FAILED_MESSAGE + "：未安装 OCR 引擎", "rapidocr and tesseract unavailable")
    png = io.BytesIO()
    image.convert("L").save(png, format="PNG")
    # One thread per tesseract: its OpenMP threading is 2x slower than parallel pages.
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    try:
        done = subprocess.run([binary, "stdin", "stdout", "-l", TESSERACT_LANG, "--psm", "3", "tsv"],
                              input=png.getvalue(), capture_output=True, timeout=TESSERACT_TIMEOUT,
                              env=env, check=False)
    except subprocess.TimeoutExpired as exc:
        raise FormatError(FAILED_MESSAGE + "：识别超时", f"tesseract > {TESSERACT_TIMEOUT}s") from exc
    if done.returncode != 0:
        raise FormatError(FAILED_MESSAGE, done.stderr.decode("utf-8", "replace")[-500:])
    return _parse_tsv(done.stdout.decode("utf-8", "replace"))


def _parse_tsv(tsv: str) -> list[_Line]:
    """Tesseract reports words; join them per (block, paragraph, line)."""
    grouped: dict[tuple[str, str, str], list[dict[str, str]]] = {}
    for row in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
        if row.get("level") == "5" and (row.get("text") or "").strip():
            grouped.setdefault((row["block_num"], row["par_num"], row["line_num"]), []).append(row)
    lines = []
    for words in grouped.values():
        x0 = min(int(w["left"]) for w in words)
        y0 = min(int(w["top"]) for w in words)
        x1 = max(int(w["left"]) + int(w["width"]) for w in words)
        y1 = max(int(w["top"]) + int(w["height"]) for w in words)
        lines.append(_Line(" ".join(w["text"] for w in words), x0, y0, x1, y1))
    return lines


# -- assembling ----------------------------------------------------------------------------


def _page_text(lines: list[_Line], page_number: int, scale: float) -> PageText:
    rows = _rows(lines)
    boxes = []
    wrapped = []
    for row in rows:
        text = normalize_cjk_spaces(_join_row(row))
        box = TextBox(text, min(line.x0 for line in row) * scale, min(line.y0 for line in row) * scale,
                      max(line.x1 for line in row) * scale, max(line.y1 for line in row) * scale)
        boxes.append(box)
        # The detector's box height stands for the font size; pieces apart are fields.
        wrapped.append(wraps.Line(text, box.x0, box.y0, box.x1, box.y1, box.y1 - box.y0,
                                  len(text.split(FIELD_GAP))))
    return PageText(number=page_number, text=wraps.join_lines(wrapped), boxes=boxes, source="ocr")


def _join_row(row: list[_Line]) -> str:
    """Pieces left to right: FIELD_GAP across a wide gap, else a space (dropped between CJK)."""
    parts = [row[0].text.strip()]
    for before, after in pairwise(row):
        height = max(before.y1 - before.y0, after.y1 - after.y0)
        parts.append(FIELD_GAP if after.x0 - before.x1 >= FIELD_GAP_HEIGHTS * height else " ")
        parts.append(after.text.strip())
    return "".join(parts)


def _rows(lines: list[_Line]) -> list[list[_Line]]:
    """Reading order: top to bottom; pieces whose vertical centres align form one row."""
    rows: list[list[_Line]] = []
    for line in sorted(lines, key=lambda item: (item.y0 + item.y1) / 2):
        centre = (line.y0 + line.y1) / 2
        if rows:
            last = rows[-1]
            last_centre = sum((item.y0 + item.y1) / 2 for item in last) / len(last)
            height = max(item.y1 - item.y0 for item in last)
            if abs(centre - last_centre) < height / 2:
                last.append(line)
                continue
        rows.append([line])
    return [sorted(row, key=lambda item: item.x0) for row in rows]
