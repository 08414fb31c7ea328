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
from bingan.ingest.items import Report, enqueue, manual_source
from bingan.ingest.pipeline import process_item, run_until_settled
from bingan.storage.models import CollectedItem

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


def test_a_pool_child_that_cannot_start_is_retried_not_blamed_on_the_file(pipe, record, short_deadline,
                                                                          tmp_path, monkeypatch):
    """Out of memory or processes when the pool starts a child: the file is fine, the item waits."""
    guard.close_shared_pool()
    broken = tmp_path / "python-that-dies"
    broken.write_text("#!/bin/sh\nexit 1\n")
    broken.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(broken))
    pipe.options.retry_base_seconds = 0.2
    item_id = enqueue_pdf(pipe, "EMR-NOSTART")
    process_item(pipe, item_id, index=False)
    waiting = item_state(pipe, item_id)
    assert waiting.state != "failed" and waiting.failure_code == "extract_unavailable"
    assert "文件处理进程无法启动，将自动重试" in waiting.failure_reason
    monkeypatch.undo()
    assert run_until_settled(pipe, [item_id], timeout=60) == {item_id: "indexed"}


def enqueue_pdf(pipe, doc_id: str) -> int:
    staged = pipe.staging / f"t-{doc_id}"
    staged.write_bytes(pdf(ADMISSION))
    with pipe.tx() as session:
        item, _ = enqueue(session, manual_source(session), Report(
            source_document_id=doc_id, record_number="0012345", stay=1, document_type_code="C0201",
            revision="1", filename="入院记录.pdf"), staged_path=str(staged))
        return item.id


def item_state(pipe, item_id: int) -> CollectedItem:
    with pipe.tx() as session:
        item = session.get(CollectedItem, item_id)
        session.expunge(item)
        return item
