"""The pages and the JSON API with real records, real PDFs in the blob store and a real index."""
from __future__ import annotations

import io

import openpyxl
import sqlalchemy as sa
from PIL import Image
from web_helpers import csrf_of

from bingan.storage.db import session_factory
from bingan.storage.models import AuditEvent, RecordNumberAlias


def _actions(engine) -> list[tuple[str, str]]:
    with session_factory(engine)() as session:
        return [(e.username, e.action) for e in session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id))]


def test_search_for_a_two_character_term_groups_by_record_within_scope(client_for, world):
    clinician = client_for("clinician")
    page = clinician.get("/search", params={"q": "肺炎"})
    assert page.status_code == 200
    assert "<mark>肺炎</mark>" in page.text
    numbers = {world.records[state].record_number for state in ("normal", "granted")}
    hidden = {world.records[state].record_number for state in ("sealed", "confidential", "other_department")}
    assert all(number in page.text for number in numbers)
    assert not any(number in page.text for number in hidden)


def test_search_facets_show_names_not_codes(client_for):
    page = client_for("archivist").get("/search", params={"q": "肺炎"}).text
    facets = page.split('class="facets', 1)[1].split("</aside>", 1)[0]
    assert "入院记录（" in facets and "普通（" in facets
    assert "C02（" not in facets and "normal（" not in facets


def test_search_query_errors_are_explained(client_for):
    page = client_for("archivist").get("/search", params={"q": '"肺炎'})
    assert page.status_code == 200 and 'id="search-error"' in page.text


def test_record_page_groups_documents_and_records_history(client_for, world, web_engine):
    clinician = client_for("clinician")
    record = world.records["normal"]
    page = clinician.get(f"/records/{record.id}")
    assert page.status_code == 200
    assert "首页摘要" in page.text and "入院记录" in page.text and ">电子<" in page.text
    assert record.record_number in clinician.get("/history").text
    assert ("u_clinician", "view") in _actions(web_engine)


def test_page_image_is_watermarked_jpeg_and_audited(client_for, world, web_engine):
    clinician = client_for("clinician")
    document = world.documents["normal"][0]
    response = clinician.get(f"/documents/{document.id}/pages/2/image")
    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
    image = Image.open(io.BytesIO(response.content))
    assert image.width == 1000
    assert ("u_clinician", "page_view") in _actions(web_engine)
    assert clinician.get(f"/documents/{document.id}/pages/9/image").status_code == 404


def test_leak_tracing_names_the_viewer(client_for, world):
    clinician = client_for("clinician")
    document = world.documents["normal"][0]
    leaked = clinician.get(f"/documents/{document.id}/pages/1/image").content
    secadmin = client_for("secadmin")
    form = secadmin.get("/admin/leak")
    result = secadmin.post("/admin/leak", data={"csrf_token": csrf_of(form.text)},
                           files={"file": ("photo.jpg", leaked, "image/jpeg")})
    assert result.status_code == 200
    assert "测试clinician（u_clinician）" in result.text


def test_favourite_toggle_and_list(client_for, world):
    clinician = client_for("clinician")
    record = world.records["normal"]
    token = csrf_of(clinician.get(f"/records/{record.id}").text)
    clinician.post(f"/records/{record.id}/favourite", data={"on": "true", "csrf_token": token})
    assert record.record_number in clinician.get("/favourites").text


def test_bulk_lookup_with_alias_upload_and_export(client_for, world, web_engine):
    with session_factory(web_engine)() as session, session.begin():
        session.add(RecordNumberAlias(alias="ZY-OLD-1", record_number=world.records["normal"].record_number))
    clinician = client_for("clinician")
    token = csrf_of(clinician.get("/lookup").text)
    text = f"{world.records['normal'].record_number}\nZY-OLD-1\n9999999"
    page = clinician.post("/lookup", data={"text": text, "csrf_token": token})
    assert "已找到（2）" in page.text and "未找到（1）" in page.text and "9999999" in page.text
    book = openpyxl.Workbook()
    book.active.append([world.records["other_department"].record_number])
    upload = io.BytesIO()
    book.save(upload)
    page = clinician.post("/lookup", data={"csrf_token": token},
                          files={"file": ("numbers.xlsx", upload.getvalue(), "application/octet-stream")})
    assert "无权查阅" in page.text  # found, but another department's record stays closed
    archivist = client_for("archivist")  # exporting needs record.export
    exported = archivist.post("/lookup/export",
                              data={"text": text, "csrf_token": csrf_of(archivist.get("/lookup").text)})
    sheet = openpyxl.load_workbook(io.BytesIO(exported.content))["未找到"]
    assert sheet["A2"].value == "9999999"


def test_settings_drive_results_per_page(client_for):
    archivist = client_for("archivist")
    token = csrf_of(archivist.get("/settings").text)
    response = archivist.post("/settings", data={"start_page": "/search", "per_page": "10", "sort": "discharged_desc",
                                                 "print_copies": "1", "csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    assert archivist.get("/api/v1/settings").json()["per_page"] == 10
    assert archivist.get("/", follow_redirects=False).headers["location"] == "/search"


def test_audit_viewer_filters_and_exports(client_for):
    client_for("clinician")
    auditor = client_for("auditor")
    page = auditor.get("/admin/audit", params={"username": "u_clinician", "action": "login"})
    assert page.status_code == 200 and "u_clinician" in page.text
    export = auditor.get("/admin/audit/export.xlsx", params={"username": "u_clinician"})
    sheet = openpyxl.load_workbook(io.BytesIO(export.content)).active
    assert sheet["A1"].value == "编号" and sheet["C2"].value == "u_clinician"


def test_api_record_documents_and_openapi(client_for, world):
    clinician = client_for("clinician")
    record = world.records["normal"]
    assert clinician.get(f"/api/v1/records/{record.id}").json()["record_number"] == record.record_number
    documents = clinician.get(f"/api/v1/records/{record.id}/documents").json()
    assert documents[0]["category"] == "入院记录"
    sealed = clinician.get(f"/api/v1/records/{world.records['sealed'].id}")
    assert sealed.status_code == 403 and "封存" in sealed.json()["detail"]
    assert "/api/v1/search" in clinician.get("/api/v1/openapi.json").json()["paths"]


def test_an_empty_search_shows_the_help_with_examples(client_for):
    page = client_for("archivist").get("/search").text
    assert 'id="search-help"' in page and "诊断:J18" in page


def test_lower_case_operators_offer_the_upper_case_query(client_for):
    page = client_for("archivist").get("/search", params={"q": "肺炎 or 哮喘"}).text
    assert 'id="search-suggestion"' in page and "是否要找" in page and "肺炎 OR 哮喘" in page


def test_the_search_unit_is_a_choice_of_the_form(client_for):
    page = client_for("archivist").get("/search", params={"q": "肺炎", "unit": "page"}).text
    assert '<option value="page" selected>' in page and "按页组合检索词" in page
