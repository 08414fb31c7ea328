"""Blob store contract: every backend (local always, GridFS when BINGAN_MONGO_URL is set).

Then local-only behaviour on real files: tampering, truncation, swapped chunks, volumes
(full, read-only, added later), key rotation and its crash recovery, V3 locate/export.
"""
from __future__ import annotations

import hashlib
import io
import os
import stat
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import psutil
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bingan.config import Settings
from bingan.storage.blobs.crypto import (
    BATCH,
    CHUNK,
    HEADER,
    TAG,
    WRAP_AES_KW,
    WRAP_SM4_GCM,
    unpack_key_record,
)
from bingan.storage.blobs.keys import key_id, load_keyring, pending_path, rotate_master_key
from bingan.storage.blobs.local import LocalBlobStore
from bingan.storage.blobs.manifest import export_record, locate
from bingan.storage.blobs.port import (
    BlobCorrupt,
    BlobError,
    BlobMissing,
    BlobStore,
    NoWritableVolume,
    Placement,
    WrongMasterKey,
    open_blob_store,
)

MONGO_URL = os.environ.get("BINGAN_MONGO_URL", "")
BACKENDS = ["local", "gridfs"]
MiB = 1024 * 1024


def placement(record: str = "ZY0001", name: str = "出院记录.pdf", stay: int | None = 1,
              when: date = date(2024, 3, 15), doc_type: str = "出院记录") -> Placement:
    return Placement("本院", record, stay, when, name, doc_type)


def settings_for(tmp_path: Path, **changes: object) -> Settings:
    values: dict[str, object] = {"home": tmp_path / "home", "volume_reserve_mb": 0}
    values.update(changes)
    return Settings(**values)  # type: ignore[arg-type]


def local_store(tmp_path: Path, **changes: object) -> LocalBlobStore:
    store = open_blob_store(settings_for(tmp_path, **changes))
    assert isinstance(store, LocalBlobStore)
    return store


def put_bytes(store: BlobStore, data: bytes, **where: object) -> str:
    return store.put(io.BytesIO(data), placement(**where)).sha256  # type: ignore[arg-type]


def read_all(store: BlobStore, sha: str) -> bytes:
    with store.open(sha) as reader:
        return reader.read()


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    if request.param == "gridfs":
        if not MONGO_URL:
            pytest.skip("GridFS tests need a MongoDB server: set BINGAN_MONGO_URL to run them")
        database = f"bingan_test_{uuid.uuid4().hex[:10]}"
        store = open_blob_store(settings_for(
            tmp_path, blob_backend="gridfs", mongo_url=MONGO_URL, mongo_database=database))
        yield store
        store._db.client.drop_database(database)  # type: ignore[attr-defined]
        return
    yield local_store(tmp_path)


def blob_files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.blob"))


def only_blob(store: LocalBlobStore) -> Path:
    [path] = blob_files(store.volumes[0].path)
    return path


def rewrite(path: Path, change: callable) -> None:  # type: ignore[valid-type]
    path.write_bytes(change(path.read_bytes()))


def flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]


class Generated(io.RawIOBase):
    """A long incompressible-looking stream made on the fly (never held in memory)."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.block = os.urandom(MiB + 7)
        self.offset = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self.left, len(self.block) - self.offset)
        buffer[:n] = self.block[self.offset:self.offset + n]
        self.offset = (self.offset + n) % (len(self.block) - 1)
        self.left -= n
        return n


class PeakRss:
    """Samples this process's RSS in a thread; ``growth`` is peak minus start."""

    def __enter__(self) -> PeakRss:
        self.process = psutil.Process()
        self.start = self.peak = self.process.memory_info().rss
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self) -> None:
        while self.running:
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.005)

    def __exit__(self, *exc: object) -> None:
        self.running = False
        self.thread.join()

    @property
    def growth(self) -> int:
        return self.peak - self.start


# -- the contract, for every backend -----------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, BATCH - 1, BATCH, BATCH + 1, 2 * BATCH,
                                  3 * MiB + 5])
def test_round_trip_returns_the_exact_bytes(store: BlobStore, size: int) -> None:
    data = os.urandom(size)
    info = store.put(io.BytesIO(data), placement())
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert info.size == size
    assert read_all(store, info.sha256) == data
    assert store.size(info.sha256) == size


def test_same_content_twice_is_stored_once(store: BlobStore) -> None:
    data = os.urandom(100_000)
    first = store.put(io.BytesIO(data), placement(name="a.pdf"))
    second = store.put(io.BytesIO(data), placement(record="ZY0002", name="b.pdf"))
    assert second.sha256 == first.sha256
    assert second.location == first.location
    assert (first.deduplicated, second.deduplicated) == (False, True)
    assert list(store.iter_shas()) == [first.sha256]


def test_unknown_sha_is_missing(store: BlobStore) -> None:
    sha = hashlib.sha256(b"never stored").hexdigest()
    assert not store.exists(sha)
    with pytest.raises(BlobMissing):
        store.check(sha)
    with pytest.raises(BlobMissing):
        read_all(store, sha)


def test_sha_that_is_not_hex_is_refused(store: BlobStore) -> None:
    with pytest.raises(BlobMissing):
        store.exists("../../etc/passwd")


def test_deleted_blob_is_gone(store: BlobStore) -> None:
    sha = put_bytes(store, b"to be deleted")
    store.delete(sha)
    assert not store.exists(sha)
    assert list(store.iter_shas()) == []


def test_check_passes_for_an_intact_blob(store: BlobStore) -> None:
    sha = put_bytes(store, os.urandom(200_000))
    store.check(sha)


def test_read_range_returns_the_slice_across_chunks(store: BlobStore) -> None:
    data = os.urandom(3 * CHUNK + 100)
    sha = put_bytes(store, data)
    assert store.read_range(sha, CHUNK - 10, CHUNK + 20) == data[CHUNK - 10: 2 * CHUNK + 10]
    assert store.read_range(sha, len(data) - 5, 100) == data[-5:]


def test_locate_lists_what_was_put_for_the_record(store: BlobStore) -> None:
    sha = put_bytes(store, b"page one", record="ZY0100", name="病程记录.pdf", stay=2)
    put_bytes(store, b"other record", record="ZY0200")
    [entry] = store.locate("ZY0100")
    assert (entry.sha256, entry.filename, entry.stay, entry.size) == (sha, "病程记录.pdf", 2, 8)


def test_export_writes_the_records_files_under_readable_names(
        store: BlobStore, tmp_path: Path) -> None:
    put_bytes(store, b"discharge", record="ZY0300", name="出院记录.pdf", stay=1)
    put_bytes(store, b"lab", record="ZY0300", name="检验报告.pdf", stay=2)
    written = store.export_record("ZY0300", tmp_path / "out")
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in written) == [
        "第1次/出院记录.pdf", "第2次/检验报告.pdf"]
    assert (tmp_path / "out" / "第1次" / "出院记录.pdf").read_bytes() == b"discharge"


def test_streaming_200_mb_keeps_memory_flat(store: BlobStore) -> None:
    size = 200 * MiB
    tracemalloc.start()
    try:
        with PeakRss() as rss:
            info = store.put(Generated(size), placement())  # type: ignore[arg-type]
            read = 0
            with store.open(info.sha256) as reader:
                while block := reader.read(MiB):
                    read += len(block)
        _, traced_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (info.size, read) == (size, size)
    assert traced_peak < 16 * MiB
    assert rss.growth < 50 * MiB


def test_key_rotation_keeps_every_blob_readable(store: BlobStore) -> None:
    shas = [put_bytes(store, os.urandom(n)) for n in (0, 10, CHUNK + 1)]
    old_id = store.keyring.primary_id  # type: ignore[attr-defined]
    rotate_master_key(store, echo=lambda _: None)  # type: ignore[arg-type]
    assert store.keyring.primary_id != old_id  # type: ignore[attr-defined]
    for sha in shas:
        store.check(sha)


# -- local store: tampering, on real files -----------------------------------------------


@pytest.fixture
def local(tmp_path: Path) -> LocalBlobStore:
    return local_store(tmp_path)


def stored(local: LocalBlobStore, size: int = 3 * CHUNK + 1000) -> tuple[str, Path]:
    sha = put_bytes(local, os.urandom(size))
    return sha, only_blob(local)


@pytest.mark.parametrize("offset", [0, 5, HEADER.size - 1], ids=["magic", "cipher", "nonce"])
def test_flipped_header_byte_is_detected(local: LocalBlobStore, offset: int) -> None:
    sha, path = stored(local)
    rewrite(path, lambda d: flip(d, offset))
    with pytest.raises(BlobCorrupt):
        local.check(sha)


def test_flipped_ciphertext_byte_is_detected(local: LocalBlobStore) -> None:
    sha, path = stored(local)
    rewrite(path, lambda d: flip(d, HEADER.size + CHUNK + TAG + 100))
    with pytest.raises(BlobCorrupt):
        local.check(sha)


def test_flipped_tag_byte_is_detected(local: LocalBlobStore) -> None:
    sha, path = stored(local)
    rewrite(path, lambda d: flip(d, len(d) - 1))
    with pytest.raises(BlobCorrupt):
        local.check(sha)


def test_tampered_chunk_is_refused_before_its_bytes_are_returned(local: LocalBlobStore) -> None:
    sha, path = stored(local)
    rewrite(path, lambda d: flip(d, HEADER.size + 10))
    with local.open(sha) as reader, pytest.raises(BlobCorrupt):
        reader.read(1)


def test_dropping_the_last_chunk_is_detected(local: LocalBlobStore) -> None:
    sha, path = stored(local, size=3 * CHUNK)
    rewrite(path, lambda d: d[: HEADER.size + 2 * (CHUNK + TAG)])
    with pytest.raises(BlobCorrupt):
        local.check(sha)


def test_cut_inside_a_chunk_is_detected(local: LocalBlobStore) -> None:
    sha, path = stored(local)
    rewrite(path, lambda d: d[: HEADER.size + CHUNK + TAG + 500])
    with pytest.raises(BlobCorrupt):
        local.check(sha)


def test_swapped_chunks_are_detected(local: LocalBlobStore) -> None:
    sha, path = stored(local)
    frame = CHUNK + TAG

    def swap(d: bytes) -> bytes:
        a, b = d[HEADER.size:HEADER.size + frame], d[HEADER.size + frame:HEADER.size + 2 * frame]
        return d[:HEADER.size] + b + a + d[HEADER.size + 2 * frame:]

    rewrite(path, swap)
    with pytest.raises(BlobCorrupt):
        local.check(sha)


@pytest.mark.parametrize(
    "garbage", [b"x", os.urandom(TAG), os.urandom(CHUNK + TAG)], ids=["one-byte", "one-tag", "chunk-and-tag"]
)
def test_appended_garbage_is_detected(local: LocalBlobStore, garbage: bytes) -> None:
    sha, path = stored(local)
    rewrite(path, lambda d: d + garbage)
    with pytest.raises(BlobCorrupt):
        local.check(sha)


def test_other_valid_blob_under_this_name_fails_the_sha_check(local: LocalBlobStore) -> None:
    first = put_bytes(local, b"first document", name="1.pdf")
    second = put_bytes(local, b"second document", name="2.pdf")
    folder = only_blob_dir(local)
    for suffix in (".blob", ".key"):
        (folder / f"{second}{suffix}").replace(folder / f"{first}{suffix}")
    with pytest.raises(BlobCorrupt):
        local.check(first)


def only_blob_dir(local: LocalBlobStore) -> Path:
    [folder] = {p.parent for p in blob_files(local.volumes[0].path)}
    return folder


def test_missing_key_sidecar_is_reported(local: LocalBlobStore) -> None:
    sha, path = stored(local)
    path.with_suffix(".key").unlink()
    with pytest.raises(BlobCorrupt, match="密钥"):
        local.check(sha)


def test_blob_body_holds_no_plaintext(local: LocalBlobStore) -> None:
    secret = "患者张三 诊断：肺炎".encode() * 100
    put_bytes(local, secret)
    body = only_blob(local).read_bytes()
    assert "张三".encode() not in body


# -- ciphers ------------------------------------------------------------------------------


def test_body_is_the_documented_frame_format(tmp_path: Path) -> None:
    """Frames sealed a batch at a time are the same frames the format describes one by one."""
    store = local_store(tmp_path)
    data = os.urandom(BATCH + CHUNK + 7)
    put_bytes(store, data)
    body = only_blob(store).read_bytes()
    record = only_blob(store).with_suffix(".key").read_bytes()
    data_key = load_keyring(settings_for(tmp_path), create=False).unwrap(record)
    header, frames = body[:HEADER.size], body[HEADER.size:]
    count = -(-len(frames) // (CHUNK + TAG))
    plain = b"".join(
        AESGCM(data_key).decrypt(
            header[-8:] + i.to_bytes(4, "big"),
            frames[i * (CHUNK + TAG):(i + 1) * (CHUNK + TAG)],
            header + i.to_bytes(8, "big") + bytes([i == count - 1]))
        for i in range(count))
    assert plain == data


def test_sm4_round_trip(tmp_path: Path) -> None:
    store = local_store(tmp_path, cipher="sm4-gcm")
    data = os.urandom(BATCH + 2 * CHUNK + 3)
    info = store.put(io.BytesIO(data), placement())
    assert info.cipher == "sm4-gcm"
    assert read_all(store, info.sha256) == data


def test_sm4_tampering_is_detected(tmp_path: Path) -> None:
    store = local_store(tmp_path, cipher="sm4-gcm")
    sha, path = stored(store)
    rewrite(path, lambda d: flip(d, len(d) - 20))
    with pytest.raises(BlobCorrupt):
        store.check(sha)


def test_sm4_blobs_have_sm4_wrapped_data_keys(tmp_path: Path) -> None:
    """An all-国密 deployment: the data key is wrapped with SM4 too, not with AES key wrap."""
    store = local_store(tmp_path, cipher="sm4-gcm")
    put_bytes(store, b"\xe5\x85\xa5\xe9\x99\xa2\xe8\xae\xb0\xe5\xbd\x95")
    record = only_blob(store).with_suffix(".key").read_bytes()
    assert unpack_key_record(record).algorithm == WRAP_SM4_GCM
    aes = local_store(tmp_path / "aes")
    put_bytes(aes, b"x")
    assert unpack_key_record(only_blob(aes).with_suffix(".key").read_bytes()).algorithm == WRAP_AES_KW


def test_flipped_byte_in_an_sm4_wrapped_key_is_detected(tmp_path: Path) -> None:
    store = local_store(tmp_path, cipher="sm4-gcm")
    sha, path = stored(store)
    rewrite(path.with_suffix(".key"), lambda d: flip(d, len(d) - 3))
    with pytest.raises(BlobCorrupt, match="数据密钥记录已损坏"):
        store.check(sha)


def test_rotation_keeps_sm4_wrapping(tmp_path: Path) -> None:
    store = local_store(tmp_path, cipher="sm4-gcm")
    sha, path = stored(store)
    rotate_master_key(store, echo=lambda _: None)
    assert unpack_key_record(path.with_suffix(".key").read_bytes()).algorithm == WRAP_SM4_GCM
    local_store(tmp_path, cipher="sm4-gcm").check(sha)


def test_blobs_of_both_ciphers_stay_readable_after_switching(tmp_path: Path) -> None:
    aes_data, sm4_data = os.urandom(70_000), os.urandom(80_000)
    aes_sha = put_bytes(local_store(tmp_path, cipher="aes-256-gcm"), aes_data, name="a")
    sm4_store = local_store(tmp_path, cipher="sm4-gcm")
    sm4_sha = put_bytes(sm4_store, sm4_data, name="b")
    back = local_store(tmp_path, cipher="aes-256-gcm")
    assert read_all(back, aes_sha) == aes_data
    assert read_all(back, sm4_sha) == sm4_data
    assert back.size(sm4_sha) == len(sm4_data)


# -- volumes ------------------------------------------------------------------------------


def test_default_volume_is_home_volumes_v1(tmp_path: Path) -> None:
    store = local_store(tmp_path)
    put_bytes(store, b"x")
    assert blob_files(tmp_path / "home" / "volumes" / "v1")


def test_full_capped_volume_overflows_to_the_next(tmp_path: Path) -> None:
    v1, v2 = tmp_path / "v1", tmp_path / "v2"
    store = local_store(tmp_path, blob_volumes=f"{v1}@1M,{v2}")
    first = store.put(io.BytesIO(os.urandom(600_000)), placement(name="1"))
    second_data = os.urandom(600_000)
    second = store.put(io.BytesIO(second_data), placement(name="2"))
    assert (first.volume, second.volume) == (str(v1), str(v2))
    assert sum(p.stat().st_size for p in v1.rglob("*") if p.is_file()) <= MiB
    assert list((v1 / ".tmp").iterdir()) == []
    assert read_all(store, second.sha256) == second_data


def test_no_room_anywhere_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    v1 = tmp_path / "v1"
    store = local_store(tmp_path, blob_volumes=f"{v1}@200K")
    with pytest.raises(NoWritableVolume):
        store.put(io.BytesIO(os.urandom(300_000)), placement())
    assert blob_files(v1) == []
    assert store.scan_orphan_temp() == []


def test_read_only_volume_is_read_but_never_written(tmp_path: Path) -> None:
    v1, v2 = tmp_path / "v1", tmp_path / "v2"
    old = os.urandom(5000)
    old_sha = put_bytes(local_store(tmp_path, blob_volumes=str(v1)), old)
    before = snapshot(v1)
    store = local_store(tmp_path, blob_volumes=f"{v1}:ro,{v2}")
    new = store.put(io.BytesIO(b"new document"), placement(record="ZY0009"))
    again = store.put(io.BytesIO(old), placement(record="ZY0010"))
    assert read_all(store, old_sha) == old
    assert new.volume == str(v2)
    assert again.deduplicated and again.volume == str(v1)
    assert snapshot(v1) == before
    assert {e.sha256 for e in store.locate("ZY0010")} == {old_sha}


def test_blob_on_read_only_volume_cannot_be_deleted(tmp_path: Path) -> None:
    v1 = tmp_path / "v1"
    sha = put_bytes(local_store(tmp_path, blob_volumes=str(v1)), b"kept")
    with pytest.raises(BlobError, match="只读"):
        local_store(tmp_path, blob_volumes=f"{v1}:ro").delete(sha)


def snapshot(root: Path) -> dict[str, tuple[int, str]]:
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_volume_added_later_takes_new_writes(tmp_path: Path) -> None:
    v1, v2 = tmp_path / "v1", tmp_path / "v2"
    old_sha = put_bytes(local_store(tmp_path, blob_volumes=f"{v1}@300K"), os.urandom(250_000))
    with pytest.raises(NoWritableVolume):
        put_bytes(local_store(tmp_path, blob_volumes=f"{v1}@300K"), os.urandom(100_000))
    store = local_store(tmp_path, blob_volumes=f"{v1}@300K,{v2}")
    info = store.put(io.BytesIO(os.urandom(100_000)), placement(name="later"))
    assert info.volume == str(v2)
    store.check(old_sha)
    assert set(store.iter_shas()) == {old_sha, info.sha256}


def test_volume_status_reports_mode_capacity_and_counts(tmp_path: Path) -> None:
    v1, v2 = tmp_path / "v1", tmp_path / "v2"
    put_bytes(local_store(tmp_path, blob_volumes=str(v1)), b"one")
    store = local_store(tmp_path, blob_volumes=f"{v1}:ro,{v2}@10M")
    put_bytes(store, b"two")
    ro, rw = store.volumes_status()
    assert (ro.mode, ro.capacity, ro.blob_count) == ("ro", None, 1)
    assert (rw.mode, rw.capacity, rw.blob_count) == ("rw", 10 * MiB, 1)
    assert rw.used_bytes > 0 and rw.free_bytes > 0


def test_dedup_pointer_index_is_sharded_by_sha(local: LocalBlobStore) -> None:
    sha = put_bytes(local, b"indexed")
    pointer = local.volumes[0].path / ".by-sha" / sha[:2] / sha[2:4] / sha
    assert pointer.read_text().endswith(f"/ZY0001/{sha}.blob")


def test_readable_layout_is_campus_year_month_record(local: LocalBlobStore) -> None:
    sha = put_bytes(local, b"laid out", when=date(2023, 7, 9), record="ZY0777")
    root = local.volumes[0].path
    assert (root / "本院" / "2023" / "07" / "ZY0777" / f"{sha}.blob").is_file()
    assert (root / "本院" / "2023" / "07" / "ZY0777" / f"{sha}.key").is_file()
    assert (root / "本院" / "2023" / "07" / "ZY0777" / "manifest.bgm").is_file()


def test_record_number_that_would_escape_the_volume_is_refused(local: LocalBlobStore) -> None:
    with pytest.raises(BlobError, match="病案号"):
        put_bytes(local, b"x", record="../../etc")


# -- master key and rotation --------------------------------------------------------------


def test_key_file_is_created_with_mode_0600(tmp_path: Path) -> None:
    store = local_store(tmp_path)
    key_file = tmp_path / "home" / "master.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert store.keyring.primary_id == key_id(bytes.fromhex(key_file.read_text()))


def test_rotation_rewraps_keys_without_touching_bodies(tmp_path: Path) -> None:
    store = local_store(tmp_path)
    shas = [put_bytes(store, os.urandom(n), name=str(n)) for n in (1, CHUNK, 3 * CHUNK)]
    volume = store.volumes[0].path
    old_key = (tmp_path / "home" / "master.key").read_text().strip()
    bodies = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in blob_files(volume)}
    rotate_master_key(store, echo=lambda _: None)
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in blob_files(volume)} == bodies
    assert not pending_path(tmp_path / "home" / "master.key").exists()
    fresh = local_store(tmp_path)
    for sha in shas:
        fresh.check(sha)
    assert fresh.locate("ZY0001")
    with_old = local_store(tmp_path, master_key=old_key)
    with pytest.raises(WrongMasterKey):
        with_old.check(shas[0])
    with pytest.raises(WrongMasterKey):
        locate([volume], old_key, "ZY0001")


def test_rotation_with_environment_key_needs_the_new_key(tmp_path: Path) -> None:
    store = local_store(tmp_path, master_key="11" * 32)
    with pytest.raises(BlobError, match="--new-key"):
        rotate_master_key(store, echo=lambda _: None)


def test_rotation_with_environment_key_tells_to_update_it(tmp_path: Path) -> None:
    store = local_store(tmp_path, master_key="11" * 32)
    sha = put_bytes(store, b"env keyed")
    said: list[str] = []
    rotate_master_key(store, new_key=bytes.fromhex("22" * 32), echo=said.append)
    assert "BINGAN_MASTER_KEY" in said[-1]
    local_store(tmp_path, master_key="22" * 32).check(sha)
    with pytest.raises(WrongMasterKey):
        local_store(tmp_path, master_key="11" * 32).check(sha)


def test_rotation_killed_midway_is_completed_by_rerunning(tmp_path: Path) -> None:
    home = tmp_path / "home"
    store = local_store(tmp_path)
    shas = [put_bytes(store, os.urandom(100 + i), name=f"{i}.pdf") for i in range(12)]
    old_key = (home / "master.key").read_text().strip()
    script = textwrap.dedent(f"""
        import os, signal
        from bingan.config import Settings
        from bingan.storage.blobs.port import open_blob_store
        from bingan.storage.blobs.keys import rotate_master_key
        store = open_blob_store(Settings(home={str(home)!r}, volume_reserve_mb=0))
        def die(done):
            if done == 5:
                os.kill(os.getpid(), signal.SIGKILL)
        rotate_master_key(store, progress=die)
    """)
    result = subprocess.run([sys.executable, "-c", script], timeout=60)
    assert result.returncode == -9
    assert pending_path(home / "master.key").exists()
    midway = local_store(tmp_path)
    for sha in shas:
        midway.check(sha)  # both keys work while the rotation is unfinished
    rotate_master_key(midway, echo=lambda _: None)
    assert not pending_path(home / "master.key").exists()
    for sha in shas:
        local_store(tmp_path).check(sha)
    with pytest.raises(WrongMasterKey):
        local_store(tmp_path, master_key=old_key).check(shas[0])


def test_rotation_includes_read_only_volumes(tmp_path: Path) -> None:
    v1, v2 = tmp_path / "v1", tmp_path / "v2"
    sha = put_bytes(local_store(tmp_path, blob_volumes=str(v1)), b"archived")
    store = local_store(tmp_path, blob_volumes=f"{v1}:ro,{v2}")
    rotate_master_key(store, echo=lambda _: None)
    local_store(tmp_path, blob_volumes=f"{v1}:ro,{v2}").check(sha)


# -- V3: find a record's files without a database -----------------------------------------


def test_locate_needs_only_volume_directories_and_the_key(tmp_path: Path) -> None:
    v1, v2 = tmp_path / "v1", tmp_path / "v2"
    shared = os.urandom(3000)
    store = local_store(tmp_path, blob_volumes=f"{v1}@200K,{v2}")
    put_bytes(store, shared, record="ZY0042", name="入院记录.pdf", when=date(2024, 1, 2))
    put_bytes(store, os.urandom(250_000), record="ZY0042", name="影像.dcm",
              when=date(2024, 2, 3), stay=2)
    put_bytes(store, shared, record="ZY0099", name="复印件.pdf")
    key = (tmp_path / "home" / "master.key").read_text().strip()
    entries = locate([v1, v2], key, "ZY0042")
    assert [(e.filename, e.stay) for e in entries] == [("入院记录.pdf", 1), ("影像.dcm", 2)]
    assert all(e.found_at is not None and e.found_at.is_file() for e in entries)
    [copy] = locate([v1, v2], key, "ZY0099")
    assert copy.path == entries[0].path  # deduplicated: points into the other record's folder


def test_export_without_database_decrypts_readable_files(tmp_path: Path) -> None:
    store = local_store(tmp_path)
    data = os.urandom(CHUNK * 2 + 9)
    put_bytes(store, data, record="ZY0055", name="手术记录.pdf", stay=None)
    key = bytes.fromhex((tmp_path / "home" / "master.key").read_text())
    [path] = export_record([store.volumes[0].path], key, "ZY0055", tmp_path / "export")
    assert path == tmp_path / "export" / "手术记录.pdf"
    assert path.read_bytes() == data


def test_export_keeps_two_different_files_with_the_same_name(tmp_path: Path) -> None:
    store = local_store(tmp_path)
    put_bytes(store, b"first", record="ZY0066", name="报告.pdf")
    put_bytes(store, b"second", record="ZY0066", name="报告.pdf")
    written = store.export_record("ZY0066", tmp_path / "export")
    assert sorted(p.read_bytes() for p in written) == [b"first", b"second"]


def test_manifest_is_encrypted(local: LocalBlobStore) -> None:
    put_bytes(local, b"x", record="ZY0077", name="患者姓名王五.pdf")
    [manifest] = local.volumes[0].path.rglob("manifest.bgm")
    assert "王五".encode() not in manifest.read_bytes()
    assert b"ZY0077" not in manifest.read_bytes()


def test_repeated_put_does_not_grow_the_manifest(local: LocalBlobStore) -> None:
    for _ in range(3):
        put_bytes(local, b"retry", record="ZY0088")
    assert len(local.locate("ZY0088")) == 1
