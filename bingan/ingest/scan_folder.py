"""The watched scanner folder as an ingest source (timed job ``scan_folder_filed``): complete files
in BINGAN_SCAN_WATCH_DIR filed as captured pages of the record their name says, through the same
capture as the capture page (quality checks, first-review queue, scanned document, OCR, index).

Every beat tick: the files complete now (records/digitisation/watch.py says which) are read in
name order; the files of one record, category and operator are captured together as one capture
(one new version of the category's scanned document), each group in a savepoint so one bad group
spoils no other. A file whose bytes were filed before is not filed again. Once the tick commits,
originals move to ``processed/<日期>/`` or ``failed/<日期>/`` beside a ``<文件名>.原因.txt``
saying what became of them; after a rollback nothing moves and the files are tried again.
"""
from __future__ import annotations

import hashlib
import logging
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session

from bingan import clock
from bingan.access.audit import Actor
from bingan.access.policy import permissions_of
from bingan.config import get_settings
from bingan.errors import Refusal
from bingan.ingest.scans import capture_pages
from bingan.records.digitisation import images, watch
from bingan.storage.blobs.port import open_blob_store
from bingan.storage.models import User

log = logging.getLogger(__name__)
CAPTURE = "scan.capture"
SCANNER = Actor(None, "扫描仪")
PENDING_MOVES = "scan_folder.moves"


@dataclass
class _Group:
    target: watch.Target
    operator: User | None
    files: list[tuple[watch.Candidate, str, list[images.PageImage]]] = field(default_factory=list)


def file_watched_folder(session: Session, now: datetime) -> dict[str, int]:
    """One look at the watched folder; how many files were filed and how many failed."""
    root = get_settings().scan_watch_dir
    if root is None or not root.is_dir():
        return {"filed": 0, "failed": 0}
    root = root.resolve()
    users = watch.operators(session)
    complete = watch.ready(session, list(watch.candidates(root, set(users))))[:watch.MAX_PER_TICK]
    day = clock.local_date(now).isoformat()
    groups: dict[tuple[int, int, str], _Group] = {}
    failed = 0
    for candidate in complete:
        operator = users.get(candidate.operator)
        try:
            _check_operator(operator)
            data, target = _read(session, candidate)
            sha256 = hashlib.sha256(data).hexdigest()
            before = watch.filed_before(session, sha256)
            if before is not None or any(sha256 == s for g in groups.values() for _, s, _ in g.files):
                raise Refusal(_duplicate(before))
            pictures = images.read_upload(data, candidate.path.name)
        except Refusal as refusal:
            _move_later(session, root, candidate, watch.FAILED, day, str(refusal))
            failed += 1
            continue
        key = (target.record.id, target.category.id, candidate.operator)
        groups.setdefault(key, _Group(target, operator)).files.append((candidate, sha256, pictures))
    filed = 0
    for group in groups.values():
        filed += _capture(session, root, day, group)
    failed += sum(len(g.files) for g in groups.values()) - filed
    return {"filed": filed, "failed": failed}


def _check_operator(operator: User | None) -> None:
    """An operator folder files pages as that user: only for a user who may capture."""
    if operator is not None and CAPTURE not in permissions_of(operator):
        raise Refusal(f"文件夹“{operator.username}”的用户没有扫描采集权限（{CAPTURE}），文件未导入")


def _read(session: Session, candidate: watch.Candidate) -> tuple[bytes, watch.Target]:
    watch.check_suffix(candidate)
    target = watch.target_of(session, candidate.name)
    try:
        data = candidate.path.read_bytes()
    except OSError as exc:
        raise Refusal(f"文件无法读取：{exc.strerror or exc}") from exc
    if not data:
        raise Refusal("文件是空的")
    return data, target


def _duplicate(before) -> str:
    if before is None:
        return "本次扫描中有内容完全相同的另一个文件，已导入那一个，本文件未重复导入"
    when = clock.local(before.filed_at).strftime("%Y-%m-%d %H:%M")
    return f"内容完全相同的文件已于 {when} 导入（{before.path}），未重复导入"


def _capture(session: Session, root: Path, day: str, group: _Group) -> int:
    target, operator = group.target, group.operator
    actor = Actor.of(operator) if operator else SCANNER
    pictures = [picture for _, _, pictures in group.files for picture in pictures]
    try:
        with session.begin_nested():
            pages, _ = capture_pages(session, actor, open_blob_store(get_settings()), target.record,
                                     target.category, pictures)
            for candidate, sha256, pictured in group.files:
                watch.remember(session, sha256, candidate, target, len(pictured), operator)
            session.flush()
    except Refusal as refusal:
        for candidate, _, _ in group.files:
            _move_later(session, root, candidate, watch.FAILED, day, str(refusal))
        return 0
    first = 0
    record = target.record
    for candidate, _, pictured in group.files:
        numbers = [page.id for page in pages[first:first + len(pictured)]]
        first += len(pictured)
        _move_later(session, root, candidate, watch.PROCESSED, day,
                    f"已导入病案 {record.record_number} 第 {record.stay_number} 次住院“{target.category.name}”，"
                    f"{len(pictured)} 页，进入初审队列（页面编号 {'、'.join(map(str, numbers))}）")
    return len(group.files)


def _move_later(session: Session, root: Path, candidate: watch.Candidate, where: str, day: str, reason: str) -> None:
    """The original moves once the tick commits (a rollback leaves it to be tried again)."""
    moves = session.info.setdefault(PENDING_MOVES, [])
    if not event.contains(session, "after_commit", _move_all):
        event.listen(session, "after_commit", _move_all)
        event.listen(session, "after_rollback", _forget_moves)
    moves.append((candidate.path, root / where / day / candidate.relative, reason))


def _move_all(session: Session) -> None:
    for source, target, reason in session.info.pop(PENDING_MOVES, []):
        try:
            move(source, target, reason)
        except OSError:
            log.exception("watched scanner folder: could not move %s", source)


def _forget_moves(session: Session) -> None:
    session.info.pop(PENDING_MOVES, None)


def move(source: Path, target: Path, reason: str) -> Path:
    """The original (and its .done marker) moved under processed/ or failed/, never over another
    file of the same name, with ``<文件名>.原因.txt`` beside it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    n = 1
    while target.exists():
        n += 1
        target = target.with_name(f"{source.stem}({n}){source.suffix}")
    shutil.move(str(source), str(target))
    marker = source.with_name(source.name + watch.MARKER)
    if marker.exists():
        marker.unlink()
    target.with_name(target.name + ".原因.txt").write_text(reason + "\n", encoding="utf-8")
    return target
