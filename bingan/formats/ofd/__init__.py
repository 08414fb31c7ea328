"""OFD (GB/T 33190-2016): read, render, verify signatures and write; every failure is a FormatError."""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from bingan.formats.base import FormatError, Metadata, PageText, Signature

if TYPE_CHECKING:
    from PIL import Image

    from bingan.formats.ofd.reader import OfdDocument

MEDIA_TYPE = "application/ofd"
T = TypeVar("T")
_CACHE: OrderedDict[tuple[str, str], Any] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 8  # a few documents: page-by-page rendering must not reconvert


def _cached(kind: str, data: bytes, build: Callable[[], T]) -> T:
    key = (kind, hashlib.sha256(data).hexdigest())
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    value = build()  # outside the lock: a slow document must not block the others
    with _CACHE_LOCK:
        _CACHE[key] = value
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return value


def _guard(fn: Callable[[], T]) -> T:
    """Turn any unexpected failure inside the reader into the one documented error."""
    try:
        return fn()
    except FormatError:
        raise
    except Exception as exc:
        raise FormatError("OFD 文件无法解析", repr(exc)) from exc


def _document(data: bytes) -> OfdDocument:
    from bingan.formats.ofd.reader import OfdDocument

    return _cached("doc", data, lambda: OfdDocument(data))


def page_count(data: bytes) -> int:
    return _guard(lambda: len(_document(data).pages))


def page_texts(data: bytes) -> list[PageText]:
    from bingan.formats.ofd.text import document_texts

    return _guard(lambda: document_texts(_document(data)))


def to_pdf(data: bytes) -> bytes:
    from bingan.formats.ofd.render import document_pdf

    return _guard(lambda: _cached("pdf", data, lambda: document_pdf(_document(data))))


def render_page(data: bytes, page_number: int, dpi: float = 150) -> Image.Image:
    from bingan.formats.ofd.render import render_pdf_page

    return _guard(lambda: render_pdf_page(to_pdf(data), page_number, dpi))


def verify_signatures(data: bytes) -> list[Signature]:
    from bingan.formats.ofd.signature import verify_document

    return _guard(lambda: verify_document(_document(data)))


def metadata(data: bytes) -> Metadata:
    def build() -> Metadata:
        doc = _document(data)
        extra = {k: v for k, v in doc.doc_info.items() if k not in ("Creator", "Title")}
        producer = doc.info("Creator") or doc.info("Producer")
        version = doc.info("CreatorVersion")
        return Metadata(
            media_type=MEDIA_TYPE, pages=len(doc.pages),
            producer=f"{producer} {version}".strip(), created=doc.created(),
            title=doc.info("Title"), signatures=verify_signatures(data), extra=extra)

    return _guard(build)


def write_ofd(pages: list[tuple[Image.Image, PageText]], *, title: str = "",
              page_size_mm: tuple[float, float] = (210, 297)) -> bytes:
    from bingan.formats.ofd.writer import write

    return _guard(lambda: write(pages, title=title, page_size_mm=page_size_mm))


__all__ = [
    "MEDIA_TYPE",
    "FormatError",
    "metadata",
    "page_count",
    "page_texts",
    "render_page",
    "to_pdf",
    "verify_signatures",
    "write_ofd",
]
