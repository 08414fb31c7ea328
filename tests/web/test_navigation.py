"""The menu: grouped by the record room's work, each role sees what it may use, every link it
sees opens, groups without a page are not drawn, breadcrumbs name where the user is."""
from __future__ import annotations

import re

import pytest
from world import ROLES

from bingan.web import navigation
from bingan.web.navigation import Link


def _menu(html: str) -> dict[str, list[str]]:
    """Group label -> link paths of the main menu ("" for the top-level links)."""
    nav = re.search(r'<nav aria-label="主菜单".*?</nav>', html, re.S)
    assert nav, "page has no main menu"
    groups: dict[str, list[str]] = {"": re.findall(r'<a href="([^"]+)" class="menu-top">', nav.group(0))}
    for label, body in re.findall(r"<summary>([^<]+?)(?: <span[^>]*>\d+</span>)?</summary>(.*?)</details>",
                                  nav.group(0), re.S):
        groups[label.strip()] = re.findall(r'<a href="([^"]+)"', body)
    return groups


@pytest.fixture
def menus(client_for) -> dict[str, dict[str, list[str]]]:
    clients = {role: client_for(role) for role in ROLES}
    return {role: (_menu(client.get("/?home=1").text), client) for role, client in clients.items()}


def test_a_clinician_sees_record_queries_and_no_system_settings(menus):
    menu, _ = menus["clinician"]
    assert {"/search", "/lookup", "/history", "/favourites", "/tags"} <= set(menu["病案查询"])
    assert "系统设置" not in menu and "/admin/users" not in str(menu)


def test_the_system_administrator_sees_system_settings_and_no_patient_data(menus):
    menu, _ = menus["sysadmin"]
    assert {"/admin/appearance", "/admin/announcements"} <= set(menu["系统设置"])
    assert "病案查询" not in menu


def test_the_auditor_sees_only_the_audit_trail(menus):
    menu, _ = menus["auditor"]
    assert {label: paths for label, paths in menu.items() if label} == {"系统设置": ["/admin/audit"]}


def test_the_archivist_and_the_security_administrator_see_different_groups(menus):
    archivist, _ = menus["archivist"]
    security, _ = menus["secadmin"]
    assert "/tags" in archivist["病案查询"] and "系统设置" in archivist  # announcements
    assert {"/admin/users", "/admin/roles", "/admin/rules"} <= set(security["系统设置"])
    assert "病案查询" not in security


def test_every_menu_link_opens_for_the_role_that_sees_it(menus):
    failures = []
    for role, (menu, client) in menus.items():
        for path in {p for paths in menu.values() for p in paths}:
            status = client.get(path, follow_redirects=True).status_code
            if status != 200:
                failures.append(f"{role} {path}: {status}")
    assert failures == []


def test_a_link_whose_page_does_not_exist_yet_and_its_group_are_not_shown(client_for, monkeypatch):
    planned = [Link("", "首页", "/"), Link("复印打印", "复印申请", "/not-built-yet", ("record.print",))]
    monkeypatch.setattr(navigation, "NAV", planned)
    menu = _menu(client_for("clinician").get("/?home=1").text)
    assert menu == {"": ["/"]}


def test_a_to_do_count_shows_the_link_to_whoever_has_items_waiting(client_for, monkeypatch):
    monkeypatch.setattr(navigation, "NAV", [*navigation.NAV, Link("", "待办", "/history", ("no.such.permission",),
                                                                   counter="waiting")])
    monkeypatch.setitem(navigation.COUNTERS, "waiting", lambda ctx: 3 if ctx.user.username == "u_nurse" else 0)
    nurse = client_for("nurse").get("/?home=1").text
    clinician = client_for("clinician").get("/?home=1").text
    assert re.search(r'<a href="/history" class="menu-top">待办 <span class="count">3</span>', nurse)
    assert 'class="menu-top">待办' not in clinician


def test_a_menu_page_shows_its_breadcrumbs(client_for):
    html = client_for("clinician").get("/lookup").text
    crumbs = re.search(r'<nav aria-label="当前位置" class="crumbs">(.*?)</nav>', html, re.S)
    assert crumbs and re.sub(r"<[^>]+>", "", crumbs.group(1)).split(" › ") == ["首页", "病案查询", "批量查询"]


def test_registering_into_an_unknown_group_is_refused():
    with pytest.raises(ValueError):
        navigation.register("病案打印", "打印", "/print")


def test_a_page_registering_a_path_already_in_the_menu_replaces_its_entry(monkeypatch):
    monkeypatch.setattr(navigation, "NAV", list(navigation.NAV))
    navigation.register("病案查询", "批量查询病案号", "/lookup", "lookup.use")
    assert [link.label for link in navigation.NAV if link.path == "/lookup"] == ["批量查询病案号"]


@pytest.fixture
def counted(monkeypatch) -> list[str]:
    """A to-do counter on the top bar that notes each time it is asked."""
    asked: list[str] = []
    monkeypatch.setattr(navigation, "NAV", [*navigation.NAV, Link("", "待办", "/history", counter="noted")])
    monkeypatch.setitem(navigation.COUNTERS, "noted", lambda ctx: asked.append(ctx.user.username) or 1)
    return asked


def test_reading_pages_reuses_the_to_do_counts(client_for, counted):
    clinician = client_for("clinician")
    for path in ("/?home=1", "/search?q=肺炎", "/history", "/lookup"):
        assert clinician.get(path).status_code == 200
    assert counted == ["u_clinician"]


def test_a_committed_change_counts_again_at_once(client_for, counted, web_engine, world):
    from bingan.storage.db import transaction

    clinician = client_for("clinician")
    clinician.get("/?home=1")
    with transaction(web_engine) as session:
        session.get(type(world.records["normal"]), world.records["normal"].id).campus_id = None
    clinician.get("/?home=1")
    assert counted == ["u_clinician", "u_clinician"]


def test_counts_older_than_their_lifetime_are_counted_again(client_for, counted, monkeypatch):
    monkeypatch.setattr(navigation, "COUNT_SECONDS", 0.0)
    clinician = client_for("clinician")
    clinician.get("/?home=1")
    clinician.get("/history")
    assert counted == ["u_clinician", "u_clinician"]
