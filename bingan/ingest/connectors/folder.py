"""Shared folder: files dropped into ``endpoint`` (a local or mounted path) are collected by polling.

Metadata comes from a sidecar ``NAME.json`` or, failing that, the file name
``RECORDNUMBER_STAY_TYPE_DOCID.ext``. The file is copied into staging, its item row
committed, and only then moved to ``done/`` (options {"after": "delete"} removes it): a
crash in between leaves the file in place, and the next poll finds the item already
there (same document id and content hash) and just moves the file.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from bingan.ingest.connectors.http_pull import report_from
from bingan.ingest.items import Report, enqueue, source_visit_type

SKIP_DIRS = {"done", "failed"}
MIN_AGE_SECONDS = 2.0  # a file still being copied in keeps changing; wait until it settles


def poll(pipe, source, run_id: int | None = None, min_age: float | None = None) -> list[int]:
    folder = Path(source.endpoint)
    if not folder.is_dir():
        from bingan.ingest.errors import TransientFailure

        raise TransientFailure("peer_unreachable", f"共享目录不存在或无法访问：{folder}")
    min_age = source.options.get("min_age_seconds", MIN_AGE_SECONDS) if min_age is None else min_age
    new_ids = []
    for path in sorted(folder.iterdir()):
        if not _ready(path, min_age):
            continue
        item_id = _take(pipe, source, path, run_id)
        if item_id is not None:
            new_ids.append(item_id)
    return new_ids


def _ready(path: Path, min_age: float) -> bool:
    import time

    if not path.is_file() or path.name.endswith((".json", ".part", ".tmp")) or path.name.startswith("."):
        return False
    return time.time() - path.stat().st_mtime >= min_age


def _take(pipe, source, path: Path, run_id: int | None) -> int | None:
    report = _report(path, source_visit_type(source))
    if report is None:
        _move(path, path.parent / "failed", source)
        return None
    digest = hashlib.sha256()
    staged = pipe.staging / f"folder-{source.id}-{path.name}.{digest.name}"
    with open(path, "rb") as src, open(staged, "wb") as out:
        for chunk in iter(lambda: src.read(1 << 20), b""):
            digest.update(chunk)
            out.write(chunk)
    report.revision = digest.hexdigest()
    document_key = hashlib.sha1(report.source_document_id.encode()).hexdigest()[:12]
    final = staged.with_name(f"folder-{source.id}-{document_key}-{report.revision}")
    staged.replace(final)
    with pipe.tx() as session:
        item, created = enqueue(session, session.merge(source), report, staged_path=str(final), run_id=run_id)
        item_id, owner = item.id, item.staged_path
    if not created and owner != str(final):
        final.unlink(missing_ok=True)
    _move(path, path.parent / "done", source)  # only now: the row that owns the bytes is committed
    return item_id if created else None


def _report(path: Path, visit_type: str) -> Report | None:
    sidecar = path.with_name(path.name + ".json")
    if sidecar.exists():
        entry = json.loads(sidecar.read_text(encoding="utf-8"))
        entry.setdefault("filename", path.name)
        entry.setdefault("id", path.stem)
        return report_from(entry, visit_type=visit_type)
    parts = path.stem.split("_")
    if len(parts) < 4 or not parts[1].isdigit():
        return None
    return Report(source_document_id="_".join(parts[3:]), record_number=parts[0], stay=int(parts[1]),
                  document_type_code=parts[2], filename=path.name, visit_type=visit_type)


def _move(path: Path, target: Path, source) -> None:
    sidecar = path.with_name(path.name + ".json")
    if source.options.get("after") == "delete":
        path.unlink(missing_ok=True)
        sidecar.unlink(missing_ok=True)
        return
    target.mkdir(exist_ok=True)
    for file in (path, sidecar):
        if file.exists():
            shutil.move(str(file), target / file.name)
