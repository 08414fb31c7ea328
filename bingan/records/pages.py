"""Page images (页面图像): rendered once in a guarded child, cached encrypted, watermarked per request.

    renderer = PageRenderer(settings)              # one per process: it holds the memory cache
    image = renderer.base(sha256, media_type, 3)   # PIL image, PAGE_WIDTH wide
    png = renderer.page_png(sha256, media_type, 3) # the same page as PNG bytes
    renderer.document_pages(sha256, media_type)    # page count
    serve_page(image, user_id=…, lines=…, when=…)  # what a user receives: watermarked JPEG
    thumbnail(image, lines)                        # a small watermarked JPEG

The files are from outside (EMR, scanners, uploads): their parsing runs in the guarded pool of
bingan.formats (a deadline and a memory limit per call), like every other parse. Base renders
are kept in memory (LRU) and on disk under HOME/cache/pages, sealed by the blob store's own
encryption (a data key wrapped by the master key), so a copied cache directory shows nothing
and a master-key rotation simply makes old entries render again. No web imports: workers use it.
"""
from __future__ import annotations

import io
import threading
from collections import OrderedDict
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from PIL import Image

from bingan.config import Settings
from bingan.formats import guard, watermark

if TYPE_CHECKING:
    from bingan.storage.blobs.port import BlobStore

PAGE_WIDTH = 1000  # served width; zoom happens in the browser so one render serves all
THUMB_WIDTH = 150
MEMORY_ENTRIES = 96


class PageRenderer:
    def __init__(self, settings: Settings, store: BlobStore | None = None) -> None:
        self.settings = settings
        self.cache_dir = settings.resolved_home / "cache" / "pages"
        self._store = store
        self._memory: OrderedDict[str, Image.Image] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def store(self) -> BlobStore:
        if self._store is None:
            from bingan.storage.blobs.port import open_blob_store

            self._store = open_blob_store(self.settings)
        return self._store

    def base(self, sha256: str, media_type: str, page: int, width: int = PAGE_WIDTH) -> Image.Image:
        """Page ``page`` (1-based) of the version with this content, ``width`` pixels wide.

        Raises ``FormatError`` (Chinese message) when the file cannot be rendered."""
        key = f"{sha256}_{page}_{width}"
        with self._lock:
            if key in self._memory:
                self._memory.move_to_end(key)
                return self._memory[key]
        image = self._from_disk(key) or self._render(key, sha256, media_type, page, width)
        with self._lock:
            self._memory[key] = image
            while len(self._memory) > MEMORY_ENTRIES:
                self._memory.popitem(last=False)
        return image

    def page_png(self, sha256: str, media_type: str, page: int, width: int = PAGE_WIDTH) -> bytes:
        """The unwatermarked page as PNG: for comparisons and packages built on the server."""
        return _png(self.base(sha256, media_type, page, width))

    def document_pages(self, sha256: str, media_type: str) -> int:
        return int(guard.shared_pool().call(_page_count_in_child, self._content(sha256), media_type or None))

    def _content(self, sha256: str) -> bytes:
        with self.store.open(sha256) as stream:
            return stream.read()

    def _path(self, key: str) -> Path:
        return self.cache_dir / key[:2] / f"{key}.bin"

    def _from_disk(self, key: str) -> Image.Image | None:
        from bingan.storage.blobs.keys import unseal_bytes
        from bingan.storage.blobs.port import BlobError

        path = self._path(key)
        if not path.exists():
            return None
        try:
            plain = unseal_bytes(path.read_bytes(), self.store.keyring)
        except (BlobError, InvalidTag, ValueError):
            return None  # another master key, an older cache format or a damaged file: render again
        label, _, data = plain.partition(b"\n")
        if label != key.encode():
            return None  # a cache file put under another page's name
        image = Image.open(io.BytesIO(data))
        image.load()
        return image.convert("RGB")

    def _render(self, key: str, sha256: str, media_type: str, page: int, width: int) -> Image.Image:
        content = self._content(sha256)
        image: Image.Image = guard.shared_pool().call(_render_in_child, content, media_type or None, page, width)
        self._to_disk(key, image)
        return image

    def _to_disk(self, key: str, image: Image.Image) -> None:
        from bingan.storage.blobs.keys import seal_bytes

        store = self.store
        sealed = seal_bytes(key.encode() + b"\n" + _png(image), store.keyring, store.cipher)  # type: ignore[attr-defined]
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{threading.get_ident()}.tmp")
        temporary.write_bytes(sealed)
        temporary.replace(path)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


# Run inside a guarded pool child (sent by name): the parse of an outside file never runs here.
def _render_in_child(content: bytes, media_type: str | None, page: int, width: int) -> Image.Image:
    from bingan.formats.document import open_document

    with open_document(content, media_type) as document:
        return document.render(page, width=width).convert("RGB")


def _page_count_in_child(content: bytes, media_type: str | None) -> int:
    from bingan.formats.document import open_document

    with open_document(content, media_type) as document:
        return document.page_count()


def serve_page(
    base: Image.Image, *, user_id: int, lines: tuple[str, ...], when: datetime, quality: int = 80
) -> bytes:
    """The bytes a user receives: invisible payload, visible overlay, JPEG."""
    marked = watermark.embed_invisible(base, watermark.Payload.at(user_id, when))
    served = watermark.apply_visible(marked, lines)
    buffer = io.BytesIO()
    served.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def thumbnail(base: Image.Image, lines: tuple[str, ...]) -> bytes:
    small = base.resize((THUMB_WIDTH, round(base.height * THUMB_WIDTH / base.width)), Image.BILINEAR)
    buffer = io.BytesIO()
    watermark.apply_visible(small, lines).save(buffer, "JPEG", quality=70)
    return buffer.getvalue()
