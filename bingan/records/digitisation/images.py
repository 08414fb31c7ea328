"""Uploaded scanner output and camera shots as page images: JPEG, PNG, multi-page TIFF and PDF
(rendered at scan resolution), each page kept as a JPEG blob. Anything else — a file that is no
picture, a decompression bomb, too many pages — is refused in Chinese before anything is stored.
The edits of a captured page work on the same images: auto-crop to the page edge, rotate, crop,
straighten."""
from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
from PIL import Image

from bingan.errors import Refusal
from bingan.formats.base import FormatError
from bingan.formats.detect import JPEG, PDF, PNG, TIFF, detect
from bingan.formats.images import ImageFile
from bingan.formats.pdf import PdfFile
from bingan.storage.blobs.port import BlobStore, Placement
from bingan.storage.models import Record

ACCEPTED = (JPEG, PNG, TIFF, PDF)
MAX_PAGES = 300  # one upload: the thickest paper record is a few hundred pages
MAX_FILES = 100
PDF_DPI = 200  # what a document scanner delivers for text; OCR reads it well
JPEG_QUALITY = 88  # text stays crisp; a 200-dpi A4 page is ~400 KB


@dataclass(frozen=True)
class PageImage:
    """One captured page, decoded, with the bytes kept (JPEG)."""

    image: Image.Image
    data: bytes

    @property
    def media_type(self) -> str:
        return JPEG


def read_upload(data: bytes, filename: str = "") -> list[PageImage]:
    """The pages of one uploaded file, in order."""
    name = filename or "上传文件"
    media_type = detect(data)
    if media_type not in ACCEPTED:
        raise Refusal(f"“{name}”不是 JPEG、PNG、TIFF 图像或 PDF 文件，未保存")
    try:
        if media_type == PDF:
            return _pdf_pages(data, name)
        pictures = ImageFile(data, media_type)
        _check_count(pictures.page_count(), name)
        if media_type == JPEG and pictures.page_count() == 1:
            return [PageImage(pictures.page(1, straighten=False), data)]  # the camera's own JPEG, not re-encoded
        return [_as_page(pictures.page(n, straighten=False)) for n in range(1, pictures.page_count() + 1)]
    except FormatError as exc:
        raise Refusal(f"“{name}”：{exc}") from exc


def read_uploads(files: Sequence[tuple[bytes, str]], crop_to_page: bool = False) -> list[PageImage]:
    """The pages of one capture's files (bytes, file name), in order, cut to the page edge when
    asked; too many files or pages are refused."""
    if len(files) > MAX_FILES:
        raise Refusal(f"一次最多上传 {MAX_FILES} 个文件")
    pictures = [picture for data, name in files for picture in read_upload(data, name)]
    if len(pictures) > MAX_PAGES:
        raise Refusal(f"一次最多上传 {MAX_PAGES} 页，请分批上传")
    return [auto_crop(picture) for picture in pictures] if crop_to_page else pictures


def _pdf_pages(data: bytes, name: str) -> list[PageImage]:
    document = PdfFile(data)
    try:
        _check_count(document.page_count(), name)
        return [_as_page(document.render(n, dpi=PDF_DPI)) for n in range(1, document.page_count() + 1)]
    finally:
        document.close()


def _check_count(count: int, name: str) -> None:
    if count > MAX_PAGES:
        raise Refusal(f"“{name}”有 {count} 页，一次最多上传 {MAX_PAGES} 页，请分批上传")


def _as_page(image: Image.Image) -> PageImage:
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=JPEG_QUALITY)
    return PageImage(image, out.getvalue())


def store(blobs: BlobStore, record: Record, page: PageImage, filename: str) -> str:
    """The page's bytes in the blob store (encrypted, in the record's folder); its SHA-256."""
    when = (record.discharged_at or record.admitted_at)
    placement = Placement(campus=record.campus.code if record.campus else "main", record_number=record.record_number,
                          stay=record.stay_number, when=when.date() if when else date.today(), filename=filename)
    return blobs.put(io.BytesIO(page.data), placement).sha256


def load(blobs: BlobStore, sha256: str) -> bytes:
    with blobs.open(sha256) as stream:
        return stream.read()


# Auto-crop (自动裁边): the document camera looks down on a page lying on a darker table. The page
# is the light region: Otsu's threshold splits paper from table, and the rows and columns that are
# mostly paper bound it. No crop unless the table really is darker (a scanner's output is all page).
CROP_SIDE = 600  # px of the working copy: the page edge needs no more
PAGE_CONTRAST = 40  # grey levels between the paper and the table around it
MIN_PAGE_SHARE = 0.15  # of the picture's area: anything smaller is not the page
FULL_PAGE_SHARE = 0.97  # a bounding box this large means there is no table to cut away
EDGE_INSET = 0.015  # of each side, cut inside the edge so no sliver of table stays on the border
MIN_CROP = 0.05  # a manual crop keeps at least this share of the width and of the height


def page_box(image: Image.Image) -> tuple[int, int, int, int] | None:
    """The page's bounding box (left, top, right, bottom) on the camera's darker table; None when
    the picture shows no table to cut away."""
    small = image.copy()
    small.thumbnail((CROP_SIDE, CROP_SIDE))
    grey = np.asarray(small.convert("L"))
    paper = grey > _otsu(grey)
    if not paper.any():
        return None
    rows, cols = paper.mean(axis=1), paper.mean(axis=0)
    ys, xs = np.nonzero(rows > rows.max() / 2)[0], np.nonzero(cols > cols.max() / 2)[0]
    top, bottom, left, right = int(ys[0]), int(ys[-1]) + 1, int(xs[0]), int(xs[-1]) + 1
    share = (bottom - top) * (right - left) / grey.size
    if not MIN_PAGE_SHARE <= share <= FULL_PAGE_SHARE:
        return None
    outside = np.ones_like(paper)
    outside[top:bottom, left:right] = False
    if float(np.median(grey[top:bottom, left:right])) - float(grey[outside].mean()) < PAGE_CONTRAST:
        return None
    scale_x, scale_y = image.width / grey.shape[1], image.height / grey.shape[0]
    inset_x, inset_y = (right - left) * EDGE_INSET, (bottom - top) * EDGE_INSET
    return (round((left + inset_x) * scale_x), round((top + inset_y) * scale_y),
            round((right - inset_x) * scale_x), round((bottom - inset_y) * scale_y))


def _otsu(grey: np.ndarray) -> int:
    """Otsu's threshold: the grey level that best splits the picture into two classes."""
    counts = np.bincount(grey.ravel(), minlength=256).astype(np.float64)
    levels = np.arange(256)
    weight = np.cumsum(counts)
    mass = np.cumsum(counts * levels)
    total, total_mass = weight[-1], mass[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (total_mass * weight / total - mass) ** 2 / (weight * (total - weight))
    return int(np.argmax(np.nan_to_num(between[:-1])))  # one grey level only: 0, all of it "paper"


def auto_crop(page: PageImage) -> PageImage:
    """The page cut out of the camera's picture; unchanged when no darker table surrounds it."""
    box = page_box(page.image)
    return _as_page(page.image.crop(box)) if box else page


def cut_to_page(page: PageImage) -> PageImage:
    """自动裁边 asked for a saved page: refused when there is no table around the page to cut away."""
    box = page_box(page.image)
    if box is None:
        raise Refusal("图像中没有找到比纸张暗的台面，页面已在纸张边缘，无需裁边")
    return _as_page(page.image.crop(box))


def rotate(page: PageImage, degrees: int) -> PageImage:
    """Turned clockwise by a quarter, half or three quarters (旋转)."""
    turns = {90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_90}
    if degrees not in turns:
        raise Refusal("旋转角度应为 90、180 或 270 度")
    return _as_page(page.image.transpose(turns[degrees]))


def crop(page: PageImage, left: float, top: float, right: float, bottom: float) -> PageImage:
    """Cut to a rectangle given as shares (0–1) of the width and height (裁剪)."""
    if not (0 <= left < right <= 1 and 0 <= top < bottom <= 1):
        raise Refusal("裁剪范围不正确：应在图像之内，且左小于右、上小于下")
    if right - left < MIN_CROP or bottom - top < MIN_CROP:
        raise Refusal("裁剪范围过小，请重新框选页面")
    width, height = page.image.size
    return _as_page(page.image.crop((round(left * width), round(top * height),
                                     round(right * width), round(bottom * height))))


def straighten(page: PageImage, angle: float) -> PageImage:
    """Turned back by the skew the quality check measured (纠偏, counter-clockwise positive); the
    corners that come in are filled with the paper's own grey."""
    if not angle:
        return page
    image = page.image if page.image.mode in ("RGB", "L") else page.image.convert("RGB")
    paper = tuple(int(np.median(np.asarray(band))) for band in image.split())
    fill = paper[0] if image.mode == "L" else paper
    return _as_page(image.rotate(-angle, resample=Image.Resampling.BICUBIC, expand=False, fillcolor=fill))


def from_blob(data: bytes) -> PageImage:
    """A stored page (a JPEG we wrote) decoded again for an edit."""
    image = Image.open(io.BytesIO(data))
    image.load()
    return PageImage(image, data)


def thumbnail(data: bytes, width: int) -> bytes:
    """A small JPEG of a stored page for the thumbnails of the capture and review pages."""
    image = Image.open(io.BytesIO(data))
    image.thumbnail((width, width * 2))
    return _as_page(image).data
