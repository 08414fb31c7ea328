"""The BlobStore port over MongoDB GridFS (scale-out backend).

Why pymongo's *sync* GridFSBucket and not its async API: the port is synchronous because its
callers are Celery tasks, CLI commands and the web layer's streaming threads. An async
client would need an event loop per call or a loop thread to bridge every read, for no
gain: the sync driver is thread-safe, pools connections and streams GridFS chunks lazily.

Blobs are stored exactly as on a local volume (the same chunked AEAD body), so the data stays
encrypted inside MongoDB; the wrapped data key lives in the file document's metadata, which
key rotation updates without touching the chunks. A put uploads under a temporary name and
then renames the file document to the SHA-256 with ``metadata.committed = true``; a unique
partial index on committed names makes concurrent puts of the same content store it once.
Record placements (the V3 manifest) go to the ``blob_placements`` collection.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from bson.binary import Binary
from gridfs import GridFSBucket
from pymongo import MongoClient
from pymongo.errors import DuplicateKeyError

from bingan.storage.blobs.crypto import (
    DecryptReader,
    Sealer,
    encrypt_stream,
    plaintext_size,
    read_full,
)
from bingan.storage.blobs.keys import Keyring, Progress, load_keyring
from bingan.storage.blobs.manifest import export_entries
from bingan.storage.blobs.port import (
    BlobCorrupt,
    BlobInfo,
    BlobMissing,
    ManifestEntry,
    Placement,
    VolumeStatus,
    check_sha,
)

if TYPE_CHECKING:
    from pymongo.database import Database

    from bingan.config import Settings

_CHUNK_BYTES = 255 * 1024
_TEMP_PREFIX = "tmp/"


class GridFSBlobStore:
    def __init__(self, database: Database[Any], keyring: Keyring, cipher: str = "aes-256-gcm",
                 bucket: str = "blobs") -> None:
        self.keyring = keyring
        self.cipher = cipher
        self._db = database
        self._bucket_name = bucket
        self._bucket = GridFSBucket(database, bucket_name=bucket)
        self._files = database[f"{bucket}.files"]
        self._chunks = database[f"{bucket}.chunks"]
        self._placements = database["blob_placements"]
        self._files.create_index(
            "filename", unique=True, name="bingan_committed_sha",
            partialFilterExpression={"metadata.committed": True})
        self._placements.create_index([("record_number", 1), ("stored_at", 1)])

    @classmethod
    def from_settings(cls, settings: Settings, create_key: bool = True) -> GridFSBlobStore:
        client: MongoClient[Any] = MongoClient(settings.mongo_url)
        keyring = load_keyring(settings, create_key)
        return cls(client[settings.mongo_database], keyring, settings.cipher)

    def put(self, stream: BinaryIO, placement: Placement) -> BlobInfo:
        placement.record_dir()  # same name rules as the local layout
        sealer = Sealer(self.cipher)
        metadata = {"committed": False, "cipher": self.cipher,
                    "key_record": Binary(self.keyring.wrap(sealer.data_key, self.cipher))}
        grid_in = self._bucket.open_upload_stream(
            f"{_TEMP_PREFIX}{uuid.uuid4().hex}", chunk_size_bytes=_CHUNK_BYTES, metadata=metadata)
        try:
            sha, size = encrypt_stream(stream, lambda frames: grid_in.write(bytes(frames)), sealer)
            grid_in.close()
        except BaseException:
            grid_in.abort()  # GridIn's own __exit__ would leave the chunks behind
            raise
        info = self._commit(grid_in._id, sha, size)
        self._add_placement(placement, info)
        return info

    def _commit(self, file_id: object, sha: str, size: int) -> BlobInfo:
        existing = self._doc(sha)
        if existing is None:
            try:
                self._files.update_one({"_id": file_id}, {"$set": {
                    "filename": sha, "metadata.committed": True, "metadata.size": size}})
                return BlobInfo(sha, size, str(file_id), self._where(), self.cipher)
            except DuplicateKeyError:
                existing = self._doc(sha)  # another process committed it a moment ago
        self._bucket.delete(file_id)
        if existing is None:
            raise BlobMissing(f"找不到文件 {sha}")
        return self._info(existing, deduplicated=True)

    def _add_placement(self, placement: Placement, info: BlobInfo) -> None:
        key = {"record_number": placement.record_number, "sha256": info.sha256,
               "filename": placement.filename, "stay": placement.stay,
               "document_type": placement.document_type}
        self._placements.update_one(key, {"$setOnInsert": {
            "campus": placement.campus, "size": info.size, "path": info.location,
            "when": placement.when.isoformat(),
            "stored_at": datetime.now(UTC).isoformat(timespec="seconds")}}, upsert=True)

    def _where(self) -> str:
        return f"mongodb:{self._db.name}/{self._bucket_name}"

    def _doc(self, sha: str) -> dict[str, Any] | None:
        return self._files.find_one({"filename": sha, "metadata.committed": True})

    def _require(self, sha: str) -> dict[str, Any]:
        doc = self._doc(check_sha(sha))
        if doc is None:
            raise BlobMissing(f"找不到文件 {sha}")
        return doc

    def _info(self, doc: dict[str, Any], deduplicated: bool = False) -> BlobInfo:
        return BlobInfo(doc["filename"], plaintext_size(doc["length"]), str(doc["_id"]),
                        self._where(), doc["metadata"].get("cipher", ""), deduplicated)

    def open(self, sha256: str) -> AbstractContextManager[BinaryIO]:
        return self._open(self._require(sha256), sha256)

    @contextmanager
    def _open(self, doc: dict[str, Any], sha: str) -> Iterator[BinaryIO]:
        record = doc["metadata"].get("key_record")
        if record is None:
            raise BlobCorrupt(f"文件 {sha} 缺少数据密钥")
        data_key = self.keyring.unwrap(bytes(record))
        with self._bucket.open_download_stream(doc["_id"]) as grid_out:
            yield cast(BinaryIO, DecryptReader(cast(BinaryIO, grid_out), grid_out.length,
                                               data_key, sha))

    def read_range(self, sha256: str, offset: int, length: int) -> bytes:
        with self.open(sha256) as reader:
            reader.seek(offset)
            return read_full(reader, length)

    def exists(self, sha256: str) -> bool:
        return self._doc(check_sha(sha256)) is not None

    def size(self, sha256: str) -> int:
        return self._info(self._require(sha256)).size

    def age_seconds(self, sha256: str) -> float:
        uploaded = self._require(sha256)["uploadDate"]
        return (datetime.now(UTC) - uploaded.replace(tzinfo=UTC)).total_seconds()

    def check(self, sha256: str) -> None:
        with self.open(sha256) as reader:
            while reader.read(1024 * 1024):
                pass

    def delete(self, sha256: str) -> None:
        self._bucket.delete(self._require(sha256)["_id"])

    def iter_shas(self) -> Iterator[str]:
        cursor = self._files.find({"metadata.committed": True}, {"filename": 1})
        for doc in cursor.sort("filename", 1):
            yield doc["filename"]

    def scan_orphan_temp(self, min_age_seconds: float = 0) -> list[str]:
        """Uncommitted uploads, and chunks whose upload died before its file document."""
        return [f"gridfs:{self._bucket_name}/{i}" for i in self._orphan_ids(min_age_seconds)]

    def _orphan_ids(self, min_age_seconds: float) -> list[object]:
        cutoff = datetime.now(UTC) - timedelta(seconds=min_age_seconds)
        uncommitted = self._files.find(
            {"metadata.committed": False, "uploadDate": {"$lte": cutoff}}, {"_id": 1})
        ids = [d["_id"] for d in uncommitted]
        chunkless = self._chunks.aggregate([
            {"$match": {"n": 0}},
            {"$lookup": {"from": self._files.name, "localField": "files_id",
                         "foreignField": "_id", "as": "file"}},
            {"$match": {"file": {"$size": 0}}},
            {"$project": {"files_id": 1}},
        ])
        # A live upload's chunks also lack a file document: only count them once they are old.
        ids += [c["files_id"] for c in chunkless if _id_time(c["files_id"]) <= cutoff]
        return ids

    def collect_orphan_temp(self, min_age_seconds: float = 3600) -> int:
        ids = self._orphan_ids(min_age_seconds)
        for file_id in ids:
            self._files.delete_one({"_id": file_id})
            self._chunks.delete_many({"files_id": file_id})
        return len(ids)

    def volumes_status(self) -> list[VolumeStatus]:
        stats = self._db.command("dbStats")
        free = int(stats.get("fsTotalSize", 0) - stats.get("fsUsedSize", 0))
        count = self._files.count_documents({"metadata.committed": True})
        return [VolumeStatus(self._where(), "rw", free, int(stats.get("storageSize", 0)),
                             None, count)]

    def locate(self, record_number: str) -> list[ManifestEntry]:
        cursor = self._placements.find({"record_number": record_number}).sort("stored_at", 1)
        return [ManifestEntry.from_json(doc) for doc in cursor]

    def export_record(self, record_number: str, out_dir: Path) -> list[Path]:
        return export_entries(self.locate(record_number), out_dir, lambda e: self.open(e.sha256))

    def rewrap_keys(self, progress: Progress | None = None) -> int:
        """Replace each file document's key record; a compare-and-set keeps concurrent puts safe."""
        done = 0
        for doc in self._files.find({"metadata.key_record": {"$exists": True}},
                                    {"metadata.key_record": 1}):
            record = bytes(doc["metadata"]["key_record"])
            if self.keyring.wrapped_by_primary(record):
                continue
            fresh = Binary(self.keyring.rewrap(record))
            result = self._files.update_one(
                {"_id": doc["_id"], "metadata.key_record": doc["metadata"]["key_record"]},
                {"$set": {"metadata.key_record": fresh}})
            done += result.modified_count
            if progress:
                progress(done)
        return done


def _id_time(file_id: object) -> datetime:
    generation_time = getattr(file_id, "generation_time", None)
    return generation_time or datetime.now(UTC)
