"""The watched scanner folder (扫描仪监控文件夹, C1): which files in it are complete, whose record
and category their names say, and which were filed already.

A network scanner saves into BINGAN_SCAN_WATCH_DIR. A file is named
``病案号_住院次数_分类[_序号].扩展名`` (``0100051_1_入院记录_001.jpg``; 分类 by name or code), or
lies in a folder so named (``0100051_1_入院记录/001.tif``: one folder per record and category).
A first-level folder named by an active user's username is that operator's folder: its files
count as pages that operator captured (workload) — refused unless the user holds scan.capture;
files elsewhere are captured by "扫描仪".

A file is complete when a ``<文件名>.done`` marker stands beside it, or when its size and
modification time are the same at two looks (two beat ticks) — a scanner still writing changes
both. Hidden files and names ending .tmp, .part or ~ (what scanners write before renaming) are
never looked at. ``processed/`` and ``failed/`` (where the job moves originals) are not watched.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.errors import Refusal
from bingan.records.digitisation.imports import SUFFIXES, category_named
from bingan.records.digitisation.service import document_type_of
from bingan.records.patients import canonical_record_number, find_record
from bingan.storage.models import Category, Record, User
from bingan.storage.models.digitisation import ScanFolderFile
from bingan.storage.system_settings import read_setting, write_setting

PROCESSED, FAILED = "processed", "failed"
MARKER = ".done"
SEEN = "scan.watch_seen"  # system setting: {relative path: [size, mtime_ns]} at the last look
IGNORED_ENDINGS = (".tmp", ".part", ".crdownload", "~", MARKER)
MAX_PER_TICK = 50  # files filed in one beat tick; the rest wait for the next


@dataclass(frozen=True)
class Candidate:
    """A file in the watched folder: its path, relative name and the operator folder it lies in."""

    path: Path
    relative: str
    operator: str  # username of the operator folder, "" at the top or in a record folder
    name: str  # what the naming rule reads: the file's stem, or its record folder's name


@dataclass(frozen=True)
class Target:
    record: Record
    category: Category


def candidates(root: Path, usernames: set[str]) -> Iterator[Candidate]:
    """The files waiting in the watched folder, in name order (filing order of one record's pages)."""
    for directory, folders, files in os.walk(root):
        here = Path(directory)
        if here == root:
            folders[:] = [f for f in folders if f not in (PROCESSED, FAILED)]
        folders[:] = sorted(f for f in folders if not f.startswith("."))
        for name in sorted(files):
            if name.startswith(".") or name.lower().endswith(IGNORED_ENDINGS):
                continue
            path = here / name
            parts = PurePosixPath(path.relative_to(root).as_posix()).parts
            operator = parts[0] if len(parts) > 1 and parts[0] in usernames else ""
            inner = parts[1:] if operator else parts
            yield Candidate(path, "/".join(parts), operator,
                            inner[-2] if len(inner) == 2 else (Path(name).stem if len(inner) == 1 else ""))


def ready(session: Session, found: list[Candidate]) -> list[Candidate]:
    """The files complete now: marked .done, or the same size and time as at the last look.
    Remembers this look for the others (and forgets files no longer there)."""
    seen = read_setting(session, SEEN)
    looks: dict[str, list[int]] = {}
    complete = []
    for candidate in found:
        try:
            stat = candidate.path.stat()
        except OSError:
            continue
        look = [stat.st_size, stat.st_mtime_ns]
        marked = candidate.path.with_name(candidate.path.name + MARKER).exists()
        if marked or (stat.st_size > 0 and seen.get(candidate.relative) == look):
            complete.append(candidate)
        looks[candidate.relative] = look
    if looks != seen:
        write_setting(session, SEEN, looks)
    return complete


def target_of(session: Session, name: str) -> Target:
    """The record and category a file's name (or its folder's) says; a Refusal in the record
    room's words when it says none."""
    parts = name.split("_")
    if len(parts) < 3 or not all(parts[:3]):
        raise Refusal(f"文件名“{name}”不符合命名规则“病案号_住院次数_分类_序号”（例如 0100051_1_入院记录_001.jpg），"
                      "无法确定所属病案")
    number, stay, category_text = parts[0].strip(), parts[1].strip(), parts[2].strip()
    if not stay.isdigit() or not 1 <= int(stay) <= 999:
        raise Refusal(f"文件名“{name}”中的住院次数“{stay}”不是正整数")
    record = find_record(session, canonical_record_number(session, number), int(stay), "inpatient")
    if record is None:
        raise Refusal(f"病案号 {number} 第 {int(stay)} 次住院的病案不存在，未导入")
    category = category_named(session, category_text)
    if document_type_of(session, category) is None:
        raise Refusal(f"病案分类“{category.name}”下没有可用的文书类型，无法保存扫描件")
    return Target(record, category)


def check_suffix(candidate: Candidate) -> None:
    if candidate.path.suffix.lower() not in SUFFIXES:
        raise Refusal(f"不支持的文件类型“{candidate.path.suffix or '无扩展名'}”（应为 JPEG、PNG、TIFF 或 PDF）")


def operators(session: Session) -> dict[str, User]:
    """Active users by username: the names an operator folder may have."""
    return {user.username: user for user in session.scalars(sa.select(User).where(User.active))}


def filed_before(session: Session, sha256: str) -> ScanFolderFile | None:
    return session.scalars(sa.select(ScanFolderFile).where(ScanFolderFile.sha256 == sha256)).first()


def remember(session: Session, sha256: str, candidate: Candidate, target: Target, pages: int,
             operator: User | None) -> None:
    session.add(ScanFolderFile(sha256=sha256, path=candidate.relative[:1000], record_id=target.record.id,
                               category_id=target.category.id, pages=pages,
                               operator_id=operator.id if operator else None))
