"""Page images from records/: rendered in the guarded pool, cached sealed by the blob store's keys."""
from __future__ import annotations

import io
import sys
from datetime import date
from pathlib import Path

import pytest
from PIL import Image

from bingan.config import get_settings
from bingan.formats.base import FormatError
from bingan.records.pages import PAGE_WIDTH, PageRenderer
from bingan.storage.blobs.port import Placement, open_blob_store

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
import formats_gen


def _stored(content: bytes, name: str = "入院记录.pdf") -> str:
    store = open_blob_store(get_settings())
    return store.put(io.BytesIO(content), Placement("main", "ZY0001", 1, date(2026, 3, 8), name)).sha256


def _cache_files(renderer: PageRenderer) -> list:
    return sorted(path for path in renderer.cache_dir.rglob("*.bin"))


def test_a_page_renders_at_the_served_width_and_counts_its_pages():
    sha = _stored(formats_gen.text_pdf([["第一页 入院记录"], ["第二页 病程记录"]]))
    renderer = PageRenderer(get_settings())
    image = renderer.base(sha, "application/pdf", 2)
    assert image.width == PAGE_WIDTH and image.mode == "RGB"
    assert renderer.document_pages(sha, "application/pdf") == 2
    png = renderer.page_png(sha, "application/pdf", 2)
    assert Image.open(io.BytesIO(png)).size == image.size


def test_the_disk_cache_is_sealed_and_serves_a_fresh_renderer():
    sha = _stored(formats_gen.text_pdf([["出院记录"]]))
    first = PageRenderer(get_settings()).base(sha, "application/pdf", 1)
    renderer = PageRenderer(get_settings())
    [cached] = _cache_files(renderer)
    assert b"\x89PNG" not in cached.read_bytes()  # nothing readable without the master key
    assert sha.encode() not in cached.read_bytes()
    assert renderer.base(sha, "application/pdf", 1).tobytes() == first.tobytes()


def test_a_cache_file_put_under_another_page_name_is_not_served():
    sha = _stored(formats_gen.text_pdf([["甲页 入院记录"], ["乙页 手术记录"]]))
    PageRenderer(get_settings()).base(sha, "application/pdf", 1)
    PageRenderer(get_settings()).base(sha, "application/pdf", 2)
    renderer = PageRenderer(get_settings())
    page_one, page_two = (renderer._path(f"{sha}_{n}_{PAGE_WIDTH}") for n in (1, 2))
    page_one.write_bytes(page_two.read_bytes())
    assert renderer._from_disk(f"{sha}_1_{PAGE_WIDTH}") is None


def test_a_damaged_cache_file_renders_again():
    sha = _stored(formats_gen.text_pdf([["出院记录"]]))
    PageRenderer(get_settings()).base(sha, "application/pdf", 1)
    renderer = PageRenderer(get_settings())
    [cached] = _cache_files(renderer)
    cached.write_bytes(b"garbage")
    assert renderer.base(sha, "application/pdf", 1).width == PAGE_WIDTH


def test_a_file_that_cannot_be_parsed_is_a_format_error_not_a_crash():
    sha = _stored(b"%PDF-1.7\n this is not a pdf at all", "坏文件.pdf")
    with pytest.raises(FormatError):
        PageRenderer(get_settings()).base(sha, "application/pdf", 1)
