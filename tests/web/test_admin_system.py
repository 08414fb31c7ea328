"""Access rules (security administrator) and hospital appearance and announcements (system administrator)."""
from __future__ import annotations

import io
from urllib.parse import unquote

import sqlalchemy as sa
from PIL import Image
from web_helpers import csrf_headers, csrf_of

from bingan.storage.db import session_factory
from bingan.storage.models import Announcement, AuditEvent, Category, CategoryTemplate, IpRule, Tag, TagPermission


def _form(client, path: str, data: dict, page: str, files=None):
    return client.post(path, data={**data, "csrf_token": csrf_of(client.get(page).text)}, files=files,
                       follow_redirects=False)


def _error(response) -> str:
    location = unquote(response.headers.get("location", ""))
    return location.split("error=", 1)[1] if "error=" in location else ""


def _count(engine, model, *where) -> int:
    with session_factory(engine)() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def _png(size: int = 64) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), "#1f5f8b").save(buffer, "PNG")
    return buffer.getvalue()


def test_ip_rules_block_a_client_and_bad_ranges_are_refused(client_for, web_engine):
    secadmin = client_for("secadmin")
    assert "格式不正确" in _error(_form(secadmin, "/admin/ip-rules", {"cidr": "10.0.0.300/8"}, "/admin/rules"))
    assert "类型" in _error(_form(secadmin, "/admin/ip-rules", {"cidr": "10.9.0.0/16", "kind": "maybe"},
                                 "/admin/rules"))
    assert _count(web_engine, IpRule) == 0
    assert not _error(_form(secadmin, "/admin/ip-rules", {"cidr": "10.9.0.0/16", "note": "外包"}, "/admin/rules"))
    assert "10.9.0.0/16" in secadmin.get("/admin/rules").text
    with session_factory(web_engine)() as session:
        rule_id = session.scalar(sa.select(IpRule.id))
    assert not _error(_form(secadmin, f"/admin/ip-rules/{rule_id}", {"action": "disable"}, "/admin/rules"))
    assert _count(web_engine, IpRule, IpRule.active.is_(False)) == 1
    assert not _error(_form(secadmin, f"/admin/ip-rules/{rule_id}", {"action": "delete"}, "/admin/rules"))
    assert _count(web_engine, IpRule) == 0
    assert _count(web_engine, AuditEvent, AuditEvent.action == "access_rule") == 3
    assert client_for("sysadmin").get("/admin/rules").status_code == 403


def test_ip_rule_api(client_for):
    secadmin = client_for("secadmin")
    headers = csrf_headers(secadmin)
    created = secadmin.post("/api/v1/admin/ip-rules", headers=headers, json={"cidr": "192.168.7.0/24"})
    assert created.status_code == 201
    bad = secadmin.post("/api/v1/admin/ip-rules", headers=headers, json={"cidr": "nonsense"})
    assert bad.status_code == 400 and "格式" in bad.json()["detail"]
    assert [r["cidr"] for r in secadmin.get("/api/v1/admin/ip-rules").json()] == ["192.168.7.0/24"]
    done = secadmin.post(f"/api/v1/admin/ip-rules/{created.json()['id']}/actions", headers=headers,
                         json={"action": "delete"})
    assert done.json() == {"ok": True}


def test_category_templates_restrict_a_role(client_for, web_engine):
    secadmin = client_for("secadmin")
    with session_factory(web_engine)() as session:
        category = session.scalars(sa.select(Category).order_by(Category.filing_order)).first()
    both = {"role": "nurse", "department": "0301", "category": category.code, "actions": ["view"]}
    assert "二选一" in _error(_form(secadmin, "/admin/category-templates", both, "/admin/roles"))
    nothing = {"role": "nurse", "category": category.code, "actions": ["fly"]}
    assert "操作" in _error(_form(secadmin, "/admin/category-templates", nothing, "/admin/roles"))
    assert _count(web_engine, CategoryTemplate) == 0
    good = {"name": "护士只看首页", "role": "nurse", "category": category.code, "actions": ["view"]}
    assert not _error(_form(secadmin, "/admin/category-templates", good, "/admin/roles"))
    assert "护士只看首页" in secadmin.get("/admin/roles").text
    api = secadmin.get("/api/v1/admin/category-templates").json()
    assert api[0]["role"] == "nurse" and api[0]["actions"] == ["view"]
    assert not _error(_form(secadmin, f"/admin/category-templates/{api[0]['id']}/delete", {}, "/admin/roles"))
    assert _count(web_engine, CategoryTemplate) == 0


def test_restricted_tags_and_who_may_see_them(client_for, world, web_engine):
    secadmin = client_for("secadmin")
    with session_factory(web_engine)() as session:
        vip = session.scalars(sa.select(Tag).where(Tag.name == "VIP")).one()
    record = world.records["restricted_tag"]
    clinician = client_for("medical_affairs")
    assert clinician.get(f"/records/{record.id}").status_code == 403
    assert "二选一" in _error(_form(secadmin, "/admin/tag-permissions", {"tag_id": vip.id}, "/admin/roles"))
    assert "不存在" in _error(_form(secadmin, "/admin/tag-permissions", {"tag_id": vip.id, "username": "ghost"},
                                   "/admin/roles"))
    assert _count(web_engine, TagPermission) == 0
    assert not _error(_form(secadmin, "/admin/tag-permissions", {"tag_id": vip.id, "role": "medical_affairs"},
                            "/admin/roles"))
    assert clinician.get(f"/records/{record.id}").status_code == 200
    assert not _error(_form(secadmin, f"/admin/tags/{vip.id}/restricted", {"restricted": "0"}, "/admin/roles"))
    with session_factory(web_engine)() as session:
        assert not session.get(Tag, vip.id).restricted
    permission_id = secadmin.get("/api/v1/admin/tag-permissions").json()[0]["id"]
    assert secadmin.delete(f"/api/v1/admin/tag-permissions/{permission_id}",
                           headers=csrf_headers(secadmin)).json() == {"ok": True}


def test_system_administrator_sets_name_colour_and_logo(client_for, app, web_engine):
    sysadmin = client_for("sysadmin")
    page = "/admin/appearance"
    assert "主题色" in _error(_form(sysadmin, page, {"hospital_name": "示范医院", "theme_color": "red"}, page))
    assert "医院名称" in _error(_form(sysadmin, page, {"hospital_name": " ", "theme_color": "#aa3300"}, page))
    assert not _error(_form(sysadmin, page, {"hospital_name": "示范人民医院", "theme_color": "#AA3300"}, page))
    home = client_for("clinician").get("/").text
    assert "示范人民医院" in home and 'data-theme-color="#aa3300"' in home
    not_image = _form(sysadmin, f"{page}/logo", {}, page, files={"logo": ("logo.png", b"%PDF-1.4 not an image")})
    assert "无法识别" in _error(not_image)
    too_big = _form(sysadmin, f"{page}/logo", {}, page, files={"logo": ("logo.png", _png(1200))})
    assert "尺寸" in _error(too_big) or "KB" in _error(too_big)
    assert not _error(_form(sysadmin, f"{page}/logo", {}, page, files={"logo": ("logo.png", _png())}))
    logo_url = sysadmin.get("/api/v1/admin/appearance").json()["logo_url"]
    served = app and client_for("anonymous").get(logo_url)
    assert served.status_code == 200 and served.headers["content-type"] == "image/png"
    assert _count(web_engine, AuditEvent, AuditEvent.action == "settings") == 2
    assert client_for("secadmin").get(page).status_code == 403
    put = sysadmin.put("/api/v1/admin/appearance", headers=csrf_headers(sysadmin),
                       json={"hospital_name": "示范医院", "theme_color": "#12"})
    assert put.status_code == 400 and "#RRGGBB" in put.json()["detail"]


def test_announcements_are_published_shown_and_deleted(client_for, web_engine):
    sysadmin = client_for("sysadmin")
    page = "/admin/announcements"
    assert "标题" in _error(_form(sysadmin, page, {"title": "  "}, page))
    assert "未知角色" in _error(_form(sysadmin, page, {"title": "停机", "roles": "wizard"}, page))
    assert _count(web_engine, Announcement) == 0
    notice = {"title": "周六停机维护", "body": "22:00–23:00", "roles": "clinician"}
    assert not _error(_form(sysadmin, page, notice, page))
    assert "周六停机维护" in client_for("clinician").get("/").text
    assert "周六停机维护" not in client_for("nurse").get("/").text
    with session_factory(web_engine)() as session:
        announcement_id = session.scalar(sa.select(Announcement.id))
    assert not _error(_form(sysadmin, f"{page}/{announcement_id}/delete", {}, page))
    assert _count(web_engine, Announcement) == 0
    headers = csrf_headers(sysadmin)
    created = sysadmin.post("/api/v1/admin/announcements", headers=headers, json={"title": "系统升级"})
    assert created.status_code == 201
    assert sysadmin.post("/api/v1/admin/announcements", headers=headers, json={"title": ""}).status_code == 400
    assert client_for("nurse").post("/api/v1/admin/announcements", headers=csrf_headers(client_for("nurse")),
                                    json={"title": "x"}).status_code == 403


def test_a_category_template_keeps_its_period_and_refuses_a_bad_one(client_for, web_engine):
    secadmin = client_for("secadmin")
    with session_factory(web_engine)() as session:
        category = session.scalars(sa.select(Category).order_by(Category.filing_order)).first()
    base = {"name": "夜班护士", "role": "nurse", "category": category.code, "actions": ["view"]}
    assert "HH:MM" in _error(_form(secadmin, "/admin/category-templates", {**base, "hours": "20-8"}, "/admin/roles"))
    assert "终端地址段" in _error(_form(secadmin, "/admin/category-templates", {**base, "terminals": "10.3.x"},
                                     "/admin/roles"))
    backwards = {**base, "valid_from": "2026-06-30", "valid_until": "2026-01-01"}
    assert "晚于" in _error(_form(secadmin, "/admin/category-templates", backwards, "/admin/roles"))
    assert _count(web_engine, CategoryTemplate) == 0
    night = {**base, "valid_from": "2026-01-01", "hours": "20:00-08:00", "terminals": "10.3.0.9/16"}
    assert not _error(_form(secadmin, "/admin/category-templates", night, "/admin/roles"))
    assert "2026-01-01 至 不限 · 20:00-08:00 · 终端 10.3.0.0/16" in secadmin.get("/admin/roles").text
    stored = secadmin.get("/api/v1/admin/category-templates").json()[0]
    assert (stored["valid_from"], stored["hours"], stored["terminals"]) == ("2026-01-01", "20:00-08:00", "10.3.0.0/16")
    refused = secadmin.post("/api/v1/admin/category-templates", json={**base, "hours": "08:00-08:00"},
                            headers=csrf_headers(secadmin))
    assert refused.status_code == 400 and "全天开放请留空" in refused.json()["detail"]
