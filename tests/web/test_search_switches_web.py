"""The search form's switches 排除否定描述 and 同义词扩展, and the page where the record room
edits the synonym dictionary (检索词典)."""
from __future__ import annotations

import re

import sqlalchemy as sa
from web_helpers import csrf_of, index_world

from bingan.storage.db import session_factory
from bingan.storage.models import AuditEvent, Page, SynonymGroup


def _record_numbers(html: str) -> set[str]:
    return set(re.findall(r'class="record-link">(\d+) ·', html))


def _add_text(engine, world, additions: dict[str, str]) -> None:
    """Append a sentence to the first page of the named records and index them again."""
    with session_factory(engine)() as session, session.begin():
        for state, sentence in additions.items():
            version_id = world.documents[state][0].current_version_id
            page = session.scalars(sa.select(Page).where(Page.version_id == version_id, Page.number == 1)).one()
            page.text += "\n" + sentence
    index_world(engine)


def test_excluding_negations_drops_a_record_whose_only_mention_is_denied(client_for, world, web_engine):
    _add_text(web_engine, world, {"normal": "既往史：否认结核病史。", "other_department": "肺结核病史10年。"})
    archivist = client_for("archivist")
    normal, other = world.records["normal"].record_number, world.records["other_department"].record_number
    assert {normal, other} <= _record_numbers(archivist.get("/search", params={"q": "结核"}).text)
    page = archivist.get("/search", params={"q": "结核", "affirmed": "1"}).text
    assert other in _record_numbers(page) and normal not in _record_numbers(page)
    assert 'name="affirmed" value="1" checked' in page


def test_synonym_expansion_finds_the_full_name_for_a_short_form(client_for, world):
    archivist = client_for("archivist")  # the pages say 冠状动脉粥样硬化性心脏病, never 冠心病
    assert _record_numbers(archivist.get("/search", params={"q": "冠心病"}).text) == set()
    page = archivist.get("/search", params={"q": "冠心病", "synonyms": "1"}).text
    assert world.records["normal"].record_number in _record_numbers(page)


def test_a_search_with_a_switch_on_says_so_in_the_audit_trail(client_for, web_engine):
    client_for("archivist").get("/search", params={"q": "冠心病", "synonyms": "1", "affirmed": "1"})
    with session_factory(web_engine)() as session:
        event = session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "search")
                                .order_by(AuditEvent.id.desc())).first()
    assert event.detail["同义词扩展"] == "是" and event.detail["排除否定描述"] == "是"


def test_the_record_room_adds_edits_and_deletes_groups(client_for, web_engine):
    archivist = client_for("archivist")
    page = archivist.get("/admin/synonyms")
    assert page.status_code == 200 and "心衰、心力衰竭、心功能不全" in page.text
    added = archivist.post("/admin/synonyms",
                           data={"terms": "心梗后综合征，Dressler综合征", "csrf_token": csrf_of(page.text)})
    assert "已添加同义词组" in added.text
    with session_factory(web_engine)() as session:
        group = session.scalars(sa.select(SynonymGroup).order_by(SynonymGroup.id.desc())).first()
    assert group.terms == ["心梗后综合征", "Dressler综合征"]
    saved = archivist.post(f"/admin/synonyms/{group.id}", data={
        "action": "save", "terms": "心梗后综合征、Dressler综合征、心肌梗死后综合征", "csrf_token": csrf_of(added.text)})
    assert "已保存同义词组" in saved.text and "心肌梗死后综合征" in saved.text
    deleted = archivist.post(f"/admin/synonyms/{group.id}",
                             data={"action": "delete", "csrf_token": csrf_of(saved.text)})
    assert "已删除同义词组" in deleted.text and "心肌梗死后综合征" not in deleted.text


def test_a_spelling_already_in_another_group_is_refused_and_nothing_changes(client_for, web_engine):
    archivist = client_for("archivist")
    page = archivist.get("/admin/synonyms")
    with session_factory(web_engine)() as session:
        before = session.scalar(sa.select(sa.func.count()).select_from(SynonymGroup))
    refused = archivist.post("/admin/synonyms", data={"terms": "房颤、心房纤颤", "csrf_token": csrf_of(page.text)})
    assert "已在另一组" in refused.text
    with session_factory(web_engine)() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(SynonymGroup)) == before


def test_a_new_group_expands_searches_at_once(client_for, world):
    archivist = client_for("archivist")
    page = archivist.get("/admin/synonyms")
    archivist.post("/admin/synonyms", data={"terms": "胸闷憋气、胸闷气促", "csrf_token": csrf_of(page.text)})
    found = archivist.get("/search", params={"q": "胸闷憋气", "synonyms": "1"}).text
    assert world.records["normal"].record_number in _record_numbers(found)


def test_only_the_record_room_edits_the_dictionary(client_for):
    assert client_for("clinician").get("/admin/synonyms").status_code == 403
    assert client_for("sysadmin").get("/admin/synonyms").status_code == 403


def test_the_dictionary_is_in_the_record_rooms_menu(client_for):
    assert 'href="/admin/synonyms"' in client_for("archivist").get("/search").text
    assert 'href="/admin/synonyms"' not in client_for("clinician").get("/search").text
