"""The warm guarded pool (guard.Pool, open_pooled): long-lived children, same limits as a fork.

A pooled child serves many documents; a document that hangs, crashes or eats memory gets the
same FormatError as the forked guard within its deadline, and the next document is served by
a fresh child. No child outlives its pool.
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import psutil
import pytest

from bingan.formats import guard
from bingan.formats.base import FormatError
from bingan.formats.document import open_document, open_pooled
from bingan.formats.guard import Limits, Pool

pytestmark = pytest.mark.timeout(180)
SHORT = Limits(timeout_s=1.0, memory_mb=400)
# A slow file's parse also grows in memory: room enough that the deadline, not the cap, stops it
# (the cap has tests of its own), so the outcome does not depend on the machine's speed.
SLOW = Limits(timeout_s=1.0, memory_mb=1500)


def _live_children() -> set[int]:
    return {child.pid for child in psutil.Process().children() if child.status() != psutil.STATUS_ZOMBIE}


@pytest.fixture
def pool():
    before = _live_children()
    pool = Pool(1, SHORT, preload=(__name__,))  # functions of this module are imported before the clock
    yield pool
    pool.close()
    assert _live_children() <= before


@pytest.fixture
def shared():
    """The process-wide pool the pipeline uses, closed afterwards so no child outlives the test."""
    guard.close_shared_pool()
    yield guard.shared_pool()
    guard.close_shared_pool()
    assert _live_children() == set()


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _raise_format_error() -> None:
    raise FormatError("测试错误", "detail from the child")


def _count_to(n: int):
    yield from range(n)


def test_one_child_serves_many_calls(pool):
    assert [pool.call(sum, [n, 1]) for n in range(20)] == list(range(1, 21))
    assert len(pool.pids()) == 1


def test_generator_functions_stream_their_items(pool):
    assert pool.call(_count_to, 5) == [0, 1, 2, 3, 4]
    assert pool.call(_count_to, 0) == []


def test_errors_keep_their_message_and_the_child(pool):
    pool.warm()
    before = pool.pids()
    with pytest.raises(FormatError) as caught:
        pool.call(_raise_format_error)
    assert (caught.value.message, caught.value.detail) == ("测试错误", "detail from the child")
    with pytest.raises(FormatError, match="内部错误"):
        pool.call(int, "not a number")
    assert pool.pids() == before  # an ordinary rejection does not cost a new interpreter


def test_closures_are_refused_in_the_parent(pool):
    with pytest.raises(TypeError):
        pool.call(lambda: 1)


def test_timeout_kills_the_child_and_the_pool_recovers(pool):
    pool.warm()
    hung = pool.pids()
    start = time.monotonic()
    with pytest.raises(FormatError, match="处理文件超时"):
        pool.call(time.sleep, 60)
    assert time.monotonic() - start < 10
    assert not psutil.pid_exists(hung[0]) or psutil.Process(hung[0]).status() == psutil.STATUS_ZOMBIE
    assert pool.call(sum, [2, 3]) == 5
    assert pool.pids() != hung


def test_memory_and_crash_are_format_errors_and_the_pool_recovers(pool):
    with pytest.raises(FormatError, match="内存"):
        pool.call(bytearray, 4 << 30, limits=Limits(30, 256))
    assert pool.call(sum, [1]) == 1
    with pytest.raises(FormatError, match="异常退出"):
        pool.call(os.abort)
    assert pool.call(sum, [2]) == 2


def test_a_child_killed_between_calls_is_replaced(pool):
    pool.warm()
    os.kill(pool.pids()[0], 9)
    time.sleep(0.2)
    assert pool.call(sum, [7]) == 7


def test_the_pool_outlives_the_thread_that_started_its_child(pool):
    starter = threading.Thread(target=pool.warm)
    starter.start()
    starter.join()
    time.sleep(0.3)
    assert pool.call(sum, [3]) == 3


def test_concurrent_callers_share_at_most_size_children():
    pool = Pool(2, Limits(30, 400))
    results: list[int] = []
    pids: set[int] = set()

    def work() -> None:
        results.extend(pool.call(sum, [n]) for n in range(10))
        pids.update(pool.pids())

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 40 and len(pool.pids()) <= 2
    pool.close()
    assert not set(pids) & _live_children()


def test_pooled_document_gives_the_same_answers(shared, text_pdf, tmp_path):
    path = _write(tmp_path, "t.pdf", text_pdf)
    with open_document(text_pdf) as plain, open_pooled(path) as pooled:
        assert pooled.page_texts(ocr=False) == plain.page_texts(ocr=False)
        assert pooled.render(2, dpi=72).tobytes() == plain.render(2, dpi=72).tobytes()
        assert pooled.metadata().title == plain.metadata().title == "入院记录"


def test_pooled_open_error_is_the_readers_message(shared, gen, text_pdf, tmp_path):
    with pytest.raises(FormatError, match="已加密"):
        open_pooled(_write(tmp_path, "e.pdf", gen.encrypted_pdf(text_pdf))).page_count()


@pytest.mark.parametrize("make", ["many_paths_pdf", "nested_forms_pdf"])
def test_slow_pdf_times_out_and_the_next_document_works(shared, gen, text_pdf, tmp_path, make):
    slow = _write(tmp_path, "slow.pdf", getattr(gen, make)())
    start = time.monotonic()
    with pytest.raises(FormatError, match="处理文件超时"), open_pooled(slow, limits=SLOW) as document:
        document.page_texts(ocr=False)
    assert time.monotonic() - start < 20
    again = time.monotonic()
    with pytest.raises(FormatError, match="处理文件超时"):
        document.page_count()  # the failure sticks to the document: no second wait
    assert time.monotonic() - again < 0.5
    good = open_pooled(_write(tmp_path, "t.pdf", text_pdf), limits=SHORT)
    assert "主诉" in good.page_texts(ocr=False)[0].text


@pytest.mark.parametrize("make", ["inflate_bomb", "nested_forms_depth_7"])
def test_memory_bombs_are_rejected_and_the_next_document_works(shared, gen, text_pdf, tmp_path, make):
    data = gen.inflate_bomb_pdf(1024) if make == "inflate_bomb" else gen.nested_forms_pdf(depth=7)
    with pytest.raises(FormatError) as caught, open_pooled(_write(tmp_path, "b.pdf", data),
                                                           limits=Limits(60, 300)) as document:
        document.page_texts(ocr=False)
    assert "内存" in caught.value.message
    assert open_pooled(_write(tmp_path, "t.pdf", text_pdf)).page_count() == 2
