"""The embedded single machine (`make run`): a worker and a beat as child processes of `bingan serve`.

Both use the filesystem broker under HOME/broker; they are terminated when the parent exits,
and on Linux the kernel also ends them when the parent dies without running its exit handlers
(SIGKILL, a crash), so no orphan worker keeps the broker and the index lock.
"""
from __future__ import annotations

import atexit
import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bingan.config import Settings

DEMO_RECORDS = 150  # ~3 minutes on two cores; the first records already answer every search example
DEMO_SCANNED = 3  # OCR takes ~5 s a page: a handful of scanned records, not more
DEMO_MARKER = "demo-loading"  # present while the first-start demo is unfinished (resumed on next start)

_children: list[subprocess.Popen] = []
_background: dict[str, subprocess.Popen] = {}  # worker and beat (the demo loader is a child too)
PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Ask the kernel for SIGTERM when the parent dies (in a child before exec, or a web process at start)."""
    with contextlib.suppress(OSError, AttributeError):  # not Linux: the atexit handler is all we have
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _spawn(args: list[str], **kwargs: object) -> subprocess.Popen:
    child = subprocess.Popen([sys.executable, "-c", *args], env=os.environ.copy(), preexec_fn=die_with_parent,
                             **kwargs)  # type: ignore[call-overload]
    _children.append(child)
    atexit.register(stop_background)
    return child


def start_background(log_dir: Path) -> list[int]:
    """Start `bingan worker` and `bingan beat`, their output in log_dir/worker.log and beat.log; returns their pids."""
    log_dir.mkdir(parents=True, exist_ok=True)
    for command in ("worker", "beat"):
        if command in _background:
            continue
        log = open(log_dir / f"{command}.log", "ab")  # noqa: SIM115 - handed to the child, closed when we exit
        _background[command] = _spawn(["from bingan.cli import main; main()", command], stdout=log,
                                      stderr=subprocess.STDOUT)
    return [c.pid for c in _background.values()]


def restart_background(log_dir: Path) -> list[int]:
    """A rolling restart of the embedded worker and beat (on `bingan serve`'s SIGHUP): the new worker
    starts first, then the old one gets SIGTERM — Celery's warm shutdown: it takes no new task,
    finishes the one it runs and exits; messages it never took stay in the broker for the new one
    (task_acks_late). The beat is stopped before its successor starts, so no tick runs twice."""
    old_worker, old_beat = _background.pop("worker", None), _background.pop("beat", None)
    if old_beat is not None and old_beat.poll() is None:
        old_beat.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            old_beat.wait(timeout=30)
    pids = start_background(log_dir)
    if old_worker is not None and old_worker.poll() is None:
        old_worker.send_signal(signal.SIGTERM)  # not waited for here: a long task may keep it a while
        threading.Thread(target=old_worker.wait, name="reap-old-worker", daemon=True).start()
    return pids


def stop_background() -> None:
    for child in _children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in _children:
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
    _children.clear()
    _background.clear()


def start_demo_if_empty(settings: Settings) -> bool:
    """First start (no records yet) or an interrupted demo load: load the demo in a child process.

    Only `bingan serve --demo` (`make run`) calls this: a production start never loads fake patients.
    The web server answers at once; the loader indexes five records at a time, so search
    fills up within minutes. The marker makes a stopped load resume on the next start. The
    loader's one line "演示数据已就绪" goes to the console; everything else to HOME/logs/demo.log.
    """
    from bingan.ingest.demo_load import has_records
    from bingan.ingest.pipeline import Pipeline

    marker = settings.resolved_home / DEMO_MARKER
    if not marker.exists() and has_records(Pipeline()):
        return False
    marker.touch()
    code = ("import sys; from bingan.ingest.embedded import load_demo_child; "
            f"load_demo_child({DEMO_RECORDS}, {DEMO_SCANNED}, sys.argv[1])")
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    log = open(settings.log_dir / "demo.log", "ab")  # noqa: SIM115 - handed to the child, closed when we exit
    _spawn([code, str(marker)], stderr=log)
    return True


def load_demo_child(records: int, scanned: int, marker: str) -> None:
    from bingan.ingest.demo_load import load_demo
    from bingan.ingest.pipeline import Pipeline

    logging.basicConfig(level=logging.INFO, stream=sys.stderr)  # stderr is HOME/logs/demo.log
    logging.captureWarnings(True)
    pipe = Pipeline()
    try:
        counts = load_demo(pipe, records, scanned=scanned)
    finally:
        pipe.close()
    Path(marker).unlink(missing_ok=True)
    failed = sum(n for state, n in counts.items() if state != "indexed")
    print(f"演示数据已就绪：{records} 份演示病案、{counts.get('indexed', 0)} 份文书可以检索了"
          + (f"（{failed} 份未能导入，见 logs/demo.log）" if failed else ""), flush=True)
