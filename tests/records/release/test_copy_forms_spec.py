"""A copy request's paper forms (issue 15 item 3) read back from the PDF: the receipt names the
request, the applicant, each fee line and page count, the amounts in yuan (and in capitals), the
payment and the clerk; the application form carries the applicant's data and type, the records,
the papers shown and missing, and the ID card images."""
from __future__ import annotations

import base64
import sys
from pathlib import Path

import pypdfium2
import pytest
from release_support import AGENT, POLICE

from bingan.access.audit import Actor
from bingan.config import get_settings
from bingan.errors import Conflict
from bingan.records.release import forms, service
from bingan.storage.blobs.port import open_blob_store

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "peers"))
from card_reader import card

HOSPITAL = "示例市第一人民医院"


# The People's Bank's rules for written amounts: a 0 in the yuan place before a non-zero 角 may be
# written or not (壹仟元伍角); zeros inside the integer are one 零 (壹万零伍元).
@pytest.mark.parametrize(("fen", "words"), [
    (0, "零元整"), (5, "伍分"), (50, "伍角整"), (650, "陆元伍角整"), (1005, "壹拾元零伍分"),
    (10000, "壹佰元整"), (100_050, "壹仟元伍角整"), (1_000_500, "壹万零伍元整"),
    (12_345_678, "壹拾贰万叁仟肆佰伍拾陆元柒角捌分"),
])
def test_amounts_in_capitals_are_as_a_cashier_writes_them(fen, words):
    assert forms.capital_yuan(fen) == words


def _actor(world) -> Actor:
    return Actor.of(world.users["copy_clerk"], "127.0.0.1")


def _apply(session, world, applicant=AGENT, **what) -> service.CopyRequest:
    record = world.records["normal"]
    form = service.CopyForm(applicant=service.Applicant(**applicant), record_ids=[record.id], **what)
    request = service.create_request(session, _actor(world), world.users["copy_clerk"], [record], form)
    session.commit()
    return request


def _text(pdf: bytes) -> str:
    document = pypdfium2.PdfDocument(pdf)
    try:
        return "\n".join(page.get_textpage().get_text_range() for page in document).replace(" ", "")
    finally:
        document.close()


def _images(pdf: bytes) -> int:
    document = pypdfium2.PdfDocument(pdf)
    try:
        return sum(1 for page in document for obj in page.get_objects() if obj.type == pypdfium2.raw.FPDF_PAGEOBJ_IMAGE)
    finally:
        document.close()


def test_the_receipt_names_the_request_the_items_the_amounts_the_payment_and_the_clerk(session, world):
    request = _apply(session, world, package="reimbursement", copies=2)
    service.pay(session, _actor(world), world.users["copy_clerk"], request, "online", "WX20260401001")
    text = _text(forms.receipt_pdf(session, request, HOSPITAL))
    assert f"{HOSPITAL}病案复印收费收据" in text and f"复印申请编号：{request.id}" in text
    assert "王小明（患者代理人）" in text and "110105********0016" in text
    assert "1份病案，共6页，复印2份" in text and "复印费12页0.506.00" in text and "调档费1份病案5.005.00" in text
    assert "合计11.00" in text and "人民币壹拾壹元整" in text
    assert "缴费方式：线上支付" in text and "WX20260401001" in text
    clerk = world.users["copy_clerk"]
    assert f"收费员：{clerk.full_name or clerk.username}" in text


def test_an_unpaid_or_free_request_has_no_receipt(session, world):
    with pytest.raises(Conflict, match="尚未缴费"):
        forms.receipt_pdf(session, _apply(session, world, package="reimbursement"), HOSPITAL)
    with pytest.raises(Conflict, match="免费办理"):
        forms.receipt_pdf(session, _apply(session, world, applicant=POLICE, categories=["住院病案首页"]), HOSPITAL)


def test_the_application_form_carries_the_applicant_the_records_the_papers_and_the_id_images(session, world):
    on_card = card(AGENT["name"], AGENT["id_number"])
    request = _apply(session, world, applicant={**AGENT, "card": {k: v for k, v in on_card.items() if k != "photo"}},
                     package="reimbursement", purpose="医保报销")
    store = open_blob_store(get_settings())
    service.add_paper(session, _actor(world), world.users["copy_clerk"], store, request, service.ID_PHOTO,
                      base64.b64decode(on_card["photo"]), "image/jpeg")
    session.commit()

    def read(sha256: str) -> bytes:
        with store.open(sha256) as stream:
            return stream.read()

    pdf = forms.application_pdf(session, request, HOSPITAL, read)
    text = _text(pdf)
    assert f"{HOSPITAL}病案复印申请表" in text and "申请人类型：患者代理人" in text
    assert "姓名：王小明" in text and "身份证号：110105198001010016" in text and "与患者关系：儿子" in text
    assert "住址北京市朝阳区建国路1号" in text and "复印用途：医保报销" in text
    assert f"病案号{world.records['normal'].record_number}" in text and "套餐“报销套餐”" in text
    assert "【已提供】申请人有效身份证明" in text and "【尚缺】授权委托书" in text
    assert "四、身份证明图像" in text and _images(pdf) == 1
