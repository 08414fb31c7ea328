"""The one interface for every format: ``open_document(path_or_bytes) -> Document``.

    with open_document(path) as doc:
        doc.media_type, doc.page_count()
        doc.page_texts()            # OCR only where the text layer fails the quality check
        doc.render(1, dpi=150)      # PIL image
        doc.metadata()

    open_document(path, guarded=True)  # the same, with PDFium/OFD/Pillow in a child process:
                                       # every call has a deadline and a memory limit (guard.py)

Every method returns a result or raises ``FormatError`` (Chinese message, technical detail).
"""
from __future__ import annotations

import functools
import hashlib
import logging
import os
import shutil
import sys
import tempfile
import threading
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, TypeVar

from PIL import Image

from bingan.formats import detect as kinds
from bingan.formats import guard, quality
from bingan.formats.base import FormatError, Metadata, PageText

if TYPE_CHECKING:
    from bingan.formats.text import TextPage

log = logging.getLogger(__name__)

OcrMode = bool | Literal["auto"]
OCR_DPI = 300  # scans are read at 300 dpi; the OCR engine caps the long side itself
OCR_MAX_SIDE = 1600  # the OCR engine shrinks larger pages to this (ocr.MAX_SIDE): rendering more is waste
OCR_VERSION = "ocr-v2"  # part of the cache key: bump when OCR output changes
UNSUPPORTED = "不支持的文件格式"

T = TypeVar("T")
Guarded = bool | guard.Limits


class Backend(Protocol):
    """What each format provides; ``Document`` adds OCR routing, caching and error safety."""

    def page_count(self) -> int: ...
    def native_text(self, number: int) -> PageText: ...
    def render(self, number: int, dpi: float | None, width: int | None) -> Image.Image: ...
    def ocr_input(self, number: int) -> tuple[Image.Image, float]: ...  # image, points per pixel
    def metadata(self) -> Metadata: ...
    def close(self) -> None: ...


def _guarded(method: Callable[..., T]) -> Callable[..., T]:
    """The safety net behind the promise "only FormatError": a bug or a library surprise
    on a hostile file becomes a rejection with a log entry, never a crash of the caller."""

    @functools.wraps(method)
    def wrapper(*args: object, **kwargs: object) -> T:
        try:
            return method(*args, **kwargs)
        except FormatError:
            raise
        except MemoryError as exc:
            raise FormatError("文件过大，内存不足，无法处理", "MemoryError") from exc
        except Exception as exc:  # see docstring
            log.exception("unexpected error in %s", method.__qualname__)
            raise FormatError("文件无法处理（内部错误）", repr(exc)) from exc

    return wrapper


class Document:
    def __init__(self, media_type: str, backend: Backend, digest: Callable[[], str]) -> None:
        self.media_type = media_type
        self._backend = backend
        self._digest = digest
        self._closers: list[Callable[[], None]] = []

    def __enter__(self) -> Document:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._backend.close()
        for closer in self._closers:
            closer()
        self._closers.clear()

    @_guarded
    def page_count(self) -> int:
        return self._backend.page_count()

    @_guarded
    def page_texts(self, ocr: OcrMode = "auto") -> list[PageText]:
        return [self.page_text(number, ocr) for number in range(1, self.page_count() + 1)]

    @_guarded
    def page_text(self, number: int, ocr: OcrMode = "auto") -> PageText:
        """Text of one page. ``ocr``: "auto" = OCR when the quality check fails (scans,
        mojibake, (cid:N), unmapped or private-use glyphs); True = always; False = never."""
        native = self._backend.native_text(number)
        if ocr is False or kinds.is_video(self.media_type):
            return native
        if ocr is True:
            return self._ocr(number)
        if not native.needs_ocr:
            return native
        if not native.text.strip():
            return self._ocr(number)  # a scan: nothing to lose
        return self._better_of(native, number)

    def _better_of(self, layer: PageText, number: int) -> PageText:
        """The text layer failed the quality check or only labels a scan: OCR replaces it
        only when it reads more sound characters (not mojibake, unmapped, replaced or
        private-use) than the layer has. An OCR that cannot read the page's script, or
        fails, never costs its text."""
        try:
            read = self._ocr(number)
        except FormatError as exc:
            log.warning("page %d: OCR failed, text layer kept: %s", number, exc)
            return layer
        if quality.sound_chars(read.text) <= quality.sound_chars(layer.text, layer.unmapped):
            log.info("page %d: OCR read less than the text layer, layer kept", number)
            return layer
        if quality.check_text(layer.text, layer.unmapped).needs_ocr:
            return read  # a broken layer: nothing in it worth keeping
        return _with_layer_lines(read, layer)

    def _ocr(self, number: int) -> PageText:
        from bingan.formats.ocr import ocr_cached

        key = f"{self._digest()}:{number}:{OCR_VERSION}"
        return ocr_cached(key, lambda: self._backend.ocr_input(number), page_number=number)

    @_guarded
    def render(self, page: int, dpi: float | None = None, width: int | None = None) -> Image.Image:
        if (dpi is not None and dpi <= 0) or (width is not None and width <= 0):
            raise FormatError("分辨率或宽度必须为正数", f"dpi={dpi} width={width}")
        return self._backend.render(page, dpi, width)

    @_guarded
    def metadata(self) -> Metadata:
        meta = self._backend.metadata()
        meta.media_type = self.media_type
        return meta


def _with_layer_lines(read: PageText, layer: PageText) -> PageText:
    """OCR of a scan plus the lines of its sound text layer (a label, a scan date) that OCR
    did not read: the layer's words are never lost to OCR."""
    missing = [line.strip() for line in layer.text.split("\n") if line.strip() and line.strip() not in read.text]
    if not missing:
        return read
    boxes = [box for box in layer.boxes if box.text in missing]
    return PageText(number=read.number, text="\n".join([read.text, *missing]), boxes=[*read.boxes, *boxes],
                    source="ocr")


# -- opening ---------------------------------------------------------------------------


def open_document(source: bytes | bytearray | str | os.PathLike, media_type: str | None = None, *,
                  guarded: Guarded = False) -> Document:
    """Open a file path or bytes; the media type is detected from the content.

    ``guarded``: True (limits from BINGAN_FORMAT_TIMEOUT / BINGAN_FORMAT_MEMORY_MB) or a
    ``guard.Limits`` runs the parsers in a child process that is killed when one call
    overruns: ``FormatError("处理文件超时…")`` instead of a hung worker. Costs one fork per
    document and a pipe round trip per call (every page's text and the metadata are one
    call, the first time any of them is asked for); OCR stays in this process. Use it for files
    from outside (ingest, operator commands); our own generated files do not need it.
    """
    limits = (guard.Limits.from_env() if guarded is True else guarded) or None
    try:
        return _open(source, media_type, limits)
    except FormatError:
        raise
    except OSError as exc:
        raise FormatError("文件无法读取", repr(exc)) from exc
    except Exception as exc:  # same promise as Document methods
        log.exception("unexpected error opening a document")
        raise FormatError("文件无法处理（内部错误）", repr(exc)) from exc


def _open(source: bytes | bytearray | str | os.PathLike, media_type: str | None,
          limits: guard.Limits | None) -> Document:
    data = bytes(source) if isinstance(source, (bytes, bytearray)) else None
    path = None if data is not None else Path(source)  # type: ignore[arg-type]
    if (data is not None and not data) or (path is not None and path.stat().st_size == 0):
        raise FormatError("文件为空（0 字节）", "zero bytes")
    kind = media_type or kinds.detect(data if data is not None else path)  # type: ignore[arg-type]
    digest = _digest_function(data, path)
    if kinds.is_video(kind):
        return _open_video(kind, data, path, digest)
    if limits is not None and kind in _GUARDED_KINDS:
        return Document(kind, GuardedBackend(kind, data, path, limits), digest)
    return Document(kind, _backend_for(kind, data, path, limits), digest)


# Parsed by libraries in this process. Office and video are not: LibreOffice and ffmpeg are
# separate programs with their own timeouts (a killed child would orphan soffice), and an
# Office file's converted PDF is guarded on its own (OfficeBackend).
_GUARDED_KINDS = frozenset({kinds.PDF, kinds.OFD, *kinds.TEXT_TYPES, *kinds.IMAGE_TYPES})


def _digest_function(data: bytes | None, path: Path | None) -> Callable[[], str]:
    @functools.cache
    def digest() -> str:
        hasher = hashlib.sha256()
        if data is not None:
            hasher.update(data)
        else:
            with open(path, "rb") as stream:  # type: ignore[arg-type]
                for block in iter(lambda: stream.read(1 << 20), b""):
                    hasher.update(block)
        return hasher.hexdigest()

    return digest


def _backend_for(kind: str, data: bytes | None, path: Path | None, limits: guard.Limits | None = None) -> Backend:
    def content() -> bytes:
        return data if data is not None else path.read_bytes()  # type: ignore[union-attr]

    if kind == kinds.PDF:
        return PdfBackend(data if data is not None else path)  # type: ignore[arg-type]
    if kinds.is_image(kind):
        return ImageBackend(content(), kind)
    if kind == kinds.OFD:
        return OfdBackend(content())
    if kinds.is_office(kind):
        return OfficeBackend(content(), kind, limits)
    if kinds.is_text(kind):
        return TextBackend(content(), kind)
    raise FormatError(f"{UNSUPPORTED}：无法识别的文件类型", f"media type {kind}")


def _open_video(kind: str, data: bytes | None, path: Path | None, digest: Callable[[], str]) -> Document:
    if path is not None:
        return Document(kind, VideoBackend(path, kind), digest)
    # ffprobe needs to seek in MP4: spill bytes to a private temp file owned by the document.
    folder = tempfile.mkdtemp(prefix="bingan-video-")
    spilled = Path(folder) / "video"
    spilled.write_bytes(data)  # type: ignore[arg-type]
    document = Document(kind, VideoBackend(spilled, kind), digest)
    remove = weakref.finalize(document, shutil.rmtree, folder, True)
    document._closers.append(remove)
    return document


# -- backends ------------------------------------------------------------------------------


def _ocr_sized(render: Callable[[float | None, int | None], Image.Image], width_pt: float,
               height_pt: float) -> tuple[Image.Image, float]:
    """Render for OCR at 300 dpi but never beyond what the engine keeps (long side 2000 px)."""
    longest = max(width_pt, height_pt, 1.0)
    dpi = min(OCR_DPI, OCR_MAX_SIDE / longest * 72)
    from bingan.formats.images import deskew

    image, _ = deskew(render(dpi, None))
    return image, 72 / dpi


class _Surveyed:
    """Text and metadata of a document parsed in another process, brought back by one
    survey (every page's native text, then the metadata, streamed under per-batch
    deadlines) the first time any of them is asked for: one round trip, not one per page."""

    _texts: list[PageText] | None = None
    _metadata: Metadata | None = None

    def _fetch_survey(self) -> list[PageText | Metadata]:
        raise NotImplementedError

    def _survey(self) -> list[PageText]:
        if self._texts is None:
            *texts, self._metadata = self._fetch_survey()
            self._texts = texts  # type: ignore[assignment]
        return self._texts  # type: ignore[return-value]

    def native_text(self, number: int) -> PageText:
        texts = self._survey()
        if not 1 <= number <= len(texts):
            raise FormatError(f"页码 {number} 超出范围（共 {len(texts)} 页）", f"page {number}")
        return texts[number - 1]

    def metadata(self) -> Metadata:
        self._survey()
        return self._metadata  # type: ignore[return-value]


def _survey(backend: Backend) -> Iterator[PageText | Metadata]:
    """Every page's native text, then the metadata (run in the child)."""
    for number in range(1, backend.page_count() + 1):
        yield backend.native_text(number)
    yield backend.metadata()


class _SurveyingBackend:
    """The child's side of ``GuardedBackend``: the backend, and its survey as one call."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def __getattr__(self, name: str) -> object:
        return getattr(self.backend, name)

    def survey(self) -> Iterator[PageText | Metadata]:
        return _survey(self.backend)


class GuardedBackend(_Surveyed):
    """The real backend lives in a child process (``guard.Worker``), opened once; every
    call crosses a pipe with its own deadline. Page images come back pickled; text and
    metadata in one survey."""

    def __init__(self, kind: str, data: bytes | None, path: Path | None, limits: guard.Limits) -> None:
        self._worker = guard.Worker(lambda: _SurveyingBackend(_backend_for(kind, data, path)), limits)
        self._count: int | None = None

    def _fetch_survey(self) -> list[PageText | Metadata]:
        return self._worker.call("survey")  # type: ignore[no-any-return]

    def page_count(self) -> int:
        if self._texts is not None:
            return len(self._texts)
        if self._count is None:  # pages to render need no text: no survey for the count alone
            self._count = int(self._worker.call("page_count"))
        return self._count

    def render(self, number: int, dpi: float | None, width: int | None) -> Image.Image:
        return self._worker.call("render", number, dpi, width)  # type: ignore[no-any-return]

    def ocr_input(self, number: int) -> tuple[Image.Image, float]:
        return self._worker.call("ocr_input", number)  # type: ignore[no-any-return]

    def close(self) -> None:
        self._worker.close()


def open_pooled(path: str | os.PathLike, media_type: str | None = None, limits: guard.Limits | None = None) -> Document:
    """``open_document(path, guarded=True)`` for a stream of documents (the ingest workers).

    The parsers run in this process's warm pool of guarded children (``guard.shared_pool``)
    instead of a fork per document: the first text request brings every page's native text,
    the page count and the metadata back in one round trip (batches, each under its own deadline).
    Renders (thumbnails, OCR input) re-open the file in a child, one round trip each. A call
    that timed out or crashed fails every later call of this document at once, as a guarded
    document does. Formats the pool does not parse open as ``open_document(guarded=...)``.
    """
    limits = limits or guard.Limits.from_env()
    try:
        source = Path(path)
        kind = media_type or kinds.detect(source)
        if kind not in _GUARDED_KINDS:
            return open_document(source, kind, guarded=limits)
        if source.stat().st_size == 0:
            raise FormatError("文件为空（0 字节）", "zero bytes")
        return Document(kind, PooledBackend(kind, source, limits), _digest_function(None, source))
    except FormatError:
        raise
    except OSError as exc:
        raise FormatError("文件无法读取", repr(exc)) from exc


class PooledBackend(_Surveyed):
    """A backend whose every call runs in a pooled child that opens the file by path."""

    def __init__(self, kind: str, path: Path, limits: guard.Limits) -> None:
        self._kind, self._path, self._limits = kind, str(path.resolve()), limits
        self._failure: FormatError | None = None

    def _call(self, fn: Callable[..., T], *args: object) -> T:
        if self._failure is not None:  # a document that hung once is not given a second chance
            raise FormatError(self._failure.message, self._failure.detail)
        try:
            return guard.shared_pool().call(fn, self._kind, self._path, *args, limits=self._limits)
        except FormatError as exc:
            if exc.message in (guard.TIMEOUT_MESSAGE, guard.MEMORY_MESSAGE, guard.CRASH_MESSAGE):
                self._failure = exc
            raise

    def _fetch_survey(self) -> list[PageText | Metadata]:
        return self._call(_survey_in_child)

    def page_count(self) -> int:
        return len(self._survey())

    def render(self, number: int, dpi: float | None, width: int | None) -> Image.Image:
        return self._call(_render_in_child, number, dpi, width)

    def ocr_input(self, number: int) -> tuple[Image.Image, float]:
        return self._call(_ocr_input_in_child, number)

    def close(self) -> None:
        pass


# Run inside a pooled child (guard.Pool sends them by name): each opens the file itself.

def _survey_in_child(kind: str, path: str) -> Iterator[PageText | Metadata]:
    """Every page's native text, then the metadata, streamed in batches (guard.Pool)."""
    backend = _backend_for(kind, None, Path(path))
    try:
        yield from _survey(backend)
    finally:
        backend.close()


def _render_in_child(kind: str, path: str, number: int, dpi: float | None, width: int | None) -> Image.Image:
    backend = _backend_for(kind, None, Path(path))
    try:
        return backend.render(number, dpi, width)
    finally:
        backend.close()


def _ocr_input_in_child(kind: str, path: str, number: int) -> tuple[Image.Image, float]:
    backend = _backend_for(kind, None, Path(path))
    try:
        return backend.ocr_input(number)
    finally:
        backend.close()


def _reset_ofd_cache_lock() -> None:
    # The OFD package keeps a parsed-document cache behind a lock another thread may hold
    # at fork time; the child is single-threaded and needs a free one.
    ofd = sys.modules.get("bingan.formats.ofd")
    if ofd is not None and hasattr(ofd, "_CACHE_LOCK"):
        ofd._CACHE_LOCK = threading.Lock()


guard.reset_in_child(_reset_ofd_cache_lock)


class PdfBackend:
    def __init__(self, source: bytes | Path) -> None:
        from bingan.formats.pdf import PdfFile

        self._pdf = PdfFile(source)

    def page_count(self) -> int:
        return self._pdf.page_count()

    def native_text(self, number: int) -> PageText:
        return self._pdf.page_text(number)

    def render(self, number: int, dpi: float | None, width: int | None) -> Image.Image:
        return self._pdf.render(number, dpi=dpi, width=width)

    def ocr_input(self, number: int) -> tuple[Image.Image, float]:
        probe = self._pdf.render(number, dpi=72)  # 1 px = 1 pt: the page size in points
        return _ocr_sized(lambda dpi, width: self._pdf.render(number, dpi=dpi), probe.width, probe.height)

    def metadata(self) -> Metadata:
        return self._pdf.metadata()

    def close(self) -> None:
        self._pdf.close()


class ImageBackend:
    def __init__(self, data: bytes, kind: str) -> None:
        from bingan.formats.images import ImageFile

        self._image = ImageFile(data, kind)

    def page_count(self) -> int:
        return self._image.page_count()

    def native_text(self, number: int) -> PageText:
        if not 1 <= number <= self.page_count():
            raise FormatError(f"页码 {number} 超出范围（共 {self.page_count()} 页）", f"page {number}")
        return PageText(number=number, text="", source="none", needs_ocr=True)  # pictures have no text layer

    def render(self, number: int, dpi: float | None, width: int | None) -> Image.Image:
        return self._image.render(number, dpi=dpi, width=width)

    def ocr_input(self, number: int) -> tuple[Image.Image, float]:
        return self._image.page(number), 72 / self._image.dpi()

    def metadata(self) -> Metadata:
        return self._image.metadata()

    def close(self) -> None:
        pass


class OfdBackend:
    """Adapter over ``bingan.formats.ofd`` (its own subpackage), imported on first use."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._ofd = _import_ofd()
        self._texts: list[PageText] | None = None

    def page_count(self) -> int:
        return int(self._ofd.page_count(self._data))

    def native_text(self, number: int) -> PageText:
        if self._texts is None:
            self._texts = list(self._ofd.page_texts(self._data))
        if not 1 <= number <= len(self._texts):
            raise FormatError(f"页码 {number} 超出范围（共 {len(self._texts)} 页）", f"page {number}")
        page = self._texts[number - 1]
        text = quality.normalize_cjk_spaces(page.text)
        needs = quality.check_text(text).needs_ocr if text.strip() else quality.has_ink(
            self.render(number, quality.INK_CHECK_DPI, None))
        return PageText(number=number, text=text, boxes=list(page.boxes),
                        source=page.source if text.strip() else "none", needs_ocr=needs)

    def render(self, number: int, dpi: float | None, width: int | None) -> Image.Image:
        if width:
            probe = self._ofd.render_page(self._data, number, 72)
            dpi = width / probe.width * 72
        return self._ofd.render_page(self._data, number, dpi or 150)

    def ocr_input(self, number: int) -> tuple[Image.Image, float]:
        probe = self._ofd.render_page(self._data, number, 72)
        return _ocr_sized(lambda dpi, width: self._ofd.render_page(self._data, number, dpi),
                          probe.width, probe.height)

    def metadata(self) -> Metadata:
        return self._ofd.metadata(self._data)

    def close(self) -> None:
        pass


def _import_ofd() -> object:
    try:
        from bingan.formats import ofd
    except ImportError as exc:
        raise FormatError(f"{UNSUPPORTED}：OFD 支持尚未安装", repr(exc)) from exc
    missing = [name for name in ("page_count", "page_texts", "render_page", "metadata") if not hasattr(ofd, name)]
    if missing:
        raise FormatError(f"{UNSUPPORTED}：OFD 支持尚未完成", f"bingan.formats.ofd lacks {missing}")
    return ofd


class OfficeBackend:
    """Pages and pictures from LibreOffice's PDF; text from Tika when configured."""

    def __init__(self, data: bytes, kind: str, limits: guard.Limits | None = None) -> None:
        from bingan.formats import office

        self._data = data
        self._kind = kind
        self._office = office
        self._limits = limits
        self._pdf: Backend | None = None
        self._tika_pages: list[str] | None = None
        if not office.tika_url() and not office.can_render():
            raise FormatError(office.UNSUPPORTED, "no Tika, no LibreOffice")

    def _as_pdf(self) -> Backend:
        if self._pdf is None:
            suffix = self._office.SUFFIXES.get(self._kind, ".bin")
            pdf = self._office.to_pdf(self._data, suffix)
            self._pdf = GuardedBackend(kinds.PDF, pdf, None, self._limits) if self._limits else PdfBackend(pdf)
        return self._pdf

    def _tika(self) -> list[str]:
        if self._tika_pages is None:
            text = self._office.tika_text(self._data)
            self._tika_pages = [quality.normalize_cjk_spaces(part.strip()) for part in text.split("\f")]
        return self._tika_pages

    def page_count(self) -> int:
        if self._office.can_render():
            return self._as_pdf().page_count()
        return len(self._tika())

    def native_text(self, number: int) -> PageText:
        if not self._office.tika_url():
            return self._as_pdf().native_text(number)
        pages = self._tika()
        if len(pages) != self.page_count():
            # Tika does not paginate word processor files: the whole text goes to page 1.
            pages = ["\n".join(pages)] + [""] * (self.page_count() - 1)
        if not 1 <= number <= len(pages):
            raise FormatError(f"页码 {number} 超出范围（共 {len(pages)} 页）", f"page {number}")
        text = pages[number - 1]
        return PageText(number=number, text=text, source="text" if text else "none")

    def render(self, number: int, dpi: float | None, width: int | None) -> Image.Image:
        if not self._office.can_render():
            raise FormatError("无法显示 Office 文档页面：需要安装 LibreOffice", "soffice not on PATH")
        return self._as_pdf().render(number, dpi, width)

    def ocr_input(self, number: int) -> tuple[Image.Image, float]:
        return self._as_pdf().ocr_input(number)

    def metadata(self) -> Metadata:
        if self._office.can_render():
            return self._as_pdf().metadata()
        return Metadata(media_type=self._kind, pages=self.page_count())

    def close(self) -> None:
        if self._pdf is not None:
            self._pdf.close()


class TextBackend:
    """Plain text exports (some LIS systems send .txt), XML (CDA shared documents, HIS exports) and
    HTML reports: their readable text (markup.py) on A4 pages in Noto CJK (text.py)."""

    def __init__(self, data: bytes, kind: str = kinds.TEXT) -> None:
        from bingan.formats import markup, text

        self._text = text
        self._kind = kind
        content, self._encoding = text.decode(data)
        self._read_as = "text"
        if kind == kinds.XML:
            content, self._read_as = markup.xml_text(content)
        elif kind == kinds.HTML:
            content, self._read_as = markup.html_text(content), "html"
        self._pages = text.layout(content)

    def page_count(self) -> int:
        return len(self._pages)

    def _page(self, number: int) -> TextPage:
        if not 1 <= number <= len(self._pages):
            raise FormatError(f"页码 {number} 超出范围（共 {len(self._pages)} 页）", f"page {number}")
        return self._pages[number - 1]

    def native_text(self, number: int) -> PageText:
        page = self._page(number)
        return PageText(number=number, text=page.text, boxes=page.boxes(),
                        source="text" if page.text.strip() else "none")

    def render(self, number: int, dpi: float | None, width: int | None) -> Image.Image:
        return self._text.render(self._page(number), dpi=dpi, width=width)

    def ocr_input(self, number: int) -> tuple[Image.Image, float]:
        raise FormatError("文本文件不需要文字识别", self._kind)

    def metadata(self) -> Metadata:
        return Metadata(media_type=self._kind, pages=len(self._pages),
                        extra={"encoding": self._encoding, "read_as": self._read_as})

    def close(self) -> None:
        pass


class VideoBackend:
    """A video is one "page": its poster frame. Paths only, so memory stays constant."""

    def __init__(self, path: Path, kind: str) -> None:
        from bingan.formats import video

        self._path = path
        self._kind = kind
        self._video = video

    def page_count(self) -> int:
        return 1

    def native_text(self, number: int) -> PageText:
        if number != 1:
            raise FormatError(f"页码 {number} 超出范围（共 1 页）", f"page {number}")
        return PageText(number=1, text="", source="none")

    def render(self, number: int, dpi: float | None, width: int | None) -> Image.Image:
        self.native_text(number)
        frame = self._video.poster_frame(self._path)
        if width:
            height = max(1, round(frame.height * width / frame.width))
            frame = frame.resize((width, height), Image.Resampling.LANCZOS)
        return frame

    def ocr_input(self, number: int) -> tuple[Image.Image, float]:
        raise FormatError("视频不做文字识别", "video")

    def metadata(self) -> Metadata:
        return self._video.metadata(self._path, self._kind)

    def close(self) -> None:
        pass
