"""The watched scanner folder on SQLite and PostgreSQL (扫描仪监控文件夹, issue 16 item 1), on a real
folder: a complete file named 病案号_住院次数_分类_序号 becomes captured pages of that record in the
first-review queue and moves to processed/ with a note; a half-written file waits until its size
stands still (or its .done marker appears); an unmatched name or a duplicate goes to failed/ with
its reason in Chinese; multi-page TIFF and PDF give one page each; an operator's folder credits the
operator."""
from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
from completeness_support import make_record
from pages import jpeg, text_page

from bingan.config import get_settings, reset_settings
from bingan.ingest.scan_folder import file_watched_folder
from bingan.storage.db import session_factory
from bingan.storage.models import utcnow
from bingan.storage.models.digitisation import ScanFolderFile, ScanPage
from bingan.worker.timed import TIMED_JOBS


@pytest.fixture
def folder(tmp_path, monkeypatch):
    path = tmp_path / "scanner"
    path.mkdir()
    monkeypatch.setenv("BINGAN_SCAN_WATCH_DIR", str(path))
    reset_settings()
    return path


@pytest.fixture
def record(session, world):
    found = make_record(session, "0100051", documents=())
    session.commit()
    return found


def tick(session) -> dict[str, int]:
    """One beat tick of the job, in its own transaction as the worker runs it."""
    with session_factory(session.get_bind()).begin() as own:
        result = file_watched_folder(own, utcnow())
    session.rollback()  # the test's session reads afresh what the tick committed
    return result


def pages_of(session, record) -> list[ScanPage]:
    return list(session.scalars(sa.select(ScanPage).where(ScanPage.record_id == record.id).order_by(ScanPage.id)))


def only(folder, where: str, pattern: str = "*"):
    return sorted(p for p in (folder / where).rglob(pattern) if p.is_file())


def page_bytes(kind: str = "JPEG", count: int = 1) -> bytes:
    frames = [text_page() for _ in range(count)]
    if kind == "JPEG":
        return jpeg(frames[0])
    out = io.BytesIO()
    frames[0].save(out, kind, save_all=True, append_images=frames[1:], **({"resolution": 150} if kind == "PDF" else {}))
    return out.getvalue()


def test_the_job_is_one_of_the_workers_timed_jobs():
    assert TIMED_JOBS["scan_folder_filed"] is file_watched_folder


def test_a_complete_file_named_by_the_record_becomes_a_page_in_first_review_and_moves_to_processed(
        session, folder, record):
    (folder / "0100051_1_入院记录_001.jpg").write_bytes(page_bytes())
    assert tick(session) == {"filed": 0, "failed": 0}  # first look: size noted, not yet trusted
    assert tick(session) == {"filed": 1, "failed": 0}
    [page] = pages_of(session, record)
    assert (page.state, page.category.name, page.captured_by_id) == ("first", "入院记录", None)
    assert not (folder / "0100051_1_入院记录_001.jpg").exists()
    [moved, note] = only(folder, "processed")
    assert moved.name == "0100051_1_入院记录_001.jpg"
    assert "已导入病案 0100051 第 1 次住院“入院记录”，1 页" in note.read_text(encoding="utf-8")


def test_a_half_written_file_is_left_alone_until_its_size_stands_still(session, folder, record):
    data = page_bytes()
    path = folder / "0100051_1_入院记录_001.jpg"
    path.write_bytes(data[:4000])
    tick(session)
    path.write_bytes(data)  # the scanner wrote on between two looks
    assert tick(session) == {"filed": 0, "failed": 0}
    assert path.exists() and pages_of(session, record) == []
    assert tick(session) == {"filed": 1, "failed": 0}
    assert len(pages_of(session, record)) == 1


def test_a_done_marker_files_the_file_at_the_first_look_and_leaves_with_it(session, folder, record):
    (folder / "0100051_1_入院记录_001.jpg").write_bytes(page_bytes())
    (folder / "0100051_1_入院记录_001.jpg.done").write_bytes(b"")
    assert tick(session) == {"filed": 1, "failed": 0}
    assert list(folder.glob("*")) == [folder / "processed"]


def test_a_name_that_follows_no_rule_or_names_no_record_goes_to_failed_with_its_reason(session, folder, record):
    (folder / "IMG_0001.jpg").write_bytes(page_bytes())
    (folder / "0999999_1_入院记录_001.jpg").write_bytes(page_bytes())
    (folder / "0100051_1_入院记录_002.bmp").write_bytes(b"BM....")
    tick(session)
    assert tick(session) == {"filed": 0, "failed": 3}
    reasons = {p.name: p.read_text(encoding="utf-8") for p in only(folder, "failed", "*.原因.txt")}
    assert "不符合命名规则" in reasons["IMG_0001.jpg.原因.txt"]
    assert "病案号 0999999 第 1 次住院的病案不存在" in reasons["0999999_1_入院记录_001.jpg.原因.txt"]
    assert "不支持的文件类型“.bmp”" in reasons["0100051_1_入院记录_002.bmp.原因.txt"]
    assert pages_of(session, record) == [] and not list(folder.glob("*.jpg"))


def test_a_file_filed_once_is_never_filed_again_under_another_name(session, folder, record):
    data = page_bytes()
    (folder / "0100051_1_入院记录_001.jpg").write_bytes(data)
    (folder / "0100051_1_入院记录_001.jpg.done").touch()
    tick(session)
    (folder / "0100051_1_入院记录_009.jpg").write_bytes(data)  # the same sheet saved again
    (folder / "0100051_1_入院记录_009.jpg.done").touch()
    assert tick(session) == {"filed": 0, "failed": 1}
    assert len(pages_of(session, record)) == 1
    [note] = only(folder, "failed", "*.原因.txt")
    assert "未重复导入" in note.read_text(encoding="utf-8") and "0100051_1_入院记录_001.jpg" in note.read_text(
        encoding="utf-8")
    assert session.scalar(sa.select(sa.func.count()).select_from(ScanFolderFile)) == 1


def test_a_multi_page_tiff_and_a_pdf_give_one_page_each_in_name_order(session, folder, record):
    (folder / "0100051_1_入院记录_001.tif").write_bytes(page_bytes("TIFF", 3))
    (folder / "0100051_1_入院记录_002.pdf").write_bytes(page_bytes("PDF", 2))
    tick(session)
    assert tick(session) == {"filed": 2, "failed": 0}
    pages = pages_of(session, record)
    assert [page.position for page in pages] == [1, 2, 3, 4, 5]
    filed = {row.path: row.pages for row in session.scalars(sa.select(ScanFolderFile))}
    assert filed == {"0100051_1_入院记录_001.tif": 3, "0100051_1_入院记录_002.pdf": 2}


def test_an_operators_folder_credits_the_operator_and_a_record_folder_names_the_record(session, folder, world, record):
    operator = world.users["archivist"]
    (folder / operator.username / "0100051_1_入院记录").mkdir(parents=True)
    (folder / operator.username / "0100051_1_入院记录" / "001.jpg").write_bytes(page_bytes())
    tick(session)
    assert tick(session) == {"filed": 1, "failed": 0}
    [page] = pages_of(session, record)
    assert page.captured_by_id == operator.id
    assert only(folder, "processed")[0].relative_to(folder / "processed").parts[1:] == (
        operator.username, "0100051_1_入院记录", "001.jpg")


def test_a_folder_of_a_user_who_may_not_capture_files_nothing_and_says_why(session, folder, world, record):
    clinician = world.users["clinician"]
    (folder / clinician.username).mkdir()
    (folder / clinician.username / "0100051_1_入院记录_001.jpg").write_bytes(page_bytes())
    tick(session)
    assert tick(session) == {"filed": 0, "failed": 1}
    assert pages_of(session, record) == []
    [note] = only(folder, "failed", "*.原因.txt")
    assert f"文件夹“{clinician.username}”的用户没有扫描采集权限" in note.read_text(encoding="utf-8")


def test_without_a_watched_folder_configured_nothing_is_looked_at(session, world):
    assert get_settings().scan_watch_dir is None
    assert tick(session) == {"filed": 0, "failed": 0}
