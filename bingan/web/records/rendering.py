"""Page images for the viewer: rendered once, cached encrypted, watermarked per request.

Base renders are kept in memory (LRU) and on disk under HOME/cache/pages, encrypted with
AES-256-GCM under a key derived from the application secret, so a copied cache directory
shows nothing. Each request adds the invisible payload (user, minute) and the visible overlay.
"""
from __future__ import annotations

import hashlib
import hmac
import io
import os
import threading
from collections import OrderedDict
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from PIL import Image

from bingan.config import Settings
from bingan.formats import watermark

PAGE_WIDTH = 1000  # served width; zoom happens in the browser so one render serves all
THUMB_WIDTH = 150
MEMORY_ENTRIES = 96


class PageRenderer:
    def __init__(self, settings: Settings, secret: bytes) -> None:
        self.settings = settings
        self.cache_dir = settings.resolved_home / "cache" / "pages"
        self._aead = AESGCM(hmac.new(secret, b"page-cache", hashlib.sha256).digest())
        self._memory: OrderedDict[str, Image.Image] = OrderedDict()
        self._lock = threading.Lock()

    def base(self, sha256: str, media_type: str, page: int, width: int = PAGE_WIDTH) -> Image.Image:
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

    def _path(self, key: str) -> Path:
        return self.cache_dir / key[:2] / f"{key}.bin"

    def _from_disk(self, key: str) -> Image.Image | None:
        path = self._path(key)
        if not path.exists():
            return None
        blob = path.read_bytes()
        try:
            data = self._aead.decrypt(blob[:12], blob[12:], key.encode())
        except Exception:
            return None  # another secret or a damaged file: render again
        image = Image.open(io.BytesIO(data))
        image.load()
        return image.convert("RGB")

    def _render(self, key: str, sha256: str, media_type: str, page: int, width: int) -> Image.Image:
        from bingan.formats.document import open_document
        from bingan.storage.blobs.port import open_blob_store

        with open_blob_store(self.settings).open(sha256) as stream:
            data = stream.read()
        with open_document(data, media_type or None) as document:
            image = document.render(page, width=width).convert("RGB")
        self._to_disk(key, image)
        return image

    def _to_disk(self, key: str, image: Image.Image) -> None:
        buffer = io.BytesIO()
        image.save(buffer, "PNG", compress_level=1)
        nonce = os.urandom(12)
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(nonce + self._aead.encrypt(nonce, buffer.getvalue(), key.encode()))
        temporary.replace(path)

    def document_pages(self, sha256: str, media_type: str) -> int:
        from bingan.formats.document import open_document
        from bingan.storage.blobs.port import open_blob_store

        with open_blob_store(self.settings).open(sha256) as stream, open_document(stream.read(), media_type) as doc:
            return doc.page_count()


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
