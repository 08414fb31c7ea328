"""Historical archive imports (历史病案批量导入, V9): what an import is made of and what became of it.

An import lists files under the configured import root — from a CSV manifest (文件路径, 病案号,
住院次数, 分类; English headers path, record_number, stay, category accepted too) or from a folder
tree laid out as <病案号>/<住院次数>/<分类>/*.tif|pdf|jpg — as entries in order. A background job
(bingan/ingest/historical.py) walks the entries: each file goes through the collection pipeline
as a scanned document of its record and category, and the entry is marked done with its pages.
A record number that matches no record, an unknown category or an unreadable file becomes a
line of the import's report (未导入原因) and never stops the import. Paths outside the import
root are refused before anything is stored.
"""
from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.access.audit import Actor, record_event
from bingan.clock import iso
from bingan.errors import Conflict, NotFound, Refusal
from bingan.records import jobs
from bingan.records.digitisation.service import document_type_of
from bingan.records.patients import canonical_record_number, find_record
from bingan.storage.models import Category, Record, User, utcnow
from bingan.storage.models.imports import ENTRY_STATES, IMPORT_STATES, ScanImport, ScanImportEntry
from bingan.storage.models.jobs import Job

JOB_KIND = "scan.import"
SUFFIXES = (".tif", ".tiff", ".pdf", ".jpg", ".jpeg", ".png")
MAX_ENTRIES = 200_000
MAX_MANIFEST = 20 * 1024 * 1024
NAME_MAX = 255  # bytes of one file or folder name (Linux)
# Manifest columns and the headers each is recognised by (Chinese first: what the record room types).
COLUMNS = {
    "path": ("文件路径", "文件", "路径", "文件名", "path", "file", "filename"),
    "record_number": ("病案号", "record_number", "record", "mrn"),
    "stay": ("住院次数", "住院次", "stay", "stay_number"),
    "category": ("分类", "病案分类", "分类代码", "category"),
}
REPORT_HEADERS = ("序号", "文件", "病案号", "住院次数", "分类", "结果", "原因", "页数")


@dataclass(frozen=True)
class Row:
    """One file as the manifest or the folder tree names it (path relative to the import root)."""

    path: str
    record_number: str
    stay: str
    category: str


# --------------------------------------------------------------------------- reading a manifest


def manifest_rows(data: bytes) -> list[Row]:
    """The rows of a CSV manifest (UTF-8, with or without BOM, or GB18030 as Excel saves it)."""
    if len(data) > MAX_MANIFEST:
        raise Refusal(f"清单文件过大（超过 {MAX_MANIFEST // 1024 // 1024} MB），请拆分后导入")
    try:
        lines = list(csv.reader(io.StringIO(_decoded(data))))
    except csv.Error as exc:
        raise Refusal(f"清单不是有效的 CSV 文件：{exc}") from exc
    if not lines:
        raise Refusal("清单文件是空的")
    where = _columns(lines[0])
    rows = [Row(*(_cell(line, where[name]) for name in COLUMNS)) for line in lines[1:] if any(c.strip() for c in line)]
    return _bounded(rows)


def _decoded(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise Refusal("清单文件不是 UTF-8 或 GBK 编码的 CSV 文件")


def _columns(header: Sequence[str]) -> dict[str, int]:
    names = [cell.strip().lower() for cell in header]
    where, missing = {}, []
    for column, known in COLUMNS.items():
        found = next((names.index(name) for name in known if name in names), None)
        if found is None:
            missing.append(known[0])
        where[column] = found
    if missing:
        raise Refusal(f"清单缺少列：{'、'.join(missing)}（第一行应为列名：文件路径,病案号,住院次数,分类）")
    return where


def _cell(line: Sequence[str], index: int) -> str:
    return line[index].strip() if index < len(line) else ""


def _bounded(rows: list[Row]) -> list[Row]:
    if not rows:
        raise Refusal("清单中没有任何文件")
    if len(rows) > MAX_ENTRIES:
        raise Refusal(f"一次最多导入 {MAX_ENTRIES} 个文件，请拆分清单")
    return rows


def rows_from(root: Path, *, upload: bytes | None = None, upload_name: str = "", manifest_path: str = "",
              folder: str = "") -> tuple[str, str, list[Row]]:
    """What an import is started from — an uploaded manifest, a manifest under the import root, or
    a folder tree under it: (kind, origin, rows)."""
    if upload:
        return "csv", upload_name or "上传的清单", manifest_rows(upload)
    if manifest_path.strip():
        path = inside_root(root, manifest_path)
        if not path.is_file():
            raise Refusal(f"导入根目录下没有清单文件“{manifest_path.strip()}”")
        return "csv", manifest_path.strip(), manifest_rows(path.read_bytes()[:MAX_MANIFEST + 1])
    if folder.strip():
        return "folder", folder.strip(), folder_rows(root, folder)
    raise Refusal("请上传导入清单（CSV），或填写导入根目录下的清单文件或文件夹")


# --------------------------------------------------------------------------- reading a folder tree


def folder_rows(root: Path, folder: str) -> list[Row]:
    """Every file of a folder tree <病案号>/<住院次数>/<分类>/<file> under ``folder``, in path order;
    a file elsewhere in the tree is listed too and reported as not following the layout."""
    top = inside_root(root, folder)
    if not top.is_dir():
        raise Refusal(f"导入根目录下没有文件夹“{folder}”")
    rows = [_tree_row(root, top, path) for path in sorted(_files(top))]  # folder by folder, as on a shelf
    return _bounded(rows)


def _files(top: Path) -> Iterator[Path]:
    for directory, _, files in os.walk(top):
        for name in files:
            if not name.startswith("."):
                yield Path(directory) / name


def _tree_row(root: Path, top: Path, path: Path) -> Row:
    parts = path.relative_to(top).parts
    relative = str(path.relative_to(root))
    if len(parts) != 4:
        return Row(relative, "", "", "")
    return Row(relative, parts[0], parts[1], parts[2])


def inside_root(root: Path, relative: str) -> Path:
    """The path named under the import root; refused when it leads outside (.., links, absolute)."""
    text = relative.strip()
    if "\x00" in text or any(len(part.encode()) > NAME_MAX for part in Path(text).parts):
        raise Refusal("路径中含有无效字符或过长的文件名")
    target = (root / text).resolve()
    if not target.is_relative_to(root.resolve()):
        raise Refusal("只能导入导入根目录下的文件和文件夹")
    return target


# --------------------------------------------------------------------------- imports


def create(session: Session, actor: Actor, owner: User | None, kind: str, origin: str,
           rows: Sequence[Row]) -> ScanImport:
    """A new import with its entries in order (the caller starts its job)."""
    scan_import = ScanImport(kind=kind, origin=origin[:500], total=len(rows), owner_id=owner.id if owner else None)
    session.add(scan_import)
    session.flush()
    session.execute(sa.insert(ScanImportEntry), [
        {"import_id": scan_import.id, "seq": seq, "path": row.path[:1000], "record_number": row.record_number[:64],
         "stay": row.stay[:16], "category": row.category[:64], "state": "waiting", "problem": "",
         "file_sha256": "", "pages": 0}
        for seq, row in enumerate(rows, start=1)])
    record_event(session, actor, "scan.import", object_type="scan_import", object_id=scan_import.id,
                 detail={"来源": origin[:200], "方式": "清单" if kind == "csv" else "文件夹", "文件数": len(rows)})
    return scan_import


def start(session: Session, actor: Actor, owner: User | None, kind: str, origin: str,
          rows: Sequence[Row]) -> ScanImport:
    """A new import and its job (queued; the worker is kicked when the caller commits)."""
    scan_import = create(session, actor, owner, kind, origin, rows)
    _start_job(session, actor, owner, scan_import)
    return scan_import


def _start_job(session: Session, actor: Actor, owner: User | None, scan_import: ScanImport) -> None:
    job = jobs.start(session, actor, JOB_KIND, {"import_id": scan_import.id}, owner=owner)
    scan_import.job_id = job.id


def import_by_id(session: Session, import_id: int) -> ScanImport:
    found = session.get(ScanImport, import_id)
    if found is None:
        raise NotFound("导入任务不存在")
    return found


def all_imports(session: Session, limit: int = 100) -> list[ScanImport]:
    return list(session.scalars(sa.select(ScanImport).order_by(ScanImport.id.desc()).limit(limit)))


def pause(session: Session, actor: Actor, scan_import: ScanImport) -> ScanImport:
    """暂停: the job stops after the entry it is on; nothing imported is undone."""
    if scan_import.state != "running":
        raise Conflict(f"导入当前为“{IMPORT_STATES[scan_import.state]}”，不能暂停")
    scan_import.state = "paused"
    record_event(session, actor, "scan.import_pause", object_type="scan_import", object_id=scan_import.id)
    return scan_import


def resume(session: Session, actor: Actor, owner: User | None, scan_import: ScanImport) -> ScanImport:
    """继续: a paused import runs again from its first entry not done — by its job if that has not
    stopped yet, else by a new one; an import whose job failed (killed three times) is resumed too."""
    job = session.get(Job, scan_import.job_id) if scan_import.job_id else None
    stopped = job is None or job.state in ("done", "failed")
    if scan_import.state == "done" or (scan_import.state == "running" and not stopped):
        raise Conflict(f"导入当前为“{IMPORT_STATES[scan_import.state]}”，不能继续")
    scan_import.state = "running"
    record_event(session, actor, "scan.import_resume", object_type="scan_import", object_id=scan_import.id)
    if stopped:
        _start_job(session, actor, owner, scan_import)
    return scan_import


def is_running(session: Session, import_id: int) -> bool:
    """Read afresh: a pause pressed on the page reaches the job at its next entry."""
    return session.scalar(sa.select(ScanImport.state).where(ScanImport.id == import_id)) == "running"


def next_waiting(session: Session, import_id: int) -> ScanImportEntry | None:
    """The first entry not done: where a stopped or killed import resumes."""
    return session.scalars(sa.select(ScanImportEntry).where(
        ScanImportEntry.import_id == import_id, ScanImportEntry.state == "waiting")
        .order_by(ScanImportEntry.seq).limit(1)).first()


def finished_count(session: Session, import_id: int) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(ScanImportEntry).where(
        ScanImportEntry.import_id == import_id, ScanImportEntry.state != "waiting")) or 0


def finish(scan_import: ScanImport) -> None:
    """Every entry walked: the import is done (its report stays)."""
    scan_import.state, scan_import.finished_at = "done", utcnow()


# --------------------------------------------------------------------------- entries


@dataclass(frozen=True)
class Target:
    """Where an entry's file files: its record and category, and the document type of the scan."""

    record: Record
    category: Category
    document_type_code: str


def target_of(session: Session, entry: ScanImportEntry) -> Target:
    """The entry's record and category, or a Refusal saying (in the report's words) why not."""
    if not entry.record_number:
        raise Refusal("缺少病案号（文件不在“病案号/住院次数/分类/文件”目录中，或清单未填写）")
    stay = entry.stay or "1"
    if not stay.isdigit() or not 1 <= int(stay) <= 999:
        raise Refusal(f"住院次数“{entry.stay}”不是正整数")
    record = find_record(session, canonical_record_number(session, entry.record_number), int(stay), "inpatient")
    if record is None:
        raise Refusal(f"病案号 {entry.record_number} 第 {stay} 次住院的病案不存在")
    category = category_named(session, entry.category)
    dtype = document_type_of(session, category)
    if dtype is None:
        raise Refusal(f"病案分类“{category.name}”下没有可用的文书类型")
    return Target(record, category, dtype.code)


def category_named(session: Session, text: str) -> Category:
    """An active category by its code or its name (folder trees use names: 病案首页, 入院记录…)."""
    text = text.strip()
    if not text:
        raise Refusal("缺少病案分类")
    found = session.scalars(sa.select(Category).where(sa.or_(Category.code == text, Category.name == text))
                            .order_by(Category.id)).first()
    if found is None or not found.active:
        raise Refusal(f"病案分类“{text}”不存在或已停用")
    return found


def file_of(root: Path, entry: ScanImportEntry) -> Path:
    """The entry's file, readable and of a kind we import; a Refusal says why not."""
    path = inside_root(root, entry.path)
    if path.suffix.lower() not in SUFFIXES:
        raise Refusal(f"不支持的文件类型“{path.suffix or '无扩展名'}”（应为 TIFF、PDF、JPEG 或 PNG）")
    try:
        readable = path.is_file() and os.access(path, os.R_OK)
        empty = readable and path.stat().st_size == 0
    except OSError as exc:
        raise Refusal(f"文件无法读取：{exc.strerror or exc}") from exc
    if not readable:
        raise Refusal("文件不存在或无法读取")
    if empty:
        raise Refusal("文件是空的")
    return path


def mark_done(entry: ScanImportEntry, record_id: int, sha256: str, item_id: int, pages: int,
              duplicate: bool = False) -> None:
    entry.state = "duplicate" if duplicate else "done"
    entry.record_id, entry.file_sha256, entry.item_id, entry.pages = record_id, sha256, item_id, pages
    entry.problem = "同一病案、同一分类已导入过内容相同的文件" if duplicate else ""
    entry.done_at = utcnow()


def mark_problem(entry: ScanImportEntry, reason: str) -> None:
    entry.state, entry.problem, entry.done_at = "problem", reason[:2000], utcnow()


# --------------------------------------------------------------------------- what the page shows


def tallies(session: Session, import_id: int) -> dict[str, int]:
    """Entries per state and the pages imported."""
    rows = session.execute(sa.select(ScanImportEntry.state, sa.func.count(), sa.func.sum(ScanImportEntry.pages))
                           .where(ScanImportEntry.import_id == import_id).group_by(ScanImportEntry.state)).all()
    counts = dict.fromkeys(ENTRY_STATES, 0)
    counts.update({state: count for state, count, _ in rows})
    counts["pages"] = sum(pages or 0 for _, _, pages in rows)
    return counts


def report(session: Session, import_id: int) -> list[ScanImportEntry]:
    """The entries not imported (and the duplicates skipped), in manifest order."""
    return list(session.scalars(sa.select(ScanImportEntry).where(
        ScanImportEntry.import_id == import_id, ScanImportEntry.state.in_(("problem", "duplicate")))
        .order_by(ScanImportEntry.seq)))


def report_cells(entry: ScanImportEntry) -> list[object]:
    return [entry.seq, entry.path, entry.record_number, entry.stay, entry.category,
            ENTRY_STATES[entry.state], entry.problem, entry.pages]


def entry_json(entry: ScanImportEntry) -> dict:
    return {"seq": entry.seq, "path": entry.path, "record_number": entry.record_number, "stay": entry.stay,
            "category": entry.category, "state": entry.state, "state_name": ENTRY_STATES[entry.state],
            "problem": entry.problem, "record_id": entry.record_id, "pages": entry.pages}


def import_json(session: Session, scan_import: ScanImport) -> dict:
    counts = tallies(session, scan_import.id)
    finished = scan_import.total - counts["waiting"]
    return {
        "id": scan_import.id, "kind": scan_import.kind, "origin": scan_import.origin,
        "state": scan_import.state, "state_name": IMPORT_STATES[scan_import.state],
        "total": scan_import.total, "finished": finished,
        "progress": round(100 * finished / scan_import.total) if scan_import.total else 100,
        "imported": counts["done"], "duplicates": counts["duplicate"], "problems": counts["problem"],
        "pages": counts["pages"], "job_id": scan_import.job_id,
        "job_url": f"/api/v1/jobs/{scan_import.job_id}" if scan_import.job_id else None,
        "report_url": f"/api/v1/imports/{scan_import.id}/report.xlsx",
        "owner": (scan_import.owner.full_name or scan_import.owner.username) if scan_import.owner else "",
        "created_at": iso(scan_import.created_at), "finished_at": iso(scan_import.finished_at),
    }
