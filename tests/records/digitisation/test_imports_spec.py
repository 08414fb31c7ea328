"""Historical imports on SQLite and PostgreSQL (历史病案批量导入, V9): manifests (Chinese or English
headers, UTF-8 or GBK) and folder trees read into entries, paths kept under the import root, each
file a scanned document of its record and category with its pages indexed, what cannot be
imported reported (never stopping the import), a file imported once however often it is listed
or re-run, pause and resume from the first entry not done."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from completeness_support import make_record

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "ingest"))

from ingest_support import pdf

from bingan.access.audit import Actor
from bingan.config import get_settings
from bingan.errors import Conflict, Refusal
from bingan.formats import guard
from bingan.ingest.historical import HISTORICAL_IMPORT
from bingan.records.digitisation import imports
from bingan.records.jobs import register, run_job, unregister
from bingan.search.factory import open_search_index
from bingan.search.port import Scope
from bingan.storage.blobs.port import open_blob_store
from bingan.storage.models import AuditEvent, Document, DocumentType, Page, User, Version
from bingan.storage.models.imports import ScanImport, ScanImportEntry

MANIFEST = "文件路径,病案号,住院次数,分类\n{rows}"


@pytest.fixture(scope="module", autouse=True)
def _no_pool_children_left():
    yield
    guard.close_shared_pool()


@pytest.fixture(autouse=True)
def _import_kind():
    register(HISTORICAL_IMPORT)
    yield
    unregister(HISTORICAL_IMPORT.code)


@pytest.fixture
def operator(world) -> Actor:
    return Actor.of(world.users["archivist"], "10.0.0.9")


@pytest.fixture
def record(session, world):
    found = make_record(session, "0300001", documents=())
    session.commit()
    return found


@pytest.fixture
def root() -> Path:
    path = get_settings().resolved_import_root
    path.mkdir(parents=True, exist_ok=True)
    return path


def put(root: Path, relative: str, data: bytes) -> str:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return relative


def manifest(*rows: str) -> bytes:
    return MANIFEST.format(rows="\n".join(rows)).encode()


def start(session, operator, root, **source) -> ScanImport:
    kind, origin, rows = imports.rows_from(root, **source)
    scan_import = imports.start(session, operator, operator_user(session, operator), kind, origin, rows)
    session.commit()
    return scan_import


def operator_user(session, operator) -> User:
    return session.get(User, operator.user_id)


def run(session, scan_import: ScanImport) -> ScanImport:
    assert run_job(session.get_bind(), open_blob_store(get_settings()), scan_import.job_id) == "done"
    session.expire_all()
    return session.get(ScanImport, scan_import.id)


def entries(session, scan_import) -> list[ScanImportEntry]:
    return list(session.scalars(sa.select(ScanImportEntry).where(ScanImportEntry.import_id == scan_import.id)
                                .order_by(ScanImportEntry.seq)))


def scanned_pages(session, record) -> int:
    current = sa.select(Document.current_version_id).where(Document.record_id == record.id,
                                                            Document.origin == "scanned")
    return session.scalar(sa.select(sa.func.count()).select_from(Page).where(Page.version_id.in_(current)))


# --- reading manifests and folder trees -------------------------------------------------------------

def test_a_manifest_with_chinese_headers_lists_its_files_in_order():
    rows = imports.manifest_rows(manifest("a/1.pdf,0300001,1,入院记录", "a/2.tif, 0300001 ,2,C02"))
    assert rows == [imports.Row("a/1.pdf", "0300001", "1", "入院记录"), imports.Row("a/2.tif", "0300001", "2", "C02")]


def test_english_headers_and_a_gbk_manifest_as_excel_saves_it_are_read():
    english = imports.manifest_rows(b"record_number,stay,category,path\n0300001,1,C02,x.pdf\n")
    gbk = imports.manifest_rows("病案号,住院次数,分类,文件路径\n0300001,1,病案首页,扫描/首页.pdf\n".encode("gb18030"))
    assert english == [imports.Row("x.pdf", "0300001", "1", "C02")]
    assert gbk == [imports.Row("扫描/首页.pdf", "0300001", "1", "病案首页")]


def test_a_manifest_without_a_record_number_column_or_without_files_is_refused():
    with pytest.raises(Refusal, match="清单缺少列：病案号"):
        imports.manifest_rows("文件路径,住院次数,分类\na.pdf,1,C02\n".encode())
    with pytest.raises(Refusal, match="没有任何文件"):
        imports.manifest_rows(manifest())


def test_a_folder_tree_gives_record_stay_and_category_from_its_folders(root):
    put(root, "1998/0300001/1/入院记录/002.pdf", b"%PDF")
    put(root, "1998/0300001/1/入院记录/001.pdf", b"%PDF")
    put(root, "1998/loose.pdf", b"%PDF")
    rows = imports.folder_rows(root, "1998")
    assert rows == [imports.Row("1998/0300001/1/入院记录/001.pdf", "0300001", "1", "入院记录"),
                    imports.Row("1998/0300001/1/入院记录/002.pdf", "0300001", "1", "入院记录"),
                    imports.Row("1998/loose.pdf", "", "", "")]


def test_folders_and_manifests_outside_the_import_root_are_refused(root, tmp_path):
    (tmp_path / "elsewhere").mkdir()
    for source in ({"folder": "../elsewhere"}, {"folder": str(tmp_path / "elsewhere")},
                   {"manifest_path": "../../etc/passwd"}):
        with pytest.raises(Refusal, match="只能导入导入根目录下的文件和文件夹"):
            imports.rows_from(root, **source)
    with pytest.raises(Refusal, match="请上传导入清单"):
        imports.rows_from(root)


# --- running an import ------------------------------------------------------------------------------

def test_each_file_becomes_a_scanned_document_of_its_record_and_category_with_its_pages_indexed(
        session, operator, record, root):
    first = put(root, "a/1.pdf", pdf([["入院记录 历史扫描 甲子页"], ["第二页 乙丑页"]]))
    second = put(root, "a/2.pdf", pdf([["病程 丙寅页"]]))
    scan_import = run(session, start(session, operator, root, upload=manifest(
        f"{first},0300001,1,入院记录", f"{second},0300001,1,C02")))
    assert scan_import.state == "done"
    assert [(e.state, e.pages, e.record_id) for e in entries(session, scan_import)] == [
        ("done", 2, record.id), ("done", 1, record.id)]
    documents = session.scalars(sa.select(Document).where(Document.record_id == record.id)).all()
    assert {(d.origin, d.title) for d in documents} == {("scanned", "入院记录（历史扫描）")}
    assert {session.get(DocumentType, d.document_type_id).category.code for d in documents} == {"C02"}
    index = open_search_index(get_settings())
    try:
        assert index.search("乙丑页", Scope.everything()).total == 1
    finally:
        index.close()


def test_unmatched_records_unknown_categories_and_unreadable_files_go_to_the_report(
        session, operator, record, root):
    good = put(root, "b/good.pdf", pdf([["好的一页"]]))
    broken = put(root, "b/broken.pdf", b"%PDF-1.4 this is no pdf at all")
    scan_import = run(session, start(session, operator, root, upload=manifest(
        f"{good},0999999,1,C02", f"{good},0300001,1,不存在的分类", "b/missing.pdf,0300001,1,C02",
        f"{broken},0300001,1,C02", "b/notes.txt,0300001,1,C02", "../outside.pdf,0300001,1,C02",
        f"{good},0300001,x,C02", f"{good},0300001,1,C02")))
    assert scan_import.state == "done"
    problems = [(e.state, e.problem) for e in entries(session, scan_import)]
    assert problems[-1] == ("done", "")
    assert [state for state, _ in problems[:-1]] == ["problem"] * 7
    reasons = [reason for _, reason in problems[:-1]]
    assert "病案号 0999999 第 1 次住院的病案不存在" in reasons[0]
    assert "病案分类“不存在的分类”不存在或已停用" in reasons[1]
    assert "文件不存在或无法读取" in reasons[2]
    assert "文件无法解析" in reasons[3]
    assert "不支持的文件类型“.txt”" in reasons[4]
    assert "只能导入导入根目录下的文件和文件夹" in reasons[5]
    assert "住院次数“x”不是正整数" in reasons[6]
    assert scanned_pages(session, record) == 1


def test_the_report_lists_what_was_not_imported_with_its_reason(session, operator, record, root):
    scan_import = run(session, start(session, operator, root, upload=manifest("c/none.pdf,0999999,2,C02")))
    assert [imports.report_cells(e) for e in imports.report(session, scan_import.id)] == [
        [1, "c/none.pdf", "0999999", "2", "C02", "未导入", "病案号 0999999 第 2 次住院的病案不存在", 0]]


def test_a_file_listed_twice_or_imported_again_is_imported_once(session, operator, record, root):
    page = put(root, "d/page.pdf", pdf([["只导入一次的页面"]]))
    once = run(session, start(session, operator, root, upload=manifest(f"{page},0300001,1,C02",
                                                                        f"{page},0300001,1,入院记录")))
    again = run(session, start(session, operator, root, upload=manifest(f"{page},0300001,1,C02")))
    assert [(e.state, e.pages) for e in entries(session, once)] == [("done", 1), ("duplicate", 0)]
    assert [e.state for e in entries(session, again)] == ["duplicate"]
    assert scanned_pages(session, record) == 1
    assert session.scalar(sa.select(sa.func.count()).select_from(Version)) == 1


def test_an_entry_stopped_before_it_was_marked_done_is_finished_without_doubling(session, operator, record, root):
    first = put(root, "e/1.pdf", pdf([["甲"], ["乙"]]))
    second = put(root, "e/2.pdf", pdf([["丙"]]))
    scan_import = run(session, start(session, operator, root, upload=manifest(f"{first},0300001,1,C02",
                                                                               f"{second},0300001,1,C02")))
    last = entries(session, scan_import)[-1]  # as if killed after the pipeline committed, before "done"
    last.state, last.item_id, last.pages = "waiting", None, 0
    scan_import.state = "running"
    imports.resume(session, operator, operator_user(session, operator), scan_import)
    session.commit()
    scan_import = run(session, scan_import)
    assert [(e.state, e.pages) for e in entries(session, scan_import)] == [("done", 2), ("done", 1)]
    assert scanned_pages(session, record) == 3


def test_a_paused_import_stops_and_resumes_at_the_first_entry_not_done(session, operator, record, root):
    page = put(root, "f/1.pdf", pdf([["暂停后继续"]]))
    scan_import = start(session, operator, root, upload=manifest(f"{page},0300001,1,C02", "f/x.pdf,0300001,1,C02"))
    imports.pause(session, operator, scan_import)
    session.commit()
    scan_import = run(session, scan_import)
    assert scan_import.state == "paused"
    assert [e.state for e in entries(session, scan_import)] == ["waiting", "waiting"]
    first_job = scan_import.job_id
    imports.resume(session, operator, operator_user(session, operator), scan_import)
    session.commit()
    assert scan_import.job_id != first_job
    scan_import = run(session, scan_import)
    assert scan_import.state == "done"
    assert [e.state for e in entries(session, scan_import)] == ["done", "problem"]


def test_pause_and_resume_are_refused_where_they_mean_nothing(session, operator, record, root):
    scan_import = run(session, start(session, operator, root, upload=manifest("g/x.pdf,0300001,1,C02")))
    with pytest.raises(Conflict, match="已完成"):
        imports.pause(session, operator, scan_import)
    with pytest.raises(Conflict, match="已完成"):
        imports.resume(session, operator, None, scan_import)
    running = start(session, operator, root, upload=manifest("g/y.pdf,0300001,1,C02"))
    with pytest.raises(Conflict, match="导入中"):
        imports.resume(session, operator, None, running)


def test_starting_an_import_is_audited_with_its_source_and_size(session, operator, record, root):
    start(session, operator, root, upload=manifest("h/1.pdf,0300001,1,C02", "h/2.pdf,0300001,1,C02"),
          upload_name="1998年清单.csv")
    detail = session.scalars(sa.select(AuditEvent.detail).where(AuditEvent.action == "scan.import")).one()
    assert detail == {"来源": "1998年清单.csv", "方式": "清单", "文件数": 2}
