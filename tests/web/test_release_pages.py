"""The copy window's pages through the app as the copy clerk: the window finds records (a sealed one
only as 已封存 with the reason) and allows the card-reader bridge in its Content-Security-Policy;
a form request with the card's data and photo gets its fee and keeps the photo as the ID paper;
an unarchived record is refused with the reason on the page and nothing is written; papers, pay,
print and the inline PDF for the print dialog."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "records" / "release"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "peers"))

from card_reader import card
from release_support import AGENT, run_queued_jobs

from bingan import broker
from bingan.records import lifecycle
from bingan.records.workflows import install
from bingan.storage.db import session_factory
from bingan.storage.models import Record
from bingan.storage.models.release import CopyRequest

PHOTO = b"\xff\xd8\xff\xe0" + b"JFIF-power-of-attorney" * 20


@pytest.fixture(autouse=True)
def quiet_broker(monkeypatch) -> None:
    install()
    monkeypatch.setattr(broker, "celery_app", broker.make_celery())


def _token(client) -> str:
    return client.get("/api/v1/me").json()["csrf_token"]


def _apply(client, record_id: int, **changes):
    on_card = card(AGENT["name"], AGENT["id_number"])
    form = {"csrf_token": _token(client), "record_ids": str(record_id), "applicant_type": "agent",
            "applicant_name": AGENT["name"], "applicant_id": AGENT["id_number"], "relation": "儿子",
            "card": json.dumps({k: v for k, v in on_card.items() if k != "photo"}),
            "card_photo": on_card["photo"], "scope": "package", "package": "reimbursement", "copies": "1",
            **changes}
    return client.post("/copy-window/requests", data=form, follow_redirects=False)


def test_the_window_finds_records_and_names_a_sealed_one_only_with_the_reason(client_for, world):
    page = client_for("copy_clerk").get("/copy-window", params={"department": "心内科"})
    assert page.status_code == 200
    assert "病案已封存，一律不予复印" in page.text and world.records["sealed"].patient.name not in page.text
    assert f'value="{world.records["normal"].id}"' in page.text
    assert "connect-src 'self' http://127.0.0.1:18090" in page.headers["content-security-policy"]


def test_a_form_request_gets_its_fee_and_keeps_the_card_photo_as_the_id_paper(client_for, world):
    clerk = client_for("copy_clerk")
    answer = _apply(clerk, world.records["normal"].id)
    assert answer.status_code == 303, answer.text
    page = clerk.get(answer.headers["location"])
    assert "王小明" in page.text and "（已读卡）" in page.text and 'id="fee-total">6.50<' in page.text
    assert "申请人有效身份证明" in page.text.split('id="missing-papers"')[0]  # uploaded, from the card
    assert "授权委托书" in page.text.split('id="missing-papers"')[1].split("</p>")[0]


def test_an_unarchived_record_is_refused_on_the_page_and_nothing_is_written(client_for, world, web_engine):
    with session_factory(web_engine)() as session, session.begin():
        record = session.get(Record, world.records["normal"].id)
        lifecycle.move(session, lifecycle.SYSTEM, record, "recalled", "召回修改")
    answer = _apply(client_for("copy_clerk"), world.records["normal"].id)
    assert answer.status_code == 400 and "尚未归档，不予复印" in answer.text
    assert 'value="王小明"' in answer.text  # what the clerk typed is still there
    with session_factory(web_engine)() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(CopyRequest)) == 0


def test_papers_pay_print_and_the_pdf_opens_inline_for_the_print_dialog(client_for, world, web_engine):
    clerk = client_for("copy_clerk")
    base = _apply(clerk, world.records["normal"].id).headers["location"]
    token = _token(clerk)
    clerk.post(f"{base}/papers", data={"csrf_token": token, "code": "power_of_attorney"},
               files={"file": ("委托书.jpg", PHOTO, "image/jpeg")})
    early = clerk.post(f"{base}/print", data={"csrf_token": token}, follow_redirects=False)
    assert early.status_code == 303 and "error=" in early.headers["location"]  # 请先缴费
    assert 'id="application-pdf"' in clerk.get(base).text and 'id="receipt-pdf"' not in clerk.get(base).text
    clerk.post(f"{base}/pay", data={"csrf_token": token, "method": "cash"})
    assert 'id="receipt-pdf"' in clerk.get(base).text
    clerk.post(f"{base}/print", data={"csrf_token": token})
    assert "job-progress" in clerk.get(base).text
    assert run_queued_jobs(web_engine) == ["done"]
    page = clerk.get(base)
    assert "已打印" in page.text and 'id="print-copy"' in page.text
    pdf = clerk.get(f"{base}/copy.pdf")
    assert pdf.content.startswith(b"%PDF") and pdf.headers["content-disposition"].startswith("inline")


def test_the_clerk_chooses_single_pages_on_the_window(client_for, world):
    clerk = client_for("copy_clerk")
    window = clerk.get("/copy-window", params={"department": "心内科"}).text
    admission = world.documents["normal"][0]  # 入院记录, 3 pages
    assert f'name="page_docs" value="{admission.id}"' in window and "按页复印" in window
    answer = _apply(clerk, world.records["normal"].id, scope="pages", page_docs=[str(admission.id), "999999"],
                    page_ranges=["1，3", ""], copies="2")
    assert answer.status_code == 303, answer.text
    page = clerk.get(answer.headers["location"]).text
    assert "2 页 × 2 份" in page and "1,3（2 页）" in page and 'id="fee-total">7.00<' in page


def test_single_pages_beyond_the_document_are_refused_and_what_was_typed_stays(client_for, world):
    admission = world.documents["normal"][0]
    answer = _apply(client_for("copy_clerk"), world.records["normal"].id, scope="pages",
                    page_docs=[str(admission.id)], page_ranges=["2-9"], s_department="心内科")
    assert answer.status_code == 400 and "没有第 9 页" in answer.text
    assert 'value="2-9"' in answer.text
