"""The audit viewer in Chinese: objects named as the record room names them (病案 0000001 · 入院记录),
details as key：value text without True/False or Python lists, one event per login."""
from __future__ import annotations

import io

import openpyxl
import sqlalchemy as sa
from web_helpers import csrf_headers

from bingan.storage.db import session_factory
from bingan.storage.models import AuditEvent


def audit_rows(auditor, **params) -> str:
    page = auditor.get("/admin/audit", params=params).text
    return page[page.index('id="audit-table"'):]


def test_a_page_view_names_the_record_and_the_document(client_for, world):
    document = world.documents["normal"][0]
    client_for("clinician").get(f"/documents/{document.id}/pages/1")
    rows = audit_rows(client_for("auditor"), username="u_clinician", action="view")
    assert "病案 0000001 · 入院记录 · 第1页" in rows
    assert f"document {document.id}" not in rows


def test_a_record_view_names_the_record_by_its_number(client_for, world):
    client_for("clinician").get(f"/records/{world.records['normal'].id}")
    rows = audit_rows(client_for("auditor"), username="u_clinician", action="view")
    assert "病案 0000001</a>" in rows and "record " not in rows


def test_yes_and_no_are_written_in_chinese(client_for, world):
    clinician = client_for("clinician")
    clinician.put(f"/api/v1/records/{world.records['normal'].id}/favourite", json={"on": True},
                  headers=csrf_headers(clinician))
    rows = audit_rows(client_for("auditor"), action="favourite")
    assert "收藏：是" in rows and "True" not in rows


def test_nested_details_read_as_chinese_text_not_python(client_for):
    auditor = client_for("auditor")
    auditor.get("/admin/audit", params={"username": "u_clinician", "action": "login"})
    rows = audit_rows(auditor, username="u_auditor", action="view")
    assert "筛选：（用户名：u_clinician，操作：登录）" in rows
    assert "{" not in rows and "'" not in rows


def test_the_export_has_the_same_readable_objects_and_details(client_for, world):
    client_for("clinician").get(f"/documents/{world.documents['normal'][0].id}/pages/1")
    export = client_for("auditor").get("/admin/audit/export.xlsx", params={"username": "u_clinician",
                                                                           "action": "view"})
    sheet = openpyxl.load_workbook(io.BytesIO(export.content)).active
    assert sheet["E2"].value == "病案 0000001 · 入院记录 · 第1页" and sheet["K2"].value == "版本：1"


def _actions(engine, username: str) -> list[str]:
    with session_factory(engine)() as session:
        return list(session.scalars(sa.select(AuditEvent.action).where(AuditEvent.username == username)
                                    .order_by(AuditEvent.id)))


def test_a_login_with_a_second_factor_is_one_login_event_and_one_second_factor_event(client_for, web_engine):
    client_for("auditor")  # password, then the authenticator code
    assert _actions(web_engine, "u_auditor") == ["login", "second_factor"]


def test_a_login_without_a_second_factor_is_one_login_event(client_for, web_engine):
    client_for("clinician")
    assert _actions(web_engine, "u_clinician") == ["login"]


def test_the_second_factor_step_has_its_own_name_in_the_viewer(client_for):
    rows = audit_rows(client_for("auditor"), username="u_auditor", action="second_factor")
    assert "二次验证" in rows and "方式：动态口令" in rows
