"""Never a hang: run risky document work in a forked child with a time and memory limit.

PDFium and the OFD parser have no timeout of their own: a 46 KB PDF of a million tiny
rectangles takes seconds to load a page, and 2 KB of nested form XObjects takes minutes
and gigabytes. Such work runs in a child process made with ``fork`` (the document bytes
are shared copy-on-write, nothing is re-sent), under ``RLIMIT_AS``; a child that overruns
is killed and the caller gets ``FormatError("处理文件超时…")``. The parent never runs the
risky code, so it stays healthy whatever the file does.

Three shapes:

* ``run_guarded(fn, *args, timeout_s=…, memory_mb=…)``: one call, one short-lived child.
* ``Worker(factory, …)``: one child per document that builds the object once (opens the
  PDF, parses the OFD) and answers method calls over a pipe, each call with its own
  deadline. ``open_document(…, guarded=True)`` uses this, so a 100-page document costs one
  fork, not one per page, and one round trip for all its pages' text (a streamed call).
* ``Pool``: long-lived spawned children serving many documents in turn (ingest, through
  ``open_pooled``): ~0.1 ms a round trip instead of a fork per document (~18 ms idle, hundreds
  under load). Same limits and errors; a child that overran is replaced by a fresh one.

Results come back pickled; a ``FormatError`` raised in the child is re-raised in the
parent with its message and detail. A method or function that returns a generator streams:
its items come back in batches (one message per ``STREAM_BATCH_S`` of work, not one per
item), each batch under its own deadline, and the call returns the list (guard_wire.py).
POSIX only (fork, rlimit); the server runs on Linux.
"""
from __future__ import annotations

import atexit
import contextlib
import faulthandler
import importlib
import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from bingan.formats.base import FormatError, FormatUnavailable
from bingan.formats.guard_wire import (
    MEMORY_MESSAGE,
    STREAM_BATCH_S,
    Deadline,
    answer,
    failure_reply,
    pipe,
    read_message,
    read_stream,
    receive,
    send,
)
from bingan.formats.options import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_S, format_options

T = TypeVar("T")

TIMEOUT_MESSAGE = "处理文件超时，文件可能已损坏或包含异常复杂的内容"
CRASH_MESSAGE = "处理文件时解析程序异常退出，文件可能已损坏或所需内存超过限制"
START_MESSAGE = "文件处理进程无法启动"

# Locks whose protected state lives in C and may be mid-operation in another thread when we
# fork (pypdfium2 releases the GIL inside PDFium): held across fork so the child inherits
# a consistent library. Registered by the modules that own them.
_held_across_fork: list[threading.RLock | threading.Lock] = []
# Pipe ends of every live worker in this process: a new child must close the ones that are
# not its own, or a closed document's child would never see end-of-file and exit.
_worker_fds: set[int] = set()
_worker_fds_lock = threading.Lock()
# Closed workers' children on their way out: pid -> time after which they are killed.
_exiting: dict[int, float] = {}
_exiting_lock = threading.Lock()
EXIT_GRACE_S = 5.0
# Pure-Python locks that another thread may hold at fork time: the child gets fresh ones
# (it is single-threaded, and the data they guard is consistent because we hold the GIL).
_child_resets: list[Callable[[], None]] = []


def hold_across_fork(lock: threading.RLock | threading.Lock) -> None:
    if lock not in _held_across_fork:
        _held_across_fork.append(lock)


def reset_in_child(reset: Callable[[], None]) -> None:
    _child_resets.append(reset)


@dataclass(frozen=True)
class Limits:
    timeout_s: float = DEFAULT_TIMEOUT_S
    memory_mb: int = DEFAULT_MEMORY_MB

    @classmethod
    def from_env(cls) -> Limits:
        """BINGAN_FORMAT_TIMEOUT (seconds per call) and BINGAN_FORMAT_MEMORY_MB."""
        options = format_options()
        return cls(options.format_timeout, options.format_memory_mb)


# -- one call ----------------------------------------------------------------------------


def run_guarded(fn: Callable[..., T], *args: Any, timeout_s: float = DEFAULT_TIMEOUT_S,
                memory_mb: int = DEFAULT_MEMORY_MB, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` in a forked child; its result, or FormatError on timeout,
    memory exhaustion, a crash, or any error ``fn`` raises."""
    pid, reader = _fork(lambda write: _serve_once(write, fn, args, kwargs), memory_mb)
    try:
        return read_stream(lambda: _read_reply(reader, pid, time.monotonic() + timeout_s, timeout_s))
    finally:
        os.close(reader)
        _reap(pid)


def _serve_once(write: int, fn: Callable[..., Any], args: tuple, kwargs: dict) -> None:
    answer(write, lambda: fn(*args, **kwargs))


# -- one worker per document --------------------------------------------------------------


class Worker:
    """A child that owns ``factory()`` and runs its methods on request, each under a deadline.

    After a timeout or crash the child is gone and every later call fails fast with the
    same error: a document that hung once is not given a second chance. The child answers
    ``factory()`` unasked; the first call reads that answer (an opening error is raised
    there) after sending its request, so opening and the first call run back to back.
    """

    def __init__(self, factory: Callable[[], object], limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        requests_read, self._requests = os.pipe()
        self._lock = threading.Lock()  # one request in flight per worker
        self._failure: FormatError | None = None
        try:
            self._pid, self._replies = _fork(lambda write: _serve_loop(write, requests_read, factory),
                                             self.limits.memory_mb, close_in_child=(self._requests,))
        finally:
            os.close(requests_read)
        with _worker_fds_lock:
            _worker_fds.update((self._requests, self._replies))
        self._finalizer = weakref.finalize(self, _shutdown, self._pid, self._requests, self._replies)
        self._opened = False

    def call(self, method: str, *args: Any) -> Any:
        """``target.method(*args)`` in the child; a generator's items as a list."""
        with self._lock:
            if self._failure is not None:
                raise FormatError(self._failure.message, self._failure.detail)
            try:
                return self._request(method, args)
            except FormatError as exc:
                self._failure = exc
                self._finalizer()
                raise
            except OSError as exc:  # the child closed its end: it died between calls
                self._failure = FormatError(CRASH_MESSAGE, f"worker pipe: {exc!r}")
                self._finalizer()
                raise self._failure from exc

    def _request(self, method: str, args: tuple) -> Any:
        try:
            send(self._requests, (method, args))
        finally:  # also when the child, unable to open, is gone: its answer says why
            if not self._opened:
                read_stream(self._next_reply)
                self._opened = True
        return read_stream(self._next_reply)

    def _next_reply(self) -> tuple:
        timeout_s = self.limits.timeout_s
        return _read_reply(self._replies, self._pid, time.monotonic() + timeout_s + STREAM_BATCH_S, timeout_s)

    def close(self) -> None:
        self._finalizer()

    @property
    def alive(self) -> bool:
        return self._finalizer.alive


def _serve_loop(write: int, requests: int, factory: Callable[[], object]) -> None:
    try:
        target: object = factory()
    except BaseException as exc:  # read by the first call, in the parent's terms
        send(write, failure_reply(exc))
        return
    send(write, ("ok", None))
    while (request := receive(requests)) is not None:  # None: the parent closed the document
        method, args = request
        answer(write, lambda: getattr(target, method)(*args))  # noqa: B023 — called at once


def _shutdown(pid: int, requests: int, replies: int) -> None:
    with _worker_fds_lock:
        _worker_fds.difference_update((requests, replies))
    for fd in (requests, replies):
        with contextlib.suppress(OSError):
            os.close(fd)
    # The child sees end-of-file and exits by itself; waiting for that here would add the
    # kernel's teardown of its address space to every document close. Reaped later.
    with _exiting_lock:
        _exiting[pid] = time.monotonic() + EXIT_GRACE_S
    _collect_exited()


def _collect_exited() -> None:
    """Reap children that have exited; kill any that outstayed the grace period."""
    with _exiting_lock:
        pending = list(_exiting.items())
    for pid, deadline in pending:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid
        if not done and time.monotonic() > deadline:
            _reap(pid)  # kills and waits
            done = pid
        if done:
            with _exiting_lock:
                _exiting.pop(pid, None)


# -- a warm pool: long-lived children, many documents each ---------------------------------

POOL_MAX_CALLS = 500  # then the child is replaced: slow leaks in a parser cannot accumulate
POOL_START_S = 60.0  # an interpreter and the parsers' imports; seconds on a loaded machine
_BOOT = ("import sys, json; sys.path[:0] = json.loads(sys.argv[1]); "
         "from bingan.formats.guard import _pool_child_main; _pool_child_main(json.loads(sys.argv[2]))")


class Pool:
    """Long-lived guarded children, each serving many calls one after another.

    ``call(fn, *args)`` runs ``fn`` (a module-level function, sent by name) in an idle child
    under the deadline and memory allowance of ``limits``. A child that overruns, dies or runs
    out of memory is killed and the call raises the same ``FormatError`` as ``run_guarded``;
    the next call gets a fresh child. A generator function streams: its items come back in
    batches, each under its own deadline (a 500-page document is not one 60 s budget), and
    the call returns the list.

    Children are spawned (a fresh interpreter), not forked: a long-lived fork would keep what
    the parent had open at that moment (the index writer's lock file, database files,
    sockets) for as long as it lives. Starting one costs an interpreter and the parsers'
    imports, once per child instead of a fork per document.
    """

    def __init__(self, size: int = 1, limits: Limits | None = None, *, preload: tuple[str, ...] = (),
                 max_calls: int = POOL_MAX_CALLS) -> None:
        self.size, self.limits, self.preload, self.max_calls = max(1, size), limits, preload, max_calls
        self._idle: list[_Child] = []
        self._count = 0  # idle and busy children
        self._changed = threading.Condition()
        self._closed = False

    def call(self, fn: Callable[..., T], *args: Any, limits: Limits | None = None) -> T:
        target = _function_name(fn)
        child = self._take()
        try:
            return child.run(target, args, limits or self.limits or Limits.from_env())  # type: ignore[no-any-return]
        finally:
            self._give_back(child)

    def warm(self) -> None:
        """Start a child now, so the first document does not wait for an interpreter."""
        self._give_back(self._take())

    def pids(self) -> list[int]:
        with self._changed:
            return [child.process.pid for child in self._idle]

    def close(self) -> None:
        with self._changed:
            self._closed = True
            idle, self._idle = self._idle, []
            self._count -= len(idle)
            self._changed.notify_all()
        for child in idle:
            child.stop()

    def _take(self) -> _Child:
        with self._changed:
            while True:
                if self._closed:
                    raise FormatError("文件处理进程已关闭", "guard pool closed")
                if self._idle:
                    child = self._idle.pop()
                    if child.alive():
                        return child
                    child.stop()  # died between calls (killed from outside): replace it
                    self._count -= 1
                    continue
                if self._count < self.size:
                    self._count += 1
                    break
                self._changed.wait()
        try:
            return _Child(self.preload)
        except BaseException:
            self._forget()
            raise

    def _give_back(self, child: _Child) -> None:
        with self._changed:
            keep = child.healthy and child.calls < self.max_calls and not self._closed
            if keep:
                self._idle.append(child)
                self._changed.notify()
                return
        child.stop()
        self._forget()

    def _forget(self) -> None:
        with self._changed:
            self._count -= 1
            self._changed.notify()


def _function_name(fn: Callable[..., Any]) -> tuple[str, str]:
    name = getattr(fn, "__qualname__", "")
    if not name or "<" in name:  # a lambda or a closure cannot be found by name in another interpreter
        raise TypeError(f"Pool.call needs a module-level function, got {fn!r}")
    return fn.__module__, name


class _Child:
    def __init__(self, preload: tuple[str, ...]) -> None:
        paths = [entry for entry in sys.path if isinstance(entry, str)]
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _BOOT, json.dumps(paths), json.dumps(list(preload))],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0, close_fds=True)
        except OSError as exc:  # no memory or processes left to start one: the file is not at fault
            raise FormatUnavailable(START_MESSAGE, repr(exc)) from exc
        self.requests, self.replies = self.process.stdin.fileno(), self.process.stdout.fileno()  # type: ignore[union-attr]
        with _worker_fds_lock:  # children forked later (run_guarded, Worker) must not hold these open
            _worker_fds.update((self.requests, self.replies))
        self.calls, self.healthy = 0, True
        try:
            ready = read_message(self.replies, time.monotonic() + POOL_START_S)
        except Deadline:
            ready = None
        if ready != ("ready",):
            self.stop()
            raise FormatUnavailable(START_MESSAGE, f"pool child answered {ready!r}")

    def run(self, target: tuple[str, str], args: tuple, limits: Limits) -> Any:
        self.calls += 1
        self.healthy = False  # until a whole reply is read: an interrupted call leaves one in the pipe
        try:
            send(self.requests, (target, args, limits.timeout_s, limits.memory_mb))
        except OSError as exc:
            raise self._fail(FormatError(CRASH_MESSAGE, f"pool child pipe: {exc!r}")) from exc
        return read_stream(lambda: self._next_reply(limits.timeout_s))

    def _next_reply(self, timeout_s: float) -> tuple:
        try:
            reply = read_message(self.replies, time.monotonic() + timeout_s + STREAM_BATCH_S)
        except Deadline:
            raise self._fail(_timeout(timeout_s)) from None
        if reply is None:
            raise self._fail(self._death())
        # Healthy once the call's last message is read (the pipe is clean again); after a
        # memory error its heap may be in any state: no further documents.
        self.healthy = reply[0] != "parts" and not (reply[0] == "error" and reply[1] == MEMORY_MESSAGE)
        return reply

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        self.healthy = False
        with _worker_fds_lock:
            _worker_fds.difference_update((self.requests, self.replies))
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()

    def _fail(self, error: FormatError) -> FormatError:
        self.stop()
        return error

    def _death(self) -> FormatError:
        try:
            code = self.process.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        return _death_reason(-code if code < 0 else None, code)


def _pool_child_main(preload: list[str]) -> None:
    """The child's loop: one request at a time until the parent closes the pipe."""
    requests, replies = os.dup(0), os.dup(1)
    quiet = os.open(os.devnull, os.O_RDWR)
    os.dup2(quiet, 0)
    os.dup2(2, 1)  # a library that prints must not write into the reply stream
    _watch_parent(os.getppid())
    for name in preload:
        importlib.import_module(name)
    send(replies, ("ready",))
    while (request := receive(requests)) is not None:
        (module, name), args, timeout_s, memory_mb = request  # type: ignore[misc]
        _limit_call(timeout_s, memory_mb)
        answer(replies, lambda: _named(module, name)(*args))  # noqa: B023 — called at once


def _named(module: str, name: str) -> Any:
    fn: Any = importlib.import_module(module)
    for part in name.split("."):
        fn = getattr(fn, part)
    return fn


def _limit_call(timeout_s: float, memory_mb: int) -> None:
    """This call's allowance on top of what the child holds now: address space, and CPU time
    as a backstop for an orphan (the parent's deadline is what normally ends a hung call)."""
    address = _address_space() + memory_mb * 1024 * 1024
    used = resource.getrusage(resource.RUSAGE_SELF)
    cpu = int(used.ru_utime + used.ru_stime + 2 * timeout_s + 5)
    for kind, soft in ((resource.RLIMIT_AS, address), (resource.RLIMIT_CPU, cpu)):
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(kind, (soft, resource.getrlimit(kind)[1]))


def _watch_parent(parent: int) -> None:
    """Exit when the parent is gone (killed with SIGKILL, say): a pool child is not anyone's
    to reap then. PR_SET_PDEATHSIG would fire when the spawning *thread* ends, which in a
    threaded worker is long before the process does."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="bingan-guard-watch").start()


_shared: Pool | None = None
_shared_lock = threading.Lock()
_inherited: list[Pool] = []


def shared_pool() -> Pool:
    """This process's pool (``BINGAN_FORMAT_POOL_SIZE`` children at most, default 2 — the
    cores of the machine this archive targets); children start on first use."""
    global _shared
    with _shared_lock:
        if _shared is None:
            # The document layer is what the children run; importing it up front makes the
            # first call as fast as the next.
            _shared = Pool(format_options().format_pool_size,
                           preload=("bingan.formats.document", "bingan.formats.pdf"))
        return _shared


def close_shared_pool() -> None:
    global _shared
    with _shared_lock:
        pool, _shared = _shared, None
    if pool is not None:
        pool.close()


def _forget_shared_pool_after_fork() -> None:
    # A forked process must neither talk to nor kill its parent's children; the object is
    # kept referenced so that collecting it does not close descriptors by number later.
    global _shared
    if _shared is not None:
        _inherited.append(_shared)
    _shared = None


atexit.register(close_shared_pool)
os.register_at_fork(after_in_child=_forget_shared_pool_after_fork)


# -- both: forking, framing, reaping --------------------------------------------------------


def _fork(child_main: Callable[[int], None], memory_mb: int,
          close_in_child: tuple[int, ...] = ()) -> tuple[int, int]:
    """Start a child running ``child_main(write_fd)``; the parent gets (pid, read_fd)."""
    _collect_exited()
    read, write = pipe()
    with _fork_locks(), _worker_fds_lock:
        inherited = (_worker_fds | {read, *close_in_child}) - {write}
        pid = os.fork()
    if pid == 0:  # child: never returns into the caller's stack
        code = 0
        try:
            for fd in inherited:
                with contextlib.suppress(OSError):
                    os.close(fd)
            _prepare_child(memory_mb)
            child_main(write)
        except BaseException:  # nothing may escape into the parent's code path
            code = 70
        finally:
            os._exit(code)  # no atexit handlers, no flushing of the parent's buffers
    os.close(write)
    return pid, read


@contextlib.contextmanager
def _fork_locks() -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        for lock in _held_across_fork:
            stack.enter_context(lock)
        yield


def _prepare_child(memory_mb: int) -> None:
    for reset in _child_resets:
        reset()
    faulthandler.disable()  # the parent reports the child's death; no traceback noise on stderr
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C on the parent's terminal ends the child too
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # RLIMIT_AS counts address space already reserved (thread stacks, the OCR model, mapped
    # libraries), so the limit is what the child has now plus the allowance.
    limit = _address_space() + memory_mb * 1024 * 1024
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _die_with_parent() -> None:
    """A hung child must not outlive a parent that was killed while waiting for it."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG (Linux)


def _address_space() -> int:
    try:
        with open("/proc/self/statm", encoding="ascii") as stream:
            return int(stream.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _read_reply(fd: int, pid: int, deadline: float, timeout_s: float) -> tuple:
    try:
        reply = read_message(fd, deadline)
    except Deadline:
        _reap(pid)  # kill now: a hung child must not keep a core busy
        raise _timeout(timeout_s) from None
    if reply is None:
        raise _death(pid)
    return reply


def _timeout(timeout_s: float) -> FormatError:
    return FormatError(TIMEOUT_MESSAGE, f"no answer within {timeout_s:g} s; child killed")


def _death(pid: int) -> FormatError:
    """Why the child ended without an answer: killed by the memory limit, crashed, or exited."""
    status = _reap(pid, grace_s=1.0)
    if status is not None and os.WIFSIGNALED(status):
        return _death_reason(os.WTERMSIG(status), status)
    return _death_reason(None, status)


def _death_reason(signal_number: int | None, status: int | None) -> FormatError:
    if signal_number == signal.SIGKILL:  # the kernel's OOM killer, or someone else
        return FormatError(MEMORY_MESSAGE, "child killed (SIGKILL)")
    if signal_number is not None:
        return FormatError(CRASH_MESSAGE, f"child died of signal {signal.Signals(signal_number).name}")
    return FormatError(CRASH_MESSAGE, f"child exited with status {status}")


def _reap(pid: int, grace_s: float = 0.0) -> int | None:
    """Wait status of ``pid``; a child still running after ``grace_s`` is killed first."""
    end = time.monotonic() + grace_s
    while True:
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return None
        if done:
            return status
        if time.monotonic() >= end:
            break
        time.sleep(0.002)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    try:
        return os.waitpid(pid, 0)[1]
    except ChildProcessError:
        return None


if sys.platform == "win32":  # pragma: no cover — the archive runs on Linux
    raise ImportError("bingan.formats.guard needs fork and rlimits (POSIX)")
