"""Never a hang: risky parsing runs in a child with a deadline and a memory limit (guard.py).

The pathological inputs are real PDFs: a million tiny rectangles (seconds to load a page),
nested form XObjects (~30 s at depth 6, gigabytes at depth 7) and a 1 GiB inflate bomb.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from bingan.formats import guard
from bingan.formats.base import FormatError
from bingan.formats.document import open_document
from bingan.formats.guard import Limits, run_guarded

pytestmark = pytest.mark.timeout(120)
# Memory generous enough that the 1 s deadline, not the address-space cap, ends a slow page:
# nested forms grow ~200 MB/s of RSS (more address space), which met a 400 MB cap first in one CI run.
SHORT = Limits(timeout_s=1.0, memory_mb=4000)
BINGAN = str(Path(sys.executable).with_name("bingan"))
REPO = Path(__file__).resolve().parents[2]


def _children_gone() -> bool:
    """No child of ours left running (zombies are reaped on the next guard call)."""
    for _ in range(100):
        guard._collect_exited()
        if not [child for child in psutil.Process().children() if child.status() != psutil.STATUS_ZOMBIE]:
            return True
        time.sleep(0.05)
    return False


def _raise_format_error() -> None:
    raise FormatError("测试错误", "detail from the child")


def test_run_guarded_returns_the_result():
    assert run_guarded(sum, [1, 2, 3], timeout_s=10) == 6


def test_run_guarded_passes_format_error_with_message_and_detail():
    with pytest.raises(FormatError) as caught:
        run_guarded(_raise_format_error, timeout_s=10)
    assert (caught.value.message, caught.value.detail) == ("测试错误", "detail from the child")


def test_run_guarded_timeout_kills_the_child():
    start = time.monotonic()
    with pytest.raises(FormatError, match="处理文件超时"):
        run_guarded(time.sleep, 60, timeout_s=0.5)
    assert time.monotonic() - start < 30  # the 60 s sleep did not run to its end
    assert _children_gone()


def test_run_guarded_memory_limit_is_a_format_error():
    with pytest.raises(FormatError, match="内存"):
        run_guarded(bytearray, 4 << 30, timeout_s=30, memory_mb=256)


def test_run_guarded_other_exceptions_become_format_errors():
    with pytest.raises(FormatError, match="内部错误"):
        run_guarded(int, "not a number", timeout_s=10)


@pytest.mark.parametrize("make", ["many_paths_pdf", "nested_forms_pdf"])
def test_slow_pdf_page_times_out_and_parent_stays_healthy(gen, text_pdf, make):
    data = getattr(gen, make)()
    start = time.monotonic()
    with pytest.raises(FormatError, match="处理文件超时"), open_document(data, guarded=SHORT) as document:
        document.page_texts(ocr=False)
    assert time.monotonic() - start < 20  # unguarded: seconds (paths) to ~30 s (forms) per page
    assert _children_gone()
    assert "主诉" in open_document(text_pdf, guarded=SHORT).page_texts(ocr=False)[0].text
    assert open_document(text_pdf).page_count() == 2  # in-process PDFium still works too


def test_render_of_slow_page_times_out(gen):
    # Nested forms cost PDFium ~30 s against the 1 s deadline; a million rectangles (a few
    # seconds on a loaded machine) rendered within 1 s on a quiet one and made this flaky.
    with pytest.raises(FormatError, match="处理文件超时"), open_document(gen.nested_forms_pdf(), guarded=SHORT) as doc:
        doc.render(1, dpi=72)


@pytest.mark.parametrize("make", ["inflate_bomb", "nested_forms_depth_7"])
def test_memory_bombs_are_rejected_not_swapped_into(gen, make):
    data = gen.inflate_bomb_pdf(1024) if make == "inflate_bomb" else gen.nested_forms_pdf(depth=7)
    with pytest.raises(FormatError) as caught, open_document(data, guarded=Limits(60, 300)) as document:
        document.page_texts(ocr=False)
    assert "内存" in caught.value.message
    assert _children_gone()


def test_worker_fails_fast_after_a_timeout(gen):
    document = open_document(gen.nested_forms_pdf(), guarded=SHORT)
    with pytest.raises(FormatError, match="处理文件超时"):
        document.render(1, dpi=72)
    start = time.monotonic()
    with pytest.raises(FormatError, match="处理文件超时"):
        document.page_texts(ocr=False)
    assert time.monotonic() - start < 0.5  # no second child, no second wait
    document.close()


def test_guarded_document_gives_the_same_answers(gen, text_pdf):
    with open_document(text_pdf) as plain, open_document(text_pdf, guarded=True) as guarded:
        assert guarded.page_texts(ocr=False) == plain.page_texts(ocr=False)
        assert guarded.render(2, dpi=72).tobytes() == plain.render(2, dpi=72).tobytes()
        assert guarded.metadata().title == plain.metadata().title == "入院记录"


class _Counter:
    """A Worker target whose items take their time: a survey of slow pages."""

    def slowly(self, count: int, seconds: float):
        for item in range(count):
            time.sleep(seconds)
            yield item

    def then_hangs(self):
        yield "第 1 页"
        time.sleep(60)
        yield "never"


def test_worker_streams_a_generator_each_batch_under_its_own_deadline():
    worker = guard.Worker(_Counter, SHORT)
    try:  # 4 × 0.4 s is longer than the 1 s deadline, each item is not
        assert worker.call("slowly", 4, 0.4) == [0, 1, 2, 3]
    finally:
        worker.close()


def test_worker_stream_that_stalls_is_killed_at_the_deadline():
    worker = guard.Worker(_Counter, SHORT)
    start = time.monotonic()
    with pytest.raises(FormatError, match="处理文件超时"):
        worker.call("then_hangs")
    assert time.monotonic() - start < 30 and not worker.alive
    assert _children_gone()


def test_guarded_document_brings_all_text_and_metadata_back_in_one_round_trip(text_pdf):
    with open_document(text_pdf) as plain, open_document(text_pdf, guarded=True) as guarded:
        assert guarded.metadata().title == "入院记录"
        os.kill(guarded._backend._worker._pid, signal.SIGKILL)  # the child is not asked again
        assert guarded.page_texts(ocr=False) == plain.page_texts(ocr=False)


def test_guarded_open_error_is_the_readers_message(gen, text_pdf):
    with pytest.raises(FormatError, match="已加密"):
        open_document(gen.encrypted_pdf(text_pdf), guarded=True).page_count()


def test_guarded_documents_in_threads_next_to_unguarded_rendering(text_pdf):
    """Fork while other threads are inside PDFium: the children must not inherit a held lock."""
    errors: list[BaseException] = []

    def guarded() -> None:
        for _ in range(5):
            try:
                with open_document(text_pdf, guarded=Limits(30, 400)) as document:
                    assert document.render(1, dpi=36).width > 0
            except BaseException as exc:
                errors.append(exc)

    def plain() -> None:
        with open_document(text_pdf) as document:
            for _ in range(20):
                document.render(1, dpi=100)

    threads = [threading.Thread(target=guarded), threading.Thread(target=guarded), threading.Thread(target=plain)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_inspect_reports_the_timeout_in_chinese(gen, tmp_path):
    path = tmp_path / "forms.pdf"
    path.write_bytes(gen.nested_forms_pdf())
    env = dict(os.environ, BINGAN_FORMAT_TIMEOUT="2", PYTHONPATH=str(REPO))
    done = subprocess.run([BINGAN, "inspect", str(path), "--json"], capture_output=True, text=True,
                          timeout=100, env=env)
    report = json.loads(done.stdout)
    assert done.returncode == 1 and "处理文件超时" in report["error"] and "Traceback" not in done.stderr
