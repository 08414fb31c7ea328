"""Extraction step: pages, text and hashes of one file through formats/ (OCR where needed)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from bingan.formats import detect as kinds
from bingan.formats import guard
from bingan.formats.base import FormatError
from bingan.formats.document import open_pooled
from bingan.records.documents import PageFacts

# The image hash renders a tiny grey thumbnail: enough to see a stamp or a replaced scan.
# Born-digital text pages skip it by default: the render loads the page a second time and
# doubled extraction time, while their text hash already tells a changed page.
NO_IMAGE = ""


@dataclass
class Extracted:
    media_type: str
    pages: list[PageFacts]
    signatures: list[dict] = field(default_factory=list)
    title: str = ""


def text_hash(text: str) -> str:
    # Whitespace differences (re-flowed lines) are not content changes.
    return hashlib.sha256("".join(text.split()).encode()).hexdigest()


def extract(path: Path, media_type: str, *, image_hash_dpi: float = 12, ocr: bool | str = "auto",
            hash_text_pages: bool = False) -> Extracted:
    """Raise FormatError (Chinese message) for a file we cannot read: a permanent failure.

    Parsing runs guarded (a child process with a deadline and a memory cap): one hostile file
    must not hang or exhaust the worker that serves everyone else's documents. The child is
    one of the worker's warm pool (``open_pooled``): a born-digital file is one round trip.
    """
    with open_pooled(path, media_type) as doc:
        texts = doc.page_texts(ocr=ocr)
        pages = [
            PageFacts(
                number=t.number, text=t.text, text_hash=text_hash(t.text),
                image_hash=NO_IMAGE if t.source == "text" and not hash_text_pages
                else _image_hash(doc, t.number, media_type, image_hash_dpi),
                text_source=t.source,
            )
            for t in texts
        ]
        meta = doc.metadata()
    signatures = [
        {"verdict": s.verdict, "reason": s.reason, "signer": s.signer, "kind": s.kind,
         "signed_at": s.signed_at.isoformat() if s.signed_at else None}
        for s in meta.signatures
    ]
    return Extracted(media_type=media_type, pages=pages, signatures=signatures, title=meta.title)


def _image_hash(doc, number: int, media_type: str, dpi: float) -> str:
    if kinds.is_video(media_type) or dpi <= 0:
        return NO_IMAGE
    try:
        image = doc.render(number, dpi=dpi)
    except FormatError:
        return NO_IMAGE  # text-only fallbacks cannot render; the text hash still tells changes
    return hashlib.sha256(image.convert("L").tobytes()).hexdigest()


def warm() -> None:
    """Start a guarded child before the first item (long-lived workers, the benchmark)."""
    guard.shared_pool().warm()


def identify(path: Path) -> str:
    return kinds.detect(path)
