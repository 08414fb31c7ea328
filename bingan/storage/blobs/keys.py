"""The master key: loading, creating (mode 0600), wrapping data keys, and rotation.

The key comes from BINGAN_MASTER_KEY (64 hex characters) or from the key file (default
HOME/master.key, one hex line, created on first run). A rotation in progress is marked by
``master.key.new``; while it exists both keys unwrap and the new key wraps, so every process
keeps working and rerunning the rotation after a crash completes it.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from bingan.storage.blobs.crypto import (
    KEY_MAGIC,
    WRAP_AES_KW,
    WRAP_SM4_GCM,
    DecryptReader,
    Sealer,
    encrypt_stream,
    open_short,
    pack_key_record,
    seal_short,
    unpack_key_record,
)
from bingan.storage.blobs.port import BlobCorrupt, BlobError, WrongMasterKey

if TYPE_CHECKING:
    from bingan.config import Settings

KEY_BYTES = 32
Progress = Callable[[int], object]


def key_id(key: bytes) -> bytes:
    """First 8 bytes of SHA-256 of the key: names the key without revealing it."""
    return hashlib.sha256(key).digest()[:8]


def parse_hex_key(text: str, source: str) -> bytes:
    value = text.strip()
    try:
        key = bytes.fromhex(value)
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        raise BlobError(f"{source} 必须是 64 位十六进制字符（256 位密钥）")
    return key


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_key_file(path: Path, key: bytes) -> None:
    """Create ``path`` holding ``key`` with mode 0600, all or nothing, never overwriting.

    The key is written to a private temp file and hard-linked into place: link fails if the
    name exists, so two processes starting at once cannot leave a half-written key.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, (key.hex() + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    finally:
        tmp.unlink()
    fsync_dir(path.parent)


def pending_path(key_file: Path) -> Path:
    return key_file.with_name(key_file.name + ".new")


class Keyring:
    """The keys this process accepts; the first one wraps new data keys."""

    def __init__(self, keys: list[bytes], key_file: Path | None = None) -> None:
        self.key_file = key_file
        self._stamp: tuple[object, ...] = ()
        self._set(keys)

    @property
    def from_env(self) -> bool:
        return self.key_file is None

    @property
    def primary_id(self) -> bytes:
        self._refresh()
        return key_id(self._primary)

    def _set(self, keys: list[bytes]) -> None:
        self._primary = keys[0]
        self._keys = {key_id(k): k for k in keys}
        self._stamp = self._file_stamp()

    def add_pending(self, key: bytes) -> None:
        """Environment-key rotation: the new key wraps from now on, the old one still unwraps."""
        self._set([key, *[k for k in self._keys.values() if k != key]])

    def wrap(self, data_key: bytes, cipher: str) -> bytes:
        """A key record for ``data_key``: SM4-GCM wrapped for SM4 blobs, AES key wrap otherwise."""
        self._refresh()
        return _wrap(self._primary, WRAP_SM4_GCM if cipher == "sm4-gcm" else WRAP_AES_KW, data_key)

    def unwrap(self, record: bytes) -> bytes:
        found = unpack_key_record(record)
        if found.master_key_id not in self._keys:
            self._refresh(force=True)  # another process may have rotated the key
        if found.master_key_id not in self._keys:
            raise WrongMasterKey(f"数据密钥由另一把主密钥加密（主密钥编号 {found.master_key_id.hex()}），"
                                 "当前主密钥无法解开")
        try:
            return _unwrap(self._keys[found.master_key_id], found.algorithm, found.wrapped)
        except (InvalidUnwrap, InvalidTag):
            raise BlobCorrupt("数据密钥记录已损坏，无法解开") from None

    def wrapped_by_primary(self, record: bytes) -> bool:
        return unpack_key_record(record).master_key_id == self.primary_id

    def rewrap(self, record: bytes) -> bytes:
        """The same data key under the primary master key, with the record's wrap algorithm."""
        data_key = self.unwrap(record)
        return _wrap(self._primary, unpack_key_record(record).algorithm, data_key)

    def reload(self) -> None:
        self._refresh(force=True)

    def _file_stamp(self) -> tuple[object, ...]:
        if self.key_file is None:
            return ()
        return tuple(_stat_stamp(p) for p in (self.key_file, pending_path(self.key_file)))

    def _refresh(self, force: bool = False) -> None:
        """Pick up a rotation done by another process (one stat per call, no read if unchanged)."""
        if self.key_file is None:
            return
        if force or self._file_stamp() != self._stamp:
            self._set(_read_file_keys(self.key_file))


def _wrap(master: bytes, algorithm: int, data_key: bytes) -> bytes:
    master_id = key_id(master)
    if algorithm == WRAP_SM4_GCM:
        wrapped = seal_short("sm4-gcm", _sm4_wrapping_key(master), data_key, _wrap_aad(algorithm, master_id))
    else:
        wrapped = aes_key_wrap(master, data_key)
    return pack_key_record(master_id, algorithm, wrapped)


def _unwrap(master: bytes, algorithm: int, wrapped: bytes) -> bytes:
    if algorithm == WRAP_SM4_GCM:
        return open_short("sm4-gcm", _sm4_wrapping_key(master), wrapped, _wrap_aad(algorithm, key_id(master)))
    return aes_key_unwrap(master, wrapped)


def _sm4_wrapping_key(master: bytes) -> bytes:
    """SM4 takes 128-bit keys: derive one from the 256-bit master key with HKDF over SM3."""
    return HKDF(algorithm=hashes.SM3(), length=16, salt=None, info=b"bingan sm4-gcm key wrap").derive(master)


def _wrap_aad(algorithm: int, master_id: bytes) -> bytes:
    # Binds the wrapped key to its record's algorithm and master key id.
    return KEY_MAGIC + bytes([algorithm]) + master_id


def _stat_stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns


def _read_file_keys(key_file: Path) -> list[bytes]:
    keys = [parse_hex_key(key_file.read_text(), str(key_file))]
    pending = pending_path(key_file)
    if pending.exists():
        keys.insert(0, parse_hex_key(pending.read_text(), str(pending)))
    return keys


def load_keyring(settings: Settings, create: bool = True) -> Keyring:
    """The keyring from the settings; creates the key file on first run when ``create``."""
    if settings.master_key:
        return Keyring([parse_hex_key(settings.master_key, "BINGAN_MASTER_KEY")])
    path = settings.resolved_key_file
    if not path.exists():
        if not create:
            raise BlobError(f"找不到主密钥文件 {path}，也未设置 BINGAN_MASTER_KEY")
        # FileExistsError: another process created it first, so use theirs.
        with contextlib.suppress(FileExistsError):
            write_key_file(path, os.urandom(KEY_BYTES))
    return Keyring(_read_file_keys(path), key_file=path)


def keyring_from_key(master_key: bytes | str) -> Keyring:
    key = parse_hex_key(master_key, "主密钥") if isinstance(master_key, str) else master_key
    if len(key) != KEY_BYTES:
        raise BlobError("主密钥必须是 32 字节")
    return Keyring([key])


def seal_bytes(data: bytes, keyring: Keyring, cipher: str) -> bytes:
    """A small self-contained encrypted file: key record followed by the chunked body."""
    sealer = Sealer(cipher)
    out = bytearray(keyring.wrap(sealer.data_key, cipher))
    encrypt_stream(io.BytesIO(data), out.extend, sealer)
    return bytes(out)


def unseal_bytes(blob: bytes, keyring: Keyring) -> bytes:
    end = unpack_key_record(blob).length
    data_key = keyring.unwrap(blob[:end])
    return DecryptReader(io.BytesIO(blob[end:]), len(blob) - end, data_key).readall()


def reseal_bytes(blob: bytes, keyring: Keyring) -> bytes:
    """Re-wrap the key record of a sealed file without touching its body."""
    end = unpack_key_record(blob).length
    return keyring.rewrap(blob[:end]) + blob[end:]


class _Rewrappable(Protocol):
    keyring: Keyring

    def rewrap_keys(self, progress: Progress | None = None) -> int: ...


def rotate_master_key(store: _Rewrappable, new_key: bytes | None = None,
                      progress: Progress | None = None,
                      echo: Callable[[str], object] = print) -> bytes:
    """Replace the master key; re-wrap every data key, never rewriting blob bodies.

    Returns the new key. Safe to rerun after a crash: ``master.key.new`` records the new key
    until every key record is re-wrapped, and only then replaces ``master.key``.
    """
    keyring = store.keyring
    if keyring.key_file is None:
        return _rotate_env_key(store, new_key, progress, echo)
    pending = pending_path(keyring.key_file)
    if pending.exists():
        resumed = parse_hex_key(pending.read_text(), str(pending))
        if new_key is not None and new_key != resumed:
            raise BlobError(f"上次更换主密钥尚未完成（{pending}），请不指定新密钥重新运行以完成它")
        new_key = resumed
        echo("继续完成上次中断的主密钥更换")
    else:
        new_key = new_key or os.urandom(KEY_BYTES)
        write_key_file(pending, new_key)
    keyring.reload()
    count = _rewrap_until_done(store, progress)
    os.replace(pending, keyring.key_file)
    fsync_dir(keyring.key_file.parent)
    keyring.reload()
    echo(f"主密钥已更换（新密钥编号 {key_id(new_key).hex()}），重新加密了 {count} 个数据密钥")
    return new_key


def _rotate_env_key(store: _Rewrappable, new_key: bytes | None, progress: Progress | None,
                    echo: Callable[[str], object]) -> bytes:
    if new_key is None:
        raise BlobError("主密钥来自环境变量 BINGAN_MASTER_KEY：请用 --new-key 指定新密钥")
    store.keyring.add_pending(new_key)
    count = _rewrap_until_done(store, progress)
    echo(f"已用新主密钥重新加密 {count} 个数据密钥。请立即把 BINGAN_MASTER_KEY 更新为新密钥"
         f"（编号 {key_id(new_key).hex()}）并重启所有进程；中断后请用同一新密钥重新运行。")
    return new_key


def _rewrap_until_done(store: _Rewrappable, progress: Progress | None) -> int:
    """Repeat until a pass finds nothing left: catches blobs committed during a pass."""
    total = 0
    for _ in range(5):
        done = store.rewrap_keys(progress)
        total += done
        if done == 0:
            return total
    raise BlobError("更换主密钥期间仍不断有用旧密钥写入的文件，请停止其它进程后重试")
