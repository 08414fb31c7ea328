"""Malformed and hostile input answered with a Chinese 4xx that changes nothing: one behaviour each,
found by fuzzing the API (tests/web/test_api_fuzz.py) and the form routes."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from web_helpers import csrf_headers, csrf_of

from bingan.storage.models import Favourite, Record, Role, Tag

POSTGRES = pytest.mark.parametrize("web_engine", ["postgresql"], indirect=True)


@pytest.fixture
def web_engine(request):
    """SQLite unless a test asks for PostgreSQL, which refuses what SQLite lets through."""
    name = getattr(request, "param", "sqlite")
    return request.getfixturevalue({"sqlite": "sqlite_engine", "postgresql": "postgres_engine"}[name])


def record_id(engine, number: str = "0000001") -> int:
    with engine.connect() as conn:
        return conn.scalar(sa.select(Record.id).where(Record.record_number == number))


def count(engine, model) -> int:
    with engine.connect() as conn:
        return conn.scalar(sa.select(sa.func.count()).select_from(model))


def test_validation_errors_name_the_field_and_reason_in_chinese(client_for):
    secadmin = client_for("secadmin")
    response = secadmin.post("/api/v1/admin/roles", json={"code": 5}, headers=csrf_headers(secadmin))
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "请求体 code：应为文本" in detail and "请求体 name：缺少必填项" in detail
    assert "Field required" not in response.text and "Input should" not in response.text


def test_malformed_json_body_is_refused_in_chinese(client_for):
    clinician = client_for("clinician")
    response = clinician.post("/api/v1/lookup", content=b'{"numbers": [', headers={
        **csrf_headers(clinician), "content-type": "application/json"})
    assert response.status_code == 422
    assert "不是合法的 JSON" in response.json()["detail"]


def test_body_of_the_wrong_content_type_is_refused_in_chinese(client_for):
    clinician = client_for("clinician")
    response = clinician.post("/api/v1/lookup", content=b"0000001", headers={
        **csrf_headers(clinician), "content-type": "text/plain"})
    assert response.status_code == 422
    assert "请求体" in response.json()["detail"]


def test_unknown_api_address_answers_chinese_404(client_for):
    response = client_for("clinician").get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json() == {"detail": "找不到请求的页面或接口"}


@POSTGRES
def test_nul_character_in_json_is_refused_before_postgresql_sees_it(client_for, web_engine):
    clinician = client_for("clinician")
    response = clinician.put(f"/api/v1/records/{record_id(web_engine)}/favourite",
                             json={"folder": "科研\x00"}, headers=csrf_headers(clinician))
    assert response.status_code == 422
    assert "NUL" in response.json()["detail"]
    assert count(web_engine, Favourite) == 0


@POSTGRES
def test_nul_character_in_a_login_form_shows_the_chinese_error_page(client_for):
    anonymous = client_for("anonymous")
    token = csrf_of(anonymous.get("/login").text)
    response = anonymous.post("/login", data={"username": "u_\x00nurse", "password": "x", "csrf_token": token})
    assert response.status_code == 422
    assert "text/html" in response.headers["content-type"] and "不允许的字符" in response.text


def test_lone_surrogate_in_json_is_refused(client_for, web_engine):
    secadmin = client_for("secadmin")
    roles_before = count(web_engine, Role)
    response = secadmin.post("/api/v1/admin/roles", content=b'{"code": "x", "name": "\\ud800"}',
                             headers={**csrf_headers(secadmin), "content-type": "application/json"})
    assert response.status_code == 422
    assert count(web_engine, Role) == roles_before


@POSTGRES
def test_id_beyond_the_integer_range_is_a_422_not_a_database_error(client_for):
    clinician, secadmin = client_for("clinician"), client_for("secadmin")
    page = clinician.get("/api/v1/records/2147483648")
    assert page.status_code == 422 and "路径参数 record_id：不能大于2147483647" in page.json()["detail"]
    grant = secadmin.post("/api/v1/admin/tag-permissions", json={"tag_id": 2**63, "role": "nurse"},
                          headers=csrf_headers(secadmin))
    assert grant.status_code == 422 and "tag_id" in grant.json()["detail"]


@POSTGRES
def test_overlong_text_is_refused_with_the_field_named(client_for, web_engine):
    clinician = client_for("clinician")
    response = clinician.put(f"/api/v1/records/{record_id(web_engine)}/favourite",
                             json={"folder": "夹" * 65}, headers=csrf_headers(clinician))
    assert response.status_code == 422
    assert "请求体 folder：不能超过64个字符" in response.json()["detail"]
    assert count(web_engine, Favourite) == 0


def test_non_ascii_digits_in_number_fields_are_ignored_not_a_500(client_for):
    clinician, auditor = client_for("clinician"), client_for("auditor")
    assert clinician.get("/api/v1/search", params={"q": "肺炎", "page": "²"}).status_code == 200
    assert auditor.get("/api/v1/audit", params={"record_id": "²"}).status_code == 200


def test_a_search_page_beyond_the_first_10000_results_is_refused_with_the_reason(client_for):
    """The index would collect every hit up to the page before skipping: page 2³¹ must not be tried."""
    response = client_for("clinician").get("/api/v1/search", params={"q": "肺炎", "page": "2147483647"})
    assert response.status_code == 400
    assert "只能翻阅前 10000 条结果" in response.json()["detail"]


def test_search_syntax_error_is_a_400_with_the_reason(client_for):
    response = client_for("clinician").get("/api/v1/search", params={"q": "出院:2026-13-45..x"})
    assert response.status_code == 400
    assert response.json()["detail"]


def test_form_field_of_the_wrong_type_shows_the_chinese_error_page(client_for, web_engine):
    secadmin = client_for("secadmin")
    token = csrf_of(secadmin.get("/admin/security").text)
    response = secadmin.post("/admin/tag-permissions", data={"tag_id": "VIP", "role": "nurse", "csrf_token": token})
    assert response.status_code == 422
    assert "text/html" in response.headers["content-type"] and "tag_id：应为整数" in response.text
    assert count(web_engine, Tag) == 1
