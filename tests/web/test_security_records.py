"""Record data through the side doors (issue 9): search after an access change, the lookup export,
history and favourites, tags, personal settings. Real app, real database, real index."""
from __future__ import annotations

import io

import openpyxl
import pytest
import sqlalchemy as sa
from web_helpers import csrf_of

from bingan.records import lifecycle
from bingan.storage.db import session_factory
from bingan.storage.models import Category, Favourite, Record, Tag, User

NAMES = ["王建国", "李秀英", "张伟", "刘洋", "陈静", "赵磊"]  # tests/access/world.py, by state


def _token(client, path: str = "/settings") -> str:
    return csrf_of(client.get(path).text)


# --- H1: a restricted tag set on the record page hides the record from search at once ---------

def test_a_restricted_tag_set_in_the_ui_hides_the_record_from_search_at_once(client_for, world):
    normal = world.records["normal"]
    clinician, archivist = client_for("clinician"), client_for("archivist")
    assert normal.record_number in clinician.get("/search", params={"q": "胸闷"}).text
    response = archivist.post(f"/records/{normal.id}/tags", data={"tag": "VIP", "csrf_token": _token(archivist)},
                              follow_redirects=False)
    assert response.status_code == 303
    page = clinician.get("/search", params={"q": "胸闷"})
    assert normal.record_number not in page.text and "王建国" not in page.text
    api = clinician.get("/api/v1/search", params={"q": f"病案号:{normal.record_number}"}).json()
    assert api["records"] == []


# --- H2: the lookup export ---------------------------------------------------------------------

def _numbers(world) -> str:
    return "\n".join(record.record_number for record in world.records.values())


def test_lookup_export_needs_the_export_permission(client_for, world):
    clinician = client_for("clinician")
    response = clinician.post("/lookup/export", data={"text": _numbers(world), "csrf_token": _token(clinician)})
    assert response.status_code == 403
    assert "spreadsheet" not in response.headers.get("content-type", "")


def test_lookup_without_export_permission_returns_the_page_not_a_spreadsheet(client_for, world):
    clinician = client_for("clinician")
    response = clinician.post("/lookup", data={"text": _numbers(world), "export": "1",
                                               "csrf_token": _token(clinician)})
    assert response.headers["content-type"].startswith("text/html")
    assert "查询并导出" not in response.text  # the button is shown only to who may export


def test_lookup_export_holds_exactly_the_rows_the_page_shows(client_for, world):
    archivist = client_for("archivist")
    token = _token(archivist)
    page = archivist.post("/lookup", data={"text": _numbers(world), "csrf_token": token}).text
    exported = archivist.post("/lookup/export", data={"text": _numbers(world), "csrf_token": token})
    sheet = openpyxl.load_workbook(io.BytesIO(exported.content))["已找到"]
    rows = {row[1]: row for row in sheet.iter_rows(min_row=2, values_only=True)}
    for index, state in enumerate(world.records):
        name = NAMES[index]
        row = rows[world.records[state].record_number]
        closed = state in {"sealed", "confidential", "restricted_tag"}
        assert (row[4] == name) is not closed, state
        assert (name in page) is not closed, state
        assert (row[5] == "***") is closed and (row[6] == "无权查阅") is closed, state


def test_lookup_page_hides_the_discharge_date_of_records_the_user_may_not_open(client_for, world):
    clinician = client_for("clinician")
    other = world.records["other_department"]
    page = clinician.post("/lookup", data={"text": other.record_number, "csrf_token": _token(clinician)}).text
    assert "2026-03-14" not in page and "***" in page


# --- L5: history and favourites list only what the user may still open -------------------------

def _remember(engine, username: str, states: list[str], world) -> None:
    with session_factory(engine)() as session, session.begin():
        user = session.scalars(sa.select(User).where(User.username == username)).one()
        for state in states:
            session.add(Favourite(user_id=user.id, record_id=world.records[state].id, note=f"笔记-{state}"))


def test_favourites_api_leaves_out_records_the_user_can_no_longer_open_and_counts_them(client_for, world, web_engine):
    _remember(web_engine, "u_clinician", ["normal", "sealed", "confidential"], world)
    listed = client_for("clinician").get("/api/v1/favourites").json()
    assert [row["record_id"] for row in listed["records"]] == [world.records["normal"].id]
    assert listed["hidden"] == 2
    assert "笔记-sealed" not in str(listed)


def test_history_api_leaves_out_records_sealed_after_the_visit(client_for, world, web_engine):
    clinician = client_for("clinician")
    normal = world.records["normal"]
    assert clinician.get(f"/api/v1/records/{normal.id}").status_code == 200
    with session_factory(web_engine)() as session, session.begin():
        lifecycle.seal(session, lifecycle.SYSTEM, session.get(Record, normal.id), "医疗纠纷")
    listed = clinician.get("/api/v1/history").json()
    assert listed == {"records": [], "hidden": 1}


def test_favourites_page_says_how_many_are_hidden(client_for, world, web_engine):
    _remember(web_engine, "u_clinician", ["normal", "sealed"], world)
    page = client_for("clinician").get("/favourites").text
    assert "另有 1 条" in page and "笔记-sealed" not in page


# --- L6: tag colours ---------------------------------------------------------------------------

def test_a_tag_colour_that_is_not_a_hex_colour_is_refused_and_nothing_is_stored(client_for, web_engine):
    archivist = client_for("archivist")
    response = archivist.post("/tags", data={"name": "红色", "color": "red;background:url(//evil/x)",
                                             "csrf_token": _token(archivist, "/tags")})
    assert response.status_code == 400 and "#RRGGBB" in response.text
    with session_factory(web_engine)() as session:
        assert session.scalar(sa.select(Tag.id).where(Tag.name == "红色")) is None


def test_a_tag_colour_stored_before_the_check_is_not_rendered(client_for, world, web_engine):
    with session_factory(web_engine)() as session, session.begin():
        session.execute(sa.update(Tag).where(Tag.name == "VIP").values(color="x;background:url(//evil)"))
    page = client_for("archivist").get("/tags").text
    assert "evil" not in page
    assert "#607d8b" in page


def test_the_model_refuses_a_bad_tag_colour_from_any_writer():
    with pytest.raises(ValueError, match="#RGB"):
        Tag(name="x", color="expression(alert(1))")
    assert Tag(name="x", color="#AbC").color == "#AbC"


# --- L10: who may apply a tag may remove it -----------------------------------------------------

def test_an_archivist_removes_the_restricted_tag_they_applied(client_for, world, web_engine):
    archivist = client_for("archivist")
    normal = world.records["normal"]
    token = _token(archivist)
    archivist.post(f"/records/{normal.id}/tags", data={"tag": "VIP", "csrf_token": token})
    response = archivist.post(f"/records/{normal.id}/tags", data={"remove": "VIP", "csrf_token": token},
                              follow_redirects=False)
    assert response.status_code == 303
    with session_factory(web_engine)() as session:
        assert session.get(Record, normal.id).tags == []


def test_removing_one_restricted_tag_does_not_open_a_record_hidden_for_another_reason(client_for, world):
    archivist = client_for("archivist")
    sealed = world.records["sealed"]
    response = archivist.post(f"/records/{sealed.id}/tags", data={"remove": "VIP", "csrf_token": _token(archivist)})
    assert response.status_code == 403


def test_a_clinician_cannot_remove_a_restricted_tag(client_for, world):
    clinician = client_for("clinician")
    tagged = world.records["restricted_tag"]
    response = clinician.post(f"/records/{tagged.id}/tags", data={"remove": "VIP", "csrf_token": _token(clinician)})
    assert response.status_code == 403


# --- L11: personal settings --------------------------------------------------------------------

def _stored_preferences(engine, username: str) -> dict:
    with session_factory(engine)() as session:
        return session.scalars(sa.select(User).where(User.username == username)).one().preferences or {}


def test_settings_with_an_unknown_category_are_refused_and_nothing_is_stored(client_for, web_engine):
    clinician = client_for("clinician")
    before = _stored_preferences(web_engine, "u_clinician")
    response = clinician.post("/settings", data={"start_page": "/search", "per_page": "50", "sort": "relevance",
                                                 "print_copies": "2", "hidden": "<script>" * 1000,
                                                 "csrf_token": _token(clinician)}, follow_redirects=False)
    assert response.status_code == 400 and "分类" in response.text
    assert _stored_preferences(web_engine, "u_clinician") == before


def test_settings_with_a_non_number_are_refused_not_defaulted(client_for, web_engine):
    clinician = client_for("clinician")
    response = clinician.post("/settings", data={"start_page": "/", "per_page": "abc", "sort": "relevance",
                                                 "print_copies": "1", "csrf_token": _token(clinician)},
                              follow_redirects=False)
    assert response.status_code == 400 and "每页条数" in response.text
    assert _stored_preferences(web_engine, "u_clinician") == {}


def test_valid_settings_are_stored(client_for, web_engine):
    with session_factory(web_engine)() as session:
        code = session.scalars(sa.select(Category.code)).first()
    clinician = client_for("clinician")
    response = clinician.post("/settings", data={"start_page": "/search", "per_page": "50", "sort": "relevance",
                                                 "print_copies": "2", "hidden": [code],
                                                 "csrf_token": _token(clinician)}, follow_redirects=False)
    assert response.status_code == 303
    assert _stored_preferences(web_engine, "u_clinician")["hidden_categories"] == [code]
