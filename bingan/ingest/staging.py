"""Staged files — pushed uploads and fetched files waiting for the pipeline — sealed at rest.

A staged file is patient data that may wait for days (a failed item waits for someone to retry
it), so it is written sealed with the blob store's cipher and master key (key record followed by
the chunked body, the format of ``seal_bytes``) and never sits in plaintext in HOME/staging.
Parsers need a plain file: ``plaintext`` decrypts into a private temporary file that is
removed when the step ends. The staged file itself is removed once its item is stored.
"""
from __future__ import annotations

import io
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from bingan.config import Settings
from bingan.storage.blobs.crypto import BATCH, KEY_MAGIC, DecryptReader, Sealer, encrypt_stream, unpack_key_record
from bingan.storage.blobs.keys import load_keyring

PLAIN_PREFIX = "plain-"  # decrypted working copies, removed when their step ends
LEFTOVER_SECONDS = 24 * 3600  # a working copy this old outlived the worker that made it


def seal(source: BinaryIO, dest: Path, settings: Settings) -> tuple[str, int]:
    """Write ``source`` sealed to ``dest`` (via a temporary name); (SHA-256 of the plaintext, size)."""
    keyring = load_keyring(settings)
    sealer = Sealer(settings.cipher)
    partial = dest.with_name(dest.name + ".sealing")
    try:
        with open(partial, "wb") as out:
            out.write(keyring.wrap(sealer.data_key, settings.cipher))
            digest, size = encrypt_stream(source, out.write, sealer)
        os.replace(partial, dest)
    finally:
        partial.unlink(missing_ok=True)
    return digest, size


def seal_file(plain: Path, dest: Path, settings: Settings) -> tuple[str, int]:
    """Seal a plaintext file written by a connector, then remove the plaintext."""
    try:
        with open(plain, "rb") as source:
            return seal(source, dest, settings)
    finally:
        plain.unlink(missing_ok=True)


def is_sealed(path: Path) -> bool:
    with open(path, "rb") as stream:
        return stream.read(len(KEY_MAGIC)) == KEY_MAGIC


@contextmanager
def plaintext(staged: Path, settings: Settings) -> Iterator[Path]:
    """A private plaintext copy of a sealed staged file for the parsers, removed afterwards."""
    if not is_sealed(staged):  # staged by an earlier release, until ``secure_staging`` seals it
        yield staged
        return
    with open(staged, "rb") as raw, _working_copy(staged.parent) as (path, out):
        shutil.copyfileobj(_opened(raw, settings), out, BATCH)
        out.flush()
        yield path


@contextmanager
def working_copy(folder: Path, fill: Callable[[BinaryIO], object]) -> Iterator[Path]:
    """A private temporary file in ``folder`` filled by ``fill``, removed afterwards."""
    with _working_copy(folder) as (path, out):
        fill(out)
        out.flush()
        yield path


@contextmanager
def _working_copy(folder: Path) -> Iterator[tuple[Path, BinaryIO]]:
    with tempfile.NamedTemporaryFile(dir=folder, prefix=PLAIN_PREFIX) as out:  # mode 0600
        yield Path(out.name), out  # type: ignore[misc]


def _opened(raw: BinaryIO, settings: Settings) -> DecryptReader:
    head = raw.read(64 * 1024)
    record = unpack_key_record(head)
    data_key = load_keyring(settings).unwrap(head[:record.length])
    body = _Offset(raw, record.length)
    return DecryptReader(body, os.fstat(raw.fileno()).st_size - record.length, data_key)


class _Offset(io.RawIOBase):
    """The body after the key record, seekable from its own start (DecryptReader seeks absolutely)."""

    def __init__(self, raw: BinaryIO, offset: int) -> None:
        super().__init__()
        self._raw, self._offset = raw, offset
        raw.seek(offset)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, position: int, whence: int = io.SEEK_SET) -> int:
        if whence != io.SEEK_SET:
            raise ValueError("only absolute seeks")
        return self._raw.seek(self._offset + position) - self._offset

    def read(self, size: int = -1) -> bytes:
        return self._raw.read(size)


def secure_staging(settings: Settings) -> None:
    """At start-up: seal staged files written in plaintext by earlier releases, and remove
    plaintext working copies a killed worker left behind."""
    folder = settings.resolved_home / "staging"
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        if not path.is_file() or path.is_symlink():
            continue
        if path.name.startswith(PLAIN_PREFIX) or path.suffix in {".part", ".sealing"}:
            _remove_if_abandoned(path)
        elif not is_sealed(path):
            _seal_in_place(path, settings)


def _remove_if_abandoned(path: Path) -> None:
    if time.time() - path.stat().st_mtime > LEFTOVER_SECONDS:
        path.unlink(missing_ok=True)


def _seal_in_place(path: Path, settings: Settings) -> None:
    with open(path, "rb") as source:
        seal(source, path, settings)
