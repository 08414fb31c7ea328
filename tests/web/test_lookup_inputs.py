"""Bulk lookup of numbers as hospital staff bring them: Excel sheets whose numeric cells lost their
leading zeros, CSV saved by Excel on Chinese Windows (GBK), text with full-width digits, heading
rows, and 住院号 instead of 病案号. The test hospital's record numbers are 7 digits (0000001…)."""
from __future__ import annotations

import io
import re

import openpyxl
import pytest
from web_helpers import csrf_of

from bingan.config import reset_settings
from bingan.storage.db import session_factory
from bingan.storage.models import Record


@pytest.fixture
def seven_digits(monkeypatch):
    monkeypatch.setenv("BINGAN_RECORD_NUMBER_WIDTH", "7")
    reset_settings()


def _counts(html: str) -> tuple[int, int]:
    found = re.search(r"已找到（(\d+)）", html)
    missing = re.search(r"未找到（(\d+)）", html)
    assert found and missing, html
    return int(found.group(1)), int(missing.group(1))


def _upload(client, name: str, data: bytes) -> str:
    token = csrf_of(client.get("/lookup").text)
    upload = {"file": (name, data, "application/octet-stream")}
    response = client.post("/lookup", data={"csrf_token": token}, files=upload)
    assert response.status_code == 200, response.text
    return response.text


def _paste(client, text: str) -> str:
    response = client.post("/lookup", data={"text": text, "csrf_token": csrf_of(client.get("/lookup").text)})
    assert response.status_code == 200, response.text
    return response.text


def _xlsx(*rows: list) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_excel_numeric_cells_without_their_leading_zeros_are_found(client_for, seven_digits):
    sheet = _xlsx(["病案号", "姓名"], [1, "王建国"], [2.0, "李秀英"])  # Excel stores 0000001 typed as a number as 1
    html = _upload(client_for("clinician"), "出院病人.xlsx", sheet)
    assert _counts(html) == (2, 0)
    assert 'href="/records/' in html and "0000001" in html


def test_the_heading_row_of_a_sheet_is_not_a_missing_number(client_for, seven_digits):
    html = _upload(client_for("clinician"), "list.xlsx", _xlsx(["病案号"], ["0000001"], ["7654321"]))
    assert _counts(html) == (1, 1)
    assert "<li>病案号</li>" not in html and "<li>7654321</li>" in html


def test_gbk_csv_from_excel_is_read_by_its_record_number_column(client_for, seven_digits):
    data = "姓名,病案号,出院科室\r\n王建国,1,心内科\r\n李秀英,0000002,心内科\r\n".encode("gbk")
    html = _upload(client_for("clinician"), "借阅清单.csv", data)
    assert _counts(html) == (2, 0)
    assert "<li>王建国</li>" not in html


def test_full_width_digits_in_a_text_file_are_read_as_digits(client_for):
    html = _upload(client_for("clinician"), "numbers.txt", "病案号\n０００００01\n".encode())
    assert _counts(html) == (1, 0)


def test_rows_pasted_from_a_spreadsheet_use_their_number_column(client_for, seven_digits):
    html = _paste(client_for("clinician"), "姓名\t病案号\n王建国\t1\n李秀英\t2\n")
    assert _counts(html) == (2, 0)


def test_a_pasted_heading_word_is_not_a_missing_number(client_for):
    assert _counts(_paste(client_for("clinician"), "病案号\n0000001\n0000002")) == (2, 0)


def test_an_inpatient_number_finds_its_stay_and_says_so(client_for, world, web_engine):
    with session_factory(web_engine)() as session, session.begin():
        session.get(Record, world.records["normal"].id).inpatient_number = "ZY202603001"
    data = "住院号\r\nZY202603001\r\n".encode("gbk")
    html = _upload(client_for("clinician"), "住院号.csv", data)
    assert _counts(html) == (1, 0)
    assert "（住院号）" in html and world.records["normal"].record_number in html
