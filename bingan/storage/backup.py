"""Backup and restore (备份与恢复): an online, consistent copy of the database, the encrypted blob
volumes copied incrementally, and the key material sealed with a backup passphrase.

Target layout (a mounted NAS or a second disk)::

    DIR/volumes/<n>/...            mirror of the n-th blob volume: encrypted files, copied as they
                                   are; blobs are immutable and content-addressed, so a run copies
                                   only files that are new or changed (record manifests)
    DIR/volumes.state.json         per file: size, mtime, SHA-256 as last copied (what makes a run
                                   incremental: unchanged files are neither read nor hashed)
    DIR/sets/<id>/database.sqlite3 SQLite online backup API (or database.pgdump: pg_dump -Fc)
    DIR/sets/<id>/keys.sealed      master key, audit key, session key, checkpoint log: a tar sealed
                                   with AES-256-GCM under a key derived from the passphrase (scrypt)
    DIR/sets/<id>/manifest.json    every file of the set and every volume file with its SHA-256,
                                   signed with HMAC-SHA256 under a second passphrase-derived key

The search index is not copied: it is derived, and rebuilds after a restore. Restore refuses a
target that already holds records, checks the signature and every hash before it writes, and
copies every file it restores with its hash checked again.
"""
from __future__ import annotations

import ctypes
import hashlib
import hmac
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.engine import make_url

from bingan.config import Settings
from bingan.storage.blobs.volumes import LOCK_FILE, TMP_DIR, parse_volumes

FORMAT = 1
SETS = "sets"
VOLUMES = "volumes"
STATE = "volumes.state.json"
DATABASE_FILES = ("bingan.db", "bingan.db-wal", "bingan.db-shm", "bingan.db-journal")
NOT_KEYS = {"demo-loading"}  # markers at the top of HOME that are not key material
CHECKPOINT_LOG = "audit-checkpoints.log"  # bingan.access.audit_head.LOG_NAME, beside the audit key
SCRYPT = {"n": 2**15, "r": 8, "p": 1}
CHUNK = 1024 * 1024
# Making a run's writes durable (before the state trusts a copy and before a manifest names it):
# up to SYNC_EACH_MAX paths (the files it wrote and the directories that gained an entry), fsync
# each of them, from FSYNC_THREADS threads so that the journal commits them in groups; beyond it,
# syncfs(2) of the whole backup disk. syncfs costs what the run wrote plus every other writer's
# dirty pages on that disk (1.1 s on the shared disk under load 15-18); the fsyncs cost what the
# run wrote plus ~0.25 ms a path. bench/backup_sync.py on this ext4 disk (bench/README.md): with
# another writer busy, threaded fsyncs beat syncfs up to ~1,400 paths (300 blobs: 0.40 s against
# 0.62 s) and lose beyond (4,250 paths: 3.4 s against 1.5 s); on a quiet disk syncfs is cheaper
# at any size (486 paths: 0.04 s against 0.11 s). 1,000 paths keeps a small run (1 % of 10,000
# documents: ~300 files in ~190 folders) independent of other writers for at most ~0.2 s more on
# a quiet disk; a full backup (30,000 files) syncs the disk once, as per-file fsyncs would be
# several times slower.
SYNC_EACH_MAX = 1000
FSYNC_THREADS = 16
MIN_PASSPHRASE = 12


class BackupError(Exception):
    """A backup or restore that cannot go on; the message is for the operator (Chinese)."""


@dataclass
class BackupResult:
    set_id: str
    path: Path
    copied_files: int = 0
    copied_bytes: int = 0
    volume_files: int = 0
    database_bytes: int = 0
    pruned: list[str] = field(default_factory=list)


def backup(settings: Settings, target: Path, passphrase: str, *, keep: int = 0,
           now: datetime | None = None) -> BackupResult:
    """One backup set into ``target``; ``keep`` > 0 removes the oldest sets beyond that many."""
    _check_passphrase(passphrase)
    _require_local_store(settings)
    moment = now or datetime.now(UTC)
    set_id = moment.strftime("%Y%m%dT%H%M%S%fZ")
    work = target / SETS / f".{set_id}.partial"
    work.mkdir(parents=True, exist_ok=True)
    result = BackupResult(set_id, target / SETS / set_id)
    salt = os.urandom(16)
    written = _Written()
    with ThreadPoolExecutor(max_workers=1) as pool:
        # scrypt (deliberately slow) runs beside the dump and the volume walk: it releases the GIL.
        derived = pool.submit(_derive, passphrase, salt)
        # Keys read first: the audit checkpoint log then names no event the database dump lacks.
        keys = _key_archive(settings)
        database = _dump_database(settings, work)
        volume_files, state = _mirror_volumes(settings, target, result, written)
        seal_key, sign_key = derived.result()
    _write_file(work / "keys.sealed", _seal(seal_key, keys))
    result.database_bytes = database.stat().st_size
    written.files += [str(database), str(work / "keys.sealed")]
    written.directories.add(str(work))
    # Every file of the set and every copied volume file on disk before the state trusts them and
    # before the manifest names them; a set without its manifest is never listed.
    _make_durable([target], written)
    _write_atomic(target / STATE, json.dumps(state).encode())
    manifest = {
        "format": FORMAT, "set": set_id, "created_at": moment.isoformat(), "salt": salt.hex(), "scrypt": SCRYPT,
        "database": {"kind": settings.resolved_database_url.split(":", 1)[0], "file": database.name},
        "files": {path.name: _sha256_file(path) for path in sorted(work.iterdir())},
        "volumes": volume_files,
    }
    _write_signed(work / "manifest.json", manifest, sign_key)
    _fsync_paths([str(work)])  # the manifest's name in the set's directory
    work.rename(result.path)  # the set exists only once complete
    _fsync_paths([str(target / SETS), str(target)])  # the rename (and a first run's folders) survive a crash
    result.volume_files = len(volume_files)
    if keep > 0:
        result.pruned = _prune(target, keep)
    return result


def restore(settings: Settings, source: Path, passphrase: str, set_id: str = "") -> str:
    """Restore a backup set (the newest by default) onto an empty machine; returns its id."""
    _require_local_store(settings)
    chosen = source / SETS / (set_id or _newest(source))
    manifest = _read_signed(chosen / "manifest.json", passphrase)
    for name, digest in manifest["files"].items():
        if _sha256_file(chosen / name) != digest:
            raise BackupError(f"备份文件 {name} 校验失败：备份已损坏")
    _refuse_if_not_empty(settings)
    seal_key, _ = _derive(passphrase, bytes.fromhex(manifest["salt"]))
    _restore_keys(settings, _open(seal_key, (chosen / "keys.sealed").read_bytes()))
    _restore_volumes(settings, source, manifest["volumes"])
    _restore_database(settings, chosen / manifest["database"]["file"])
    return chosen.name


def configured_passphrase(settings: Settings) -> str:
    """BINGAN_BACKUP_PASSPHRASE, else the first line of BINGAN_BACKUP_PASSPHRASE_FILE; never the database."""
    if settings.backup_passphrase:
        return settings.backup_passphrase
    path = settings.backup_passphrase_file
    if path is None:
        raise BackupError("未设置备份口令：请设置 BINGAN_BACKUP_PASSPHRASE 或 BINGAN_BACKUP_PASSPHRASE_FILE")
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise BackupError(f"无法读取备份口令文件 {path}：{exc.strerror}") from exc


LAST_RUN = "backup.last"  # system setting: the outcome of the latest `bingan backup`, for the status page
STALE_AFTER_HOURS = 36  # a nightly backup missed once shows as a problem


def outcome(target: Path, result: BackupResult | None, error: str, at: datetime) -> dict:
    """What the status page shows of a run (written by the command into LAST_RUN)."""
    if result is None:
        return {"ok": False, "at": at.isoformat(), "target": str(target), "error": error[:500]}
    return {"ok": True, "at": at.isoformat(), "target": str(target), "set": result.set_id,
            "copied_files": result.copied_files, "copied_bytes": result.copied_bytes,
            "volume_files": result.volume_files, "database_bytes": result.database_bytes}


def list_sets(target: Path) -> list[str]:
    folder = target / SETS
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) if folder.is_dir() else []


# ---- database -------------------------------------------------------------------------------

def _dump_database(settings: Settings, work: Path) -> Path:
    url = make_url(settings.resolved_database_url)
    if url.get_backend_name() == "sqlite":
        out = work / "database.sqlite3"
        source = sqlite3.connect(url.database)
        copy = sqlite3.connect(out)
        try:
            # A fresh file in a set that is not listed until complete: no journal and no syncs of
            # its own; the backup makes it durable with the set's other files.
            copy.execute("PRAGMA journal_mode=OFF")
            copy.execute("PRAGMA synchronous=OFF")
            source.backup(copy)  # online and consistent: writers may go on meanwhile
        finally:
            copy.close()
            source.close()
        return out
    out = work / "database.pgdump"
    _run(["pg_dump", "--format=custom", "--no-owner", f"--file={out}", _libpq(url)], "数据库备份 (pg_dump)")
    return out


def _restore_database(settings: Settings, dump: Path) -> None:
    url = make_url(settings.resolved_database_url)
    if url.get_backend_name() == "sqlite":
        target = Path(url.database)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(dump, target)
        _fsync_paths([str(target), str(target.parent)], threads=1)
        return
    _run(["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={_libpq(url)}", str(dump)],
         "数据库恢复 (pg_restore)")


def _refuse_if_not_empty(settings: Settings) -> None:
    url = make_url(settings.resolved_database_url)
    if url.get_backend_name() == "sqlite" and not Path(url.database).exists():
        return
    engine = sa.create_engine(url)
    try:
        tables = set(sa.inspect(engine).get_table_names())
        if "records" in tables:
            with engine.connect() as connection:
                if connection.execute(sa.text("SELECT COUNT(*) FROM records")).scalar():
                    raise BackupError("目标数据库中已有病案：恢复只能在空系统上进行")
        if tables and url.get_backend_name() != "sqlite":
            raise BackupError("目标 PostgreSQL 数据库不是空的：请先创建一个空数据库")
    finally:
        engine.dispose()
    if url.get_backend_name() == "sqlite":  # an empty, freshly migrated database: the restored one replaces it
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(url.database + suffix).unlink(missing_ok=True)


def _libpq(url: sa.URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _run(command: list[str], what: str) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=6 * 3600)
    except FileNotFoundError as exc:
        raise BackupError(f"{what}：找不到 {command[0]}，请安装 PostgreSQL 客户端") from exc
    if done.returncode != 0:
        raise BackupError(f"{what}失败：{done.stderr.strip()[-500:]}")


# ---- volumes --------------------------------------------------------------------------------

def _volume_files(root: Path) -> Iterator[tuple[str, os.DirEntry]]:
    """(path relative to the volume, directory entry) of every committed file: plain strings and
    scandir's entries, since a volume holds three files per blob and a run walks all of them
    (pathlib's parsing, os.walk's lstat of every folder would cost more than the stat itself).
    Symbolic links to folders are not followed (as os.walk); unlike os.walk, a folder that cannot
    be read stops the run rather than being left out of the backup silently."""
    pending = [("", str(root))]
    while pending:
        prefix, folder = pending.pop()
        try:
            entries = os.scandir(folder)
        except FileNotFoundError:
            continue  # a volume not created yet (nothing stored in it): nothing to copy
        with entries:
            for entry in entries:
                if entry.is_dir():
                    if not entry.is_symlink() and not (prefix == "" and entry.name == TMP_DIR):
                        pending.append((prefix + entry.name + "/", entry.path))
                elif not (prefix == "" and entry.name == LOCK_FILE):
                    yield prefix + entry.name, entry


@dataclass
class _Written:
    """What a run wrote, to be made durable: files, and the directories that gained an entry."""
    files: list[str] = field(default_factory=list)
    directories: set[str] = field(default_factory=set)


def _mirror_volumes(settings: Settings, target: Path, result: BackupResult,
                    written: _Written) -> tuple[dict[str, dict], dict[str, dict]]:
    """Copy new and changed volume files; (every file's size and SHA-256 for the manifest, the
    new state). A file whose size and modification time match the state of the last run is
    neither read nor hashed. The state is written by the caller, once the copies are durable."""
    state_path = target / STATE
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    listing: dict[str, dict] = {}
    for number, volume in enumerate(parse_volumes(settings.blob_volumes, settings.resolved_home)):
        for inner, entry in _volume_files(volume.path):
            rel = f"{number}/{inner}"
            stat = entry.stat()
            known = state.get(rel)
            if known and known["size"] == stat.st_size and known["mtime_ns"] == stat.st_mtime_ns:
                listing[rel] = {"size": known["size"], "sha256": known["sha256"]}
                continue
            digest = _copy_checked(Path(entry.path), target / VOLUMES / rel, written)
            result.copied_files += 1
            result.copied_bytes += stat.st_size
            state[rel] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": digest}
            listing[rel] = {"size": stat.st_size, "sha256": digest}
    return listing, state


def _restore_volumes(settings: Settings, source: Path, listing: dict[str, dict]) -> None:
    volumes = parse_volumes(settings.blob_volumes, settings.resolved_home)
    written = _Written()
    for rel, entry in listing.items():
        number, inner = rel.split("/", 1)
        if int(number) >= len(volumes):
            raise BackupError(f"备份含第 {int(number) + 1} 个存储卷，本机只配置了 {len(volumes)} 个")
        origin = source / VOLUMES / rel
        if not origin.exists() or _sha256_file(origin) != entry["sha256"]:
            raise BackupError(f"备份中的文件 {rel} 缺失或已损坏")
        if _copy_checked(origin, volumes[int(number)].path / inner, written) != entry["sha256"]:
            raise BackupError(f"恢复文件 {rel} 时校验失败")
    _make_durable([volume.path for volume in volumes], written)


def _copy_checked(source: Path, target: Path, written: _Written) -> str:
    """Copy through a temporary name; the copy is read back and must hash like the source. Not
    fsynced here: the caller makes every copy of the run durable at once (``_make_durable``)."""
    _make_parent(target, written)
    temporary = target.with_name(target.name + ".partial")
    digest = hashlib.sha256()
    with source.open("rb") as reader, temporary.open("wb") as writer:
        while chunk := reader.read(CHUNK):
            digest.update(chunk)
            writer.write(chunk)
    if _sha256_file(temporary) != digest.hexdigest():
        temporary.unlink()
        raise BackupError(f"复制 {source.name} 后校验不一致：目标磁盘可能有故障")
    temporary.replace(target)
    written.files.append(str(target))
    return digest.hexdigest()


def _make_parent(path: Path, written: _Written) -> None:
    """``mkdir -p`` of the parent; the parent and every directory that gained a new folder are
    noted, since a new name is durable only once its directory is synced."""
    parent = path.parent
    written.directories.add(str(parent))
    missing = []
    while not parent.is_dir():
        missing.append(parent)
        parent = parent.parent
        written.directories.add(str(parent))
    for folder in reversed(missing):
        folder.mkdir(exist_ok=True)


# ---- keys -----------------------------------------------------------------------------------

def _key_paths(settings: Settings) -> dict[str, Path]:
    """Archive name -> path: the configured key files and every other file at the top of HOME
    except the database (the session key, the audit checkpoint log, a rotation's new key…)."""
    home = settings.resolved_home
    paths = _configured_key_paths(settings)
    for path in sorted(home.iterdir()) if home.is_dir() else []:
        if path.is_file() and path.name not in DATABASE_FILES and path.name not in NOT_KEYS \
                and path not in paths.values():
            paths[path.name] = path
    return {name: path for name, path in paths.items() if path.exists()}


def _configured_key_paths(settings: Settings) -> dict[str, Path]:
    audit_key = settings.resolved_audit_key_file
    return {"master.key": settings.resolved_key_file, "audit.key": audit_key,
            CHECKPOINT_LOG: audit_key.with_name(CHECKPOINT_LOG)}


def _key_archive(settings: Settings) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, path in _key_paths(settings).items():
            archive.add(path, arcname=name, recursive=False)
    return buffer.getvalue()


def _restore_keys(settings: Settings, archive: bytes) -> None:
    home = settings.resolved_home
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    destinations = _configured_key_paths(settings)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        for member in tar.getmembers():
            if not member.isfile() or "/" in member.name or member.name.startswith("."):
                raise BackupError("密钥包内容异常：拒绝恢复")
            data = tar.extractfile(member).read()
            target = destinations.get(member.name, home / member.name)
            if target.exists() and target.read_bytes() != data:
                raise BackupError(f"本机已有不同的 {member.name}：恢复只能在空系统上进行")
            _write_atomic(target, data)


# ---- sealing and signing ----------------------------------------------------------------------

def _check_passphrase(passphrase: str) -> None:
    if len(passphrase) < MIN_PASSPHRASE:
        raise BackupError(f"备份口令至少 {MIN_PASSPHRASE} 个字符")


def _derive(passphrase: str, salt: bytes) -> tuple[bytes, bytes]:
    key = hashlib.scrypt(passphrase.encode(), salt=salt, dklen=64, maxmem=64 * 1024 * 1024, **SCRYPT)
    return key[:32], key[32:]


def _seal(key: bytes, data: bytes) -> bytes:
    nonce = os.urandom(12)
    return b"BGK1" + nonce + AESGCM(key).encrypt(nonce, data, b"bingan-backup-keys")


def _open(key: bytes, sealed: bytes) -> bytes:
    if not sealed.startswith(b"BGK1"):
        raise BackupError("密钥包格式不对")
    try:
        return AESGCM(key).decrypt(sealed[4:16], sealed[16:], b"bingan-backup-keys")
    except Exception as exc:
        raise BackupError("备份口令不对，或密钥包已损坏") from exc


def _canonical(manifest: dict) -> bytes:
    return json.dumps(manifest, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def _write_signed(path: Path, manifest: dict, key: bytes) -> None:
    """The canonical form itself is written, with the signature as its first member: one
    encoding of tens of thousands of volume entries instead of two (the reader re-canonicalizes)."""
    canonical = _canonical(manifest)
    signature = hmac.new(key, canonical, hashlib.sha256).hexdigest()
    _write_atomic(path, b'{"signature":"' + signature.encode() + b'",' + canonical[1:])


def _read_signed(path: Path, passphrase: str) -> dict:
    if not path.exists():
        raise BackupError(f"找不到备份清单 {path}")
    stored = json.loads(path.read_text())
    signature = stored.pop("signature", "")
    if stored.get("format") != FORMAT:
        raise BackupError("不认识的备份格式")
    _, sign_key = _derive(passphrase, bytes.fromhex(stored["salt"]))
    if not hmac.compare_digest(hmac.new(sign_key, _canonical(stored), hashlib.sha256).hexdigest(), signature):
        raise BackupError("备份清单签名不符：口令不对，或备份被改动过")
    return stored


# ---- files ------------------------------------------------------------------------------------

def _newest(source: Path) -> str:
    sets = list_sets(source)
    if not sets:
        raise BackupError(f"{source} 中没有完整的备份")
    return sets[-1]


def _prune(target: Path, keep: int) -> list[str]:
    """Remove the oldest sets beyond ``keep``; volume files stay (later sets may share them)."""
    old = list_sets(target)[:-keep]
    for name in old:
        shutil.rmtree(target / SETS / name)
    return old


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _write_file(path: Path, data: bytes) -> None:
    with path.open("wb") as writer:
        writer.write(data)


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".partial")
    with temporary.open("wb") as writer:
        writer.write(data)
        writer.flush()
        os.fsync(writer.fileno())
    temporary.replace(path)


def _sync_filesystem(path: Path) -> None:
    """syncfs(2) of the file system holding ``path`` (only the backup disk, not every disk of the
    machine as sync(2) would); sync(2) where libc has no syncfs."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        if ctypes.CDLL(None, use_errno=True).syncfs(descriptor) != 0:
            raise OSError(ctypes.get_errno(), "syncfs")
    except AttributeError:
        os.sync()
    finally:
        os.close(descriptor)


def _make_durable(disks: list[Path], written: _Written) -> None:
    """Everything a run wrote (on ``disks``), on disk: fsync of each path when few, else syncfs of
    each disk (the crossover is SYNC_EACH_MAX)."""
    paths = written.files + sorted(written.directories)
    if len(paths) <= SYNC_EACH_MAX:
        _fsync_paths(paths)
        return
    for disk in disks:
        _sync_filesystem(disk)


def _fsync_paths(paths: Iterable[str], threads: int = FSYNC_THREADS) -> None:
    """fsync(2) of files and directories; from several threads, so that the file system commits
    them together rather than one journal commit after another."""
    paths = list(paths)
    if threads <= 1 or len(paths) <= 1:
        for path in paths:
            _fsync_path(path)
        return
    with ThreadPoolExecutor(max_workers=min(threads, len(paths))) as pool:
        for _ in pool.map(_fsync_path, paths):
            pass  # re-raises the first failure


def _fsync_path(path: str) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _require_local_store(settings: Settings) -> None:
    if settings.blob_backend != "local":
        raise BackupError("备份命令只用于本地加密存储卷；GridFS 请用 MongoDB 自身的备份 (mongodump)")
