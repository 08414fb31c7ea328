"""The operator's and reviewer's pages of paper-record capture (数字化拍摄、初审、复审、返工) through the
app, as the test hospital's record room (病案管理员) uses them: a record opened by its label, pages
uploaded from the scanner with their quality reasons on the thumbnails, what paper is still missing,
"拍摄完成" refused with its reason, and the review queues — reject with a common reason, re-shot
from the rework queue, pass on re-review."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from web_helpers import csrf_of

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "records" / "digitisation"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "records" / "completeness"))

from completeness_support import ORDINARY, make_record
from pages import blurred, jpeg, text_page

from bingan.storage.db import session_factory
from bingan.storage.models import Patient, Record
from bingan.storage.models.digitisation import ScanPage

ADMISSION = "C02"  # 入院记录
CAPTURE = "/digitisation/capture"


@pytest.fixture
def room(client_for):
    return client_for("archivist")


@pytest.fixture
def paper_record(web_engine, world) -> int:
    """A discharged stay awaiting submission whose 入院记录 exists only on paper."""
    with session_factory(web_engine)() as session, session.begin():
        record = make_record(session, "0300001", documents=tuple(n for n in ORDINARY if n != "入院记录"))
        return record.id


@pytest.fixture(scope="module")
def sharp() -> bytes:
    return jpeg(text_page())


@pytest.fixture(scope="module")
def fuzzy() -> bytes:
    return jpeg(blurred(text_page()))


def upload(client, record_id: int, *files: tuple[str, bytes], category: str = ADMISSION):
    form = client.get(f"{CAPTURE}/{record_id}")
    return client.post(f"{CAPTURE}/{record_id}/upload", data={"csrf_token": csrf_of(form.text), "category": category},
                       files=[("files", (name, data, "image/jpeg")) for name, data in files], follow_redirects=True)


def page_ids(engine, record_id: int) -> list[int]:
    with session_factory(engine)() as session:
        return list(session.scalars(sa.select(ScanPage.id).where(ScanPage.record_id == record_id)
                                    .order_by(ScanPage.position)))


def decide(client, page_id: int, **form: str):
    queue = client.get("/digitisation/review")
    return client.post(f"/digitisation/review/pages/{page_id}", data={"csrf_token": csrf_of(queue.text), **form},
                       follow_redirects=True)


# --- opening a record ----------------------------------------------------------------------------

def test_the_label_a_barcode_scanner_types_opens_the_records_capture_page(room, paper_record):
    answer = room.get(f"{CAPTURE}?label=0300001-1", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == f"{CAPTURE}/{paper_record}"


def test_a_record_number_with_several_stays_lists_them_to_choose(room, paper_record, web_engine):
    with session_factory(web_engine)() as session, session.begin():
        first = session.get(Record, paper_record)
        session.add(Record(patient=session.get(Patient, first.patient_id), record_number="0300001", stay_number=2,
                           admission_department_id=first.admission_department_id))
    answer = room.get(f"{CAPTURE}?label=0300001")
    assert answer.status_code == 200
    assert re.findall(r"第 (\d) 次住院", answer.text.split('id="stays"')[1]) == ["1", "2"]


def test_an_unknown_label_is_answered_in_chinese_on_the_open_page(room):
    answer = room.get(f"{CAPTURE}?label=9999999-1")
    assert answer.status_code == 200 and "找不到病案“9999999-1”" in answer.text
    assert 'id="label-input"' in answer.text and "autofocus" in answer.text


def test_a_record_the_operator_may_not_capture_is_not_opened(room, world):
    answer = room.get(f"{CAPTURE}?label={world.records['sealed'].record_number}", follow_redirects=False)
    assert answer.status_code == 200 and "没有拍摄病案" in answer.text


# --- the capture page -----------------------------------------------------------------------------

def test_the_capture_page_shows_the_camera_the_missing_paper_and_the_finish_button(room, paper_record):
    answer = room.get(f"{CAPTURE}/{paper_record}")
    assert answer.status_code == 200
    html = answer.text
    assert 'id="camera-preview"' in html and '<script src="/static/digitisation.js"' in html
    assert "尚未拍摄的必需分类" in html and '<span class="missing-category">入院记录</span>' in html
    assert re.search(r'<option value="C02" selected>入院记录</option>', html)  # the first missing category
    assert 'id="finish-archive"' in html  # the record room may archive in one click (归档质控权限)
    assert "style=" not in html and "onclick" not in html  # the Content-Security-Policy holds


def test_uploaded_scanner_pages_show_as_thumbnails_with_their_quality_reasons(room, paper_record, sharp, fuzzy):
    answer = upload(room, paper_record, ("p1.jpg", sharp), ("p2.jpg", fuzzy))
    assert answer.status_code == 200 and "已保存 2 页到“入院记录”，其中 1 页有质量提示" in answer.text
    assert "必需的纸质分类均已拍摄" in answer.text
    thumbs = answer.text.split('id="pages"')[1]
    assert thumbs.count("<li class=\"scan-thumb ") == 2 and "图像模糊" in thumbs
    assert '/image?width=240' in thumbs


def test_a_multi_page_tiff_from_the_scanner_becomes_one_page_each(room, paper_record, web_engine):
    import io

    pages = [text_page(), text_page()]
    out = io.BytesIO()
    pages[0].save(out, "TIFF", save_all=True, append_images=pages[1:], compression="tiff_deflate")
    form = room.get(f"{CAPTURE}/{paper_record}")
    answer = room.post(f"{CAPTURE}/{paper_record}/upload", data={"csrf_token": csrf_of(form.text),
                                                                  "category": ADMISSION},
                       files=[("files", ("scan.tif", out.getvalue(), "image/tiff"))], follow_redirects=True)
    assert "已保存 2 页" in answer.text and len(page_ids(web_engine, paper_record)) == 2


def test_a_file_that_is_no_picture_is_refused_on_the_page_and_nothing_is_stored(room, paper_record, web_engine):
    answer = upload(room, paper_record, ("notes.jpg", "病程记录".encode()))
    assert answer.status_code == 200 and "不是 JPEG、PNG、TIFF 图像或 PDF 文件，未保存" in answer.text
    assert page_ids(web_engine, paper_record) == []


def test_the_pages_panel_is_drawn_alone_for_the_camera_script(room, paper_record, sharp):
    upload(room, paper_record, ("p1.jpg", sharp))
    answer = room.get(f"{CAPTURE}/{paper_record}/pages")
    assert answer.status_code == 200 and "<html" not in answer.text
    assert 'id="completeness"' in answer.text and answer.text.count("<li class=\"scan-thumb ") == 1


def test_finishing_while_paper_is_missing_shows_the_refusal_on_the_page(room, paper_record):
    form = room.get(f"{CAPTURE}/{paper_record}")
    answer = room.post(f"{CAPTURE}/{paper_record}/finish", data={"csrf_token": csrf_of(form.text)})
    assert answer.status_code == 200
    assert re.search(r'id="capture-error">该病案还没有拍摄任何页面，不能拍摄完成<', answer.text)


def test_finishing_with_a_page_waiting_for_its_reshot_is_refused_with_the_count(room, paper_record, sharp):
    upload(room, paper_record, ("p1.jpg", sharp))
    [page_id] = re.findall(r'data-page-id="(\d+)"', room.get(f"{CAPTURE}/{paper_record}/pages").text)
    decide(room, int(page_id), decision="reject", preset="页面倾斜")
    form = room.get(f"{CAPTURE}/{paper_record}")
    answer = room.post(f"{CAPTURE}/{paper_record}/finish", data={"csrf_token": csrf_of(form.text)})
    assert "还有 1 页被退回待重拍，重拍后才能拍摄完成" in answer.text
    assert "退回原因：页面倾斜" in answer.text


def test_the_capture_page_needs_the_scan_permission(client_for, paper_record):
    clinician = client_for("clinician")
    assert clinician.get(f"{CAPTURE}/{paper_record}").status_code == 403
    assert clinician.get(CAPTURE).status_code == 403
    assert clinician.get("/digitisation/review").status_code == 403


# --- review queues ----------------------------------------------------------------------------------

def test_the_first_review_queue_shows_flagged_pages_first_with_the_common_reasons(room, paper_record, sharp, fuzzy,
                                                                                  web_engine):
    upload(room, paper_record, ("p1.jpg", sharp), ("p2.jpg", fuzzy))
    good, bad = page_ids(web_engine, paper_record)
    html = room.get("/digitisation/review").text
    assert re.findall(r'id="review-(\d+)"', html) == [str(bad), str(good)]
    assert "⚠ 自动检查：图像模糊" in html and "自动检查未发现问题" in html
    assert 'name="preset" value="图像模糊"' in html and 'name="reason"' in html


def test_a_reviewer_rejects_with_a_common_reason_and_the_page_waits_for_its_reshot(room, paper_record, fuzzy,
                                                                                   web_engine):
    upload(room, paper_record, ("p1.jpg", fuzzy))
    [page_id] = page_ids(web_engine, paper_record)
    answer = decide(room, page_id, decision="reject", preset="图像模糊", reason="主诉一行看不清")
    assert "入院记录第 1 页已退回重拍" in answer.text and 'id="queue-empty"' in answer.text
    rework = room.get("/digitisation/review?queue=rework").text
    assert f'id="review-{page_id}"' in rework and "退回原因：图像模糊；主诉一行看不清" in rework


def test_a_rejection_without_a_reason_is_refused_in_its_queue_and_changes_nothing(room, paper_record, sharp,
                                                                                  web_engine):
    upload(room, paper_record, ("p1.jpg", sharp))
    [page_id] = page_ids(web_engine, paper_record)
    answer = decide(room, page_id, decision="reject")
    assert "退回重拍必须填写原因" in answer.text and f'id="review-{page_id}"' in answer.text


def test_a_page_reshot_from_the_rework_queue_passes_re_review(room, paper_record, sharp, fuzzy, web_engine):
    upload(room, paper_record, ("p1.jpg", fuzzy))
    [page_id] = page_ids(web_engine, paper_record)
    decide(room, page_id, decision="reject", preset="图像模糊")
    rework = room.get("/digitisation/review?queue=rework")
    answer = room.post(f"/digitisation/review/pages/{page_id}/reshoot", data={"csrf_token": csrf_of(rework.text)},
                       files={"file": ("again.jpg", sharp, "image/jpeg")}, follow_redirects=True)
    assert "入院记录第 1 页已重拍，进入复审" in answer.text
    re_review = room.get("/digitisation/review?queue=re").text
    assert f'id="review-{page_id}"' in re_review and "已重拍 1 次" in re_review
    assert "入院记录第 1 页已通过" in decide(room, page_id, decision="pass").text
    with session_factory(web_engine)() as session:
        assert session.get(ScanPage, page_id).state == "passed"


def test_the_menu_shows_capture_and_the_queues_with_their_counts(room, paper_record, sharp):
    upload(room, paper_record, ("p1.jpg", sharp))
    menu = room.get("/?home=1").text.split('aria-label="主菜单"')[1].split("</nav>")[0]
    assert "数字化加工" in menu and f'href="{CAPTURE}"' in menu
    assert re.search(r'href="/digitisation/review">初审 <span class="count">1</span>', menu)
    assert 'href="/digitisation/review?queue=rework">返工（待重拍）' in menu


def test_the_menu_has_no_capture_for_roles_without_the_scan_permission(client_for):
    assert "数字化加工" not in client_for("clinician").get("/?home=1").text
