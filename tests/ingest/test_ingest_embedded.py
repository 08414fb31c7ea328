"""The embedded single machine: `bingan serve`'s worker and beat never outlive it."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil

BIN = Path(sys.executable).parent / "bingan"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children_of(pid: int, wait_for: int, timeout: float = 60) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = psutil.Process(pid).children()
        if len(children) >= wait_for:
            return children
        time.sleep(0.2)
    raise AssertionError("serve did not start its worker and beat")


def test_worker_and_beat_end_when_serve_is_killed(tmp_path):
    env = os.environ | {"BINGAN_HOME": str(tmp_path / "home")}
    serve = subprocess.Popen([BIN, "serve", "--port", str(_free_port())], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children: list[psutil.Process] = []
    try:
        children = _children_of(serve.pid, wait_for=2)
        serve.send_signal(signal.SIGKILL)  # no exit handlers run: only the kernel can end the children
        serve.wait()
        _, alive = psutil.wait_procs(children, timeout=30)
        assert not alive, [p.cmdline() for p in alive]
    finally:
        serve.kill()
        for child in children:
            if child.is_running():
                child.kill()
