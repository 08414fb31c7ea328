"""Extraction runs in the worker's warm guarded pool: a hostile file fails its own item within
the deadline, the next item is served by a fresh child, and no child outlives the pool."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import psutil
import pytest
from ingest_support import ADMISSION, pdf
from test_ingest_pipeline import ingest

from bingan.formats import guard

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
import formats_gen

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def short_deadline(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("BINGAN_FORMAT_TIMEOUT", "2")
    yield
    guard.close_shared_pool()
    assert [c for c in psutil.Process().children() if c.status() != psutil.STATUS_ZOMBIE] == []


def test_a_hanging_file_fails_its_item_and_the_next_one_is_indexed(pipe, record, short_deadline):
    start = time.monotonic()
    hung = ingest(pipe, formats_gen.nested_forms_pdf(), doc_id="EMR-HANG")
    assert time.monotonic() - start < 30  # unguarded: ~30 s and more per page
    assert hung.state == "failed" and hung.failure_code == "format"
    assert "处理文件超时" in hung.failure_reason
    good = ingest(pipe, pdf(ADMISSION), doc_id="EMR-GOOD")
    assert good.state == "indexed", good.failure_reason


def test_one_warm_child_serves_consecutive_items(pipe, record, short_deadline):
    ingest(pipe, pdf(ADMISSION), doc_id="EMR-A")
    first = guard.shared_pool().pids()
    assert ingest(pipe, pdf([["出院记录", "出院诊断：社区获得性肺炎"]]), doc_id="EMR-B").state == "indexed"
    assert guard.shared_pool().pids() == first and len(first) == 1
