"""The embedded single machine (`make run`): a worker and a beat as child processes of `bingan serve`.

Both use the filesystem broker under HOME/broker; they are terminated when the parent exits.
"""
from __future__ import annotations

import atexit
import os
import signal
import subprocess
import sys

_children: list[subprocess.Popen] = []


def start_background() -> list[int]:
    """Start `bingan worker` and `bingan beat`; returns their pids."""
    if _children:
        return [c.pid for c in _children]
    for command in ("worker", "beat"):
        _children.append(subprocess.Popen([sys.executable, "-c", "from bingan.cli import main; main()", command], env=os.environ.copy()))
    atexit.register(stop_background)
    return [c.pid for c in _children]


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
