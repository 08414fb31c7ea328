"""A reader's own tools: favourites in folders with notes, set and filtered; tags created on the
spot by whoever may manage them; the tag page's links open; error pages keep the menu; a favicon."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from test_browser_daily_work import browser_page, login, server  # noqa: F401 (fixtures)
from web_helpers import csrf_of
from world import PASSWORD

from bingan.storage.db import session_factory
from bingan.storage.models import Favourite, Record, Tag


def _favourite(client, record, **fields) -> object:
    token = csrf_of(client.get(f"/records/{record.id}").text)
    return client.post(f"/records/{record.id}/favourite", data={"on": "true", "csrf_token": token, **fields},
                       follow_redirects=False)


def _listed(html: str) -> list[str]:
    table = re.search(r'<table id="favourites">.*?</table>', html, re.S)
    return re.findall(r'<a href="/records/\d+">(\d+)</a>', table.group(0))


def test_a_favourite_is_filed_in_a_folder_with_a_note(client_for, world):
    clinician = client_for("clinician")
    _favourite(clinician, world.records["normal"], folder="肺炎病例", note="教学查房用")
    html = clinician.get("/favourites").text
    assert 'value="肺炎病例"' in html and 'value="教学查房用"' in html and "肺炎病例（1）" in html


def test_favourites_are_filtered_by_folder(client_for, world):
    clinician = client_for("clinician")
    _favourite(clinician, world.records["normal"], folder="肺炎病例")
    _favourite(clinician, world.records["granted"], folder="")
    assert _listed(clinician.get("/favourites", params={"folder": "肺炎病例"}).text) == ["0000001"]
    assert _listed(clinician.get("/favourites", params={"folder": ""}).text) == [world.records["granted"].record_number]
    assert len(_listed(clinician.get("/favourites").text)) == 2


def test_favourites_are_filtered_by_words_of_the_note(client_for, world):
    clinician = client_for("clinician")
    _favourite(clinician, world.records["normal"], note="随访病例")
    _favourite(clinician, world.records["granted"], note="科研")
    assert _listed(clinician.get("/favourites", params={"q": "随访"}).text) == ["0000001"]


def test_a_folder_changed_on_the_favourites_page_returns_to_that_page(client_for, world, web_engine):
    clinician = client_for("clinician")
    record = world.records["normal"]
    _favourite(clinician, record)
    token = csrf_of(clinician.get("/favourites").text)
    back = "/favourites?folder="
    response = clinician.post(f"/records/{record.id}/favourite", follow_redirects=False,
                              data={"on": "true", "folder": "待复核", "note": "缺出院小结", "back": back,
                                    "csrf_token": token})
    assert response.headers["location"] == back
    with session_factory(web_engine)() as session:
        favourite = session.scalars(sa.select(Favourite).where(Favourite.record_id == record.id)).one()
    assert (favourite.folder, favourite.note) == ("待复核", "缺出院小结")


def test_a_folder_name_too_long_is_refused_and_nothing_stored(client_for, world, web_engine):
    response = _favourite(client_for("clinician"), world.records["normal"], folder="文" * 65)
    assert response.status_code == 400 and "文件夹名称不能超过64个字符" in response.text
    with session_factory(web_engine)() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Favourite)) == 0


def test_the_record_page_shows_the_folder_and_note_of_its_favourite(client_for, world):
    clinician = client_for("clinician")
    _favourite(clinician, world.records["normal"], folder="肺炎病例", note="教学查房用")
    html = clinician.get(f"/records/{world.records['normal'].id}").text
    assert "★ 已收藏" in html and "肺炎病例 · 教学查房用" in html


def _tag(client, record, name: str):
    token = csrf_of(client.get(f"/records/{record.id}").text)
    return client.post(f"/records/{record.id}/tags", data={"tag": name, "csrf_token": token},
                       follow_redirects=False)


def test_the_archivist_creates_a_new_tag_on_the_spot(client_for, world, web_engine):
    response = _tag(client_for("archivist"), world.records["normal"], "疑难病例")
    assert response.status_code == 303
    with session_factory(web_engine)() as session:
        record = session.get(Record, world.records["normal"].id)
        assert [(t.name, t.restricted) for t in record.tags] == [("疑难病例", False)]


def test_a_clinician_cannot_create_a_tag_and_is_told_who_can(client_for, world, web_engine):
    response = _tag(client_for("clinician"), world.records["normal"], "疑难病例")
    assert response.status_code == 400 and "管理标签" in response.text and "病案管理员创建" not in response.text
    with session_factory(web_engine)() as session:
        assert session.scalar(sa.select(Tag.id).where(Tag.name == "疑难病例")) is None


def test_every_link_on_the_tag_page_opens_for_whoever_opens_it(client_for, world, web_engine):
    with session_factory(web_engine)() as session, session.begin():
        session.add(Tag(name="教学病例"))
    for role in ("clinician", "archivist", "sysadmin"):  # the system administrator reads no records
        client = client_for(role)
        html = client.get("/tags").text
        links = set(re.findall(r'<a href="([^"#]+)"', html[html.index("<main>"):]))
        assert any(link.startswith("/search?") for link in links) == (role != "sysadmin")
        for link in links:
            assert client.get(link).status_code == 200, f"{role} {link}"


def test_an_error_page_keeps_the_signed_in_users_menu(client_for):
    clinician = client_for("clinician")
    refused = clinician.get("/admin/users")
    missing = clinician.get("/no-such-page")
    assert refused.status_code == 403 and missing.status_code == 404
    for html in (refused.text, missing.text):
        assert 'aria-label="主菜单"' in html and 'href="/search"' in html and "u_clinician" in html


def test_an_error_page_for_a_visitor_has_no_menu(client_for):
    html = client_for("anonymous").get("/no-such-page").text
    assert 'aria-label="主菜单"' not in html


def test_the_favicon_is_linked_and_answered(client_for):
    client = client_for("anonymous")
    assert 'rel="icon" href="/static/favicon.svg"' in client.get("/login").text
    for path in ("/favicon.ico", "/static/favicon.svg"):
        response = client.get(path)
        assert response.status_code == 200 and response.headers["content-type"].startswith("image/svg+xml")


@pytest.mark.browser
def test_in_a_browser_the_menu_opens_and_a_favourite_is_filed_under_the_policy(browser_page, world):  # noqa: F811
    page, base = browser_page
    blocked: list[str] = []
    page.on("console", lambda message: blocked.append(message.text)
            if "Content Security Policy" in message.text else None)
    login(page, base, "u_clinician", PASSWORD)
    page.wait_for_selector("#recent")
    page.click("details.menu-group summary:has-text('病案查询')")
    page.click(".menu-links a:has-text('我的收藏')")
    page.wait_for_selector("nav.crumbs:has-text('我的收藏')")
    page.goto(f"{base}/records/{world.records['normal'].id}")
    page.click("#favourite-details summary")
    page.fill("#favourite-folder-form input[name=folder]", "肺炎病例")
    page.fill("#favourite-folder-form input[name=note]", "教学查房用")
    page.click("#favourite-folder-form button[type=submit]")
    page.wait_for_selector("#favourite-button:has-text('已收藏')")
    assert "肺炎病例 · 教学查房用" in page.inner_text("#favourite-details summary")
    page.goto(f"{base}/favourites?folder=肺炎病例")
    assert world.records["normal"].record_number in page.inner_text("#favourites")
    assert blocked == []
