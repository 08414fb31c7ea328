"""Messages between the parent and its guarded children (guard.py): length-prefixed pickles.

A call's answer is one message (``("ok", result)`` or ``("error", message, detail)``), or, for a
generator, batches of its items (``("parts", [...])``) and the rest with the end (``("done", [...])``).
"""
from __future__ import annotations

import contextlib
import fcntl
import inspect
import os
import pickle
import select
import struct
import time
from collections.abc import Callable, Iterator
from typing import Any

from bingan.formats.base import FormatError

MEMORY_MESSAGE = "处理文件所需内存过多，文件可能已损坏或是恶意文件"
_HEADER = struct.Struct("!Q")
_MAX_MESSAGE = 1 << 31  # a reply larger than 2 GiB is a bug or an attack, not a page
# A streamed call sends what it has made every this many seconds: a 300-page survey is a
# few dozen messages, not 300 wake-ups of the parent. Added to each message's deadline, so
# an item that takes just under the timeout after a batch's worth of work is not killed.
STREAM_BATCH_S = 0.05


def pipe() -> tuple[int, int]:
    """A pipe with a 1 MiB buffer: a page image crosses in a few writes instead of a hundred
    64 KiB ones, each a context switch on a busy machine."""
    read, write = os.pipe()
    with contextlib.suppress(OSError, AttributeError):
        fcntl.fcntl(write, fcntl.F_SETPIPE_SZ, 1 << 20)
    return read, write


def answer(write: int, thunk: Callable[[], Any]) -> None:
    """Send ``thunk()``'s result; a generator's items in batches, the last with the end."""
    try:
        result = thunk()
        reply: tuple = ("done", _stream(write, result)) if inspect.isgenerator(result) else ("ok", result)
    except BaseException as exc:  # converted into the one documented error
        reply = failure_reply(exc)
    send(write, reply)


def _stream(write: int, items: Iterator[Any]) -> list[Any]:
    """Send the items made in each ``STREAM_BATCH_S``; the rest is returned for the last message."""
    batch: list[Any] = []
    started = time.monotonic()
    for item in items:
        batch.append(item)
        if time.monotonic() - started >= STREAM_BATCH_S:
            send(write, ("parts", batch))
            batch, started = [], time.monotonic()
    return batch


def read_stream(next_reply: Callable[[], tuple]) -> Any:
    """One call's result from its replies: a plain one, or a stream's batches up to its end."""
    parts: list[Any] = []
    while (reply := next_reply())[0] == "parts":
        parts.extend(reply[1])
    if reply[0] == "done":
        return parts + reply[1]
    return unpack(reply)


def failure_reply(exc: BaseException) -> tuple:
    if isinstance(exc, FormatError):
        return ("error", exc.message, exc.detail)
    if isinstance(exc, MemoryError):
        return ("error", MEMORY_MESSAGE, "MemoryError under RLIMIT_AS")
    return ("error", "文件无法处理（内部错误）", repr(exc))


def send(fd: int, message: object) -> None:
    try:
        payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # an unpicklable result is our bug; say so instead of hanging
        payload = pickle.dumps(("error", "文件无法处理（内部错误）", f"unpicklable result: {exc!r}"))
    _write_all(fd, _HEADER.pack(len(payload)))
    _write_all(fd, payload)  # separately: a page image is megabytes, concatenating would copy it


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def receive(fd: int) -> object | None:
    header = _read_exact(fd, _HEADER.size, None)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    body = _read_exact(fd, size, None)
    return None if body is None else pickle.loads(body)  # our parent wrote it: trusted


def read_message(fd: int, deadline: float) -> tuple | None:
    """One framed reply; None at end of file (the child died); ``Deadline`` when late."""
    header = _read_exact(fd, _HEADER.size, deadline)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    if size > _MAX_MESSAGE:
        raise FormatError("文件无法处理（内部错误）", f"reply of {size} bytes")
    body = _read_exact(fd, size, deadline)
    return None if body is None else pickle.loads(body)  # our own child wrote it: trusted


def _read_exact(fd: int, size: int, deadline: float | None) -> bytearray | None:
    """``size`` bytes, None at end of file; ``Deadline`` when the deadline passes first."""
    buffer = bytearray(size)
    view = memoryview(buffer)
    done = 0
    while done < size:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise Deadline
        count = os.readv(fd, [view[done:]])
        if not count:
            return None
        done += count
    return buffer


class Deadline(Exception):  # internal signal between guard_wire and guard, never leaves them
    pass


def unpack(reply: tuple) -> Any:
    if reply[0] == "ok":
        return reply[1]
    raise FormatError(reply[1], reply[2])
