"""Zero-downtime operation (T5): `bingan serve` gets SIGHUP while clients keep sending requests;
every web process and the embedded worker are replaced, and every request is answered 200. Killed
outright afterwards, it leaves no process behind holding the port."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _children(serve: psutil.Process) -> dict[int, list[str]]:
    found = {}
    for child in serve.children():
        try:
            if child.status() != psutil.STATUS_ZOMBIE:
                found[child.pid] = child.cmdline()
        except psutil.Error:  # gone meanwhile
            continue
    return found


def _web_processes(serve: psutil.Process) -> set[int]:
    return {pid for pid, command in _children(serve).items() if "spawn_main" in " ".join(command)}


def _worker_processes(serve: psutil.Process) -> set[int]:
    return {pid for pid, command in _children(serve).items() if command[-1:] == ["worker"]}


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def serve(tmp_path):
    port = _free_port()
    env = {**os.environ, "BINGAN_HOME": str(tmp_path / "home"), "BINGAN_WEB_WORKERS": "2",
           "BINGAN_PORT": str(port)}
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen([sys.executable, "-c", "from bingan.cli import main; main()", "serve"], cwd=ROOT,
                               env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(lambda: _answers(f"{base}/healthz"), 120, "the web server")
        yield process, base
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            for child in psutil.Process(process.pid).children(recursive=True):
                child.kill()
            process.kill()
        log.close()


def test_a_rolling_restart_answers_every_request(serve):
    process, base = serve
    supervisor = psutil.Process(process.pid)
    _wait_for(lambda: len(_web_processes(supervisor)) == 2 and _worker_processes(supervisor), 60, "the processes")
    web_before, worker_before = _web_processes(supervisor), _worker_processes(supervisor)
    answers: list[object] = []
    stop = threading.Event()

    def client(path: str) -> None:
        # A new connection for every request, as through a reverse proxy without upstream keep-alive.
        with httpx.Client(base_url=base, timeout=30, limits=httpx.Limits(max_keepalive_connections=0)) as http:
            while not stop.is_set():
                try:
                    answers.append(http.get(path).status_code)
                except httpx.HTTPError as exc:
                    answers.append(repr(exc))

    clients = [threading.Thread(target=client, args=(path,)) for path in ("/healthz", "/login", "/healthz")]
    for thread in clients:
        thread.start()
    try:
        time.sleep(1)
        process.send_signal(signal.SIGHUP)
        _wait_for(lambda: not (_web_processes(supervisor) & web_before) and len(_web_processes(supervisor)) == 2,
                  240, "every web process to be replaced")
        _wait_for(lambda: _worker_processes(supervisor) and not (_worker_processes(supervisor) & worker_before),
                  60, "the worker to be replaced")
        time.sleep(1)
    finally:
        stop.set()
        for thread in clients:
            thread.join()
    failures = [answer for answer in answers if answer != 200]
    assert failures == [] and len(answers) > 50
    children = [psutil.Process(pid) for pid in _web_processes(supervisor) | _worker_processes(supervisor)]
    process.send_signal(signal.SIGKILL)  # no exit handler runs: only the kernel can end the children
    process.wait()
    _, alive = psutil.wait_procs(children, timeout=60)
    assert not alive, [p.cmdline() for p in alive]
