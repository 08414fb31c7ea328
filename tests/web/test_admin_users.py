"""Administration of users and roles by the security administrator: pages and API, with separation of duties."""
from __future__ import annotations

from urllib.parse import unquote

import sqlalchemy as sa
from fastapi.testclient import TestClient
from web_helpers import csrf_headers, csrf_of, sign_in
from world import PASSWORD

from bingan.storage.db import session_factory
from bingan.storage.models import AuditEvent, Role, User, UserScope, WebSession

NEW_PASSWORD = "Hq4!vRt8#Lm2"


def _form(client: TestClient, path: str, data: dict, page: str = "/admin/users"):
    return client.post(path, data={**data, "csrf_token": csrf_of(client.get(page).text)}, follow_redirects=False)


def _error(response) -> str:
    location = unquote(response.headers.get("location", ""))
    return location.split("error=", 1)[1] if "error=" in location else ""


def _user(engine, username: str) -> User | None:
    with session_factory(engine)() as session:
        user = session.scalars(sa.select(User).where(User.username == username)).first()
        if user is not None:
            _ = user.roles, user.department
        return user


def _events(engine, action: str) -> list[AuditEvent]:
    with session_factory(engine)() as session:
        return list(session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def test_security_admin_creates_a_user_who_must_change_the_password(client_for, app, web_engine):
    secadmin = client_for("secadmin")
    response = _form(secadmin, "/admin/users", {
        "username": "zhang_nurse", "password": NEW_PASSWORD, "full_name": "张护士", "staff_number": "N0101",
        "department": "0302", "roles": ["nurse"], "extra_departments": "0301", "campuses": "main",
        "max_confidentiality": "1", "valid_until": "2099-12-31"})
    assert response.status_code == 303 and not _error(response)
    user = _user(web_engine, "zhang_nurse")
    assert user.must_change_password and [r.code for r in user.roles] == ["nurse"]
    assert user.department.code == "0302" and user.max_confidentiality == 1 and user.valid_until is not None
    assert "zhang_nurse" in secadmin.get("/admin/users?q=张护").text
    assert [e.detail["操作"] for e in _events(web_engine, "user_change")] == ["创建用户"]
    newcomer = TestClient(app)
    assert sign_in(newcomer, "zhang_nurse", NEW_PASSWORD).headers["location"] == "/account/password"


def test_bad_input_gives_a_chinese_error_and_creates_nothing(client_for, web_engine):
    secadmin = client_for("secadmin")
    cases = [
        ({"username": "weak", "password": "12345678"}, "密码"),
        ({"username": "x y", "password": NEW_PASSWORD}, "用户名"),
        ({"username": "u_nurse", "password": NEW_PASSWORD}, "已存在"),
        ({"username": "bad_dept", "password": NEW_PASSWORD, "department": "9999"}, "未知科室"),
        ({"username": "bad_level", "password": NEW_PASSWORD, "max_confidentiality": "7"}, "密级"),
        ({"username": "bad_date", "password": NEW_PASSWORD, "valid_until": "2026-13-40"}, "日期"),
        ({"username": "two_hats", "password": NEW_PASSWORD, "roles": ["sysadmin", "auditor"]}, "三员分立"),
    ]
    for data, expected in cases:
        response = _form(secadmin, "/admin/users", data)
        assert expected in _error(response), (data, _error(response))
    for name in ("weak", "bad_dept", "bad_level", "bad_date", "two_hats"):
        assert _user(web_engine, name) is None


def test_only_the_security_administrator_manages_users(client_for):
    for role in ("sysadmin", "auditor", "archivist"):
        client = client_for(role)
        assert client.get("/admin/users").status_code == 403
        response = client.post("/admin/users", data={"username": "x1", "password": NEW_PASSWORD},
                               headers=csrf_headers(client), follow_redirects=False)
        assert response.status_code == 403


def test_editing_a_user_changes_scopes_and_a_bad_field_changes_nothing(client_for, world, web_engine):
    secadmin = client_for("secadmin")
    nurse = world.users["nurse"]
    path = f"/admin/users/{nurse.id}"
    good = {"full_name": "护士甲", "department": "0302", "roles": ["nurse", "clinician"],
            "extra_departments": "0301", "campuses": "", "max_confidentiality": "2", "valid_until": ""}
    assert not _error(_form(secadmin, path, good, page=path))
    user = _user(web_engine, "u_nurse")
    assert user.full_name == "护士甲" and {r.code for r in user.roles} == {"nurse", "clinician"}
    assert user.max_confidentiality == 2
    with session_factory(web_engine)() as session:
        scopes = session.execute(sa.select(UserScope.kind, UserScope.code).where(UserScope.user_id == nurse.id)).all()
    assert scopes == [("department", "0301")]
    response = _form(secadmin, path, {**good, "full_name": "不该保存", "campuses": "nowhere"}, page=path)
    assert "未知院区" in _error(response)
    assert _user(web_engine, "u_nurse").full_name == "护士甲"
    assert "护士甲" in secadmin.get(path).text


def test_disable_unlock_and_reset_password(client_for, world, web_engine, app):
    clinician_client = client_for("clinician")
    secadmin = client_for("secadmin")
    target = world.users["clinician"]
    path = f"/admin/users/{target.id}/state"
    page = f"/admin/users/{target.id}"
    assert not _error(_form(secadmin, path, {"action": "disable"}, page=page))
    assert clinician_client.get("/history", follow_redirects=False).status_code == 303  # session ended
    assert sign_in(TestClient(app), "u_clinician").status_code == 401
    assert not _error(_form(secadmin, path, {"action": "enable"}, page=page))
    with session_factory(web_engine)() as session, session.begin():
        session.get(User, target.id).failed_logins = 4
    assert not _error(_form(secadmin, path, {"action": "unlock"}, page=page))
    assert _user(web_engine, "u_clinician").failed_logins == 0
    assert "密码" in _error(_form(secadmin, path, {"action": "reset_password", "password": "abc"}, page=page))
    assert not _error(_form(secadmin, path, {"action": "reset_password", "password": NEW_PASSWORD}, page=page))
    assert _user(web_engine, "u_clinician").must_change_password
    assert sign_in(TestClient(app), "u_clinician", NEW_PASSWORD).headers["location"] == "/account/password"
    operations = [e.detail["操作"] for e in _events(web_engine, "user_change")]
    assert operations == ["停用", "启用", "解锁", "重置密码"]


def test_administrators_cannot_change_their_own_account_or_roles(client_for, world, web_engine):
    secadmin = client_for("secadmin")
    own = world.users["secadmin"]
    page = f"/admin/users/{own.id}"
    assert "自己" in _error(_form(secadmin, f"{page}/state", {"action": "disable"}, page=page))
    response = _form(secadmin, page, {"full_name": "x", "roles": ["secadmin", "auditor"]}, page=page)
    assert "自己" in _error(response)
    assert {r.code for r in _user(web_engine, "u_secadmin").roles} == {"secadmin"}


def test_roles_separation_of_duties_is_enforced(client_for, web_engine):
    secadmin = client_for("secadmin")
    with session_factory(web_engine)() as session:
        ids = {r.code: r.id for r in session.scalars(sa.select(Role))}
    # the system administrator role may not gain audit or security permissions
    response = _form(secadmin, f"/admin/roles/{ids['sysadmin']}",
                     {"name": "系统管理员", "permissions": ["system.settings", "system.status", "audit.read"]},
                     page="/admin/roles")
    assert "三员分立" in _error(response)
    response = _form(secadmin, f"/admin/roles/{ids['secadmin']}",
                     {"name": "安全管理员", "permissions": ["users.manage"]}, page="/admin/roles")
    assert "自己所属角色" in _error(response)
    assert "内置角色不能删除" in _error(_form(secadmin, f"/admin/roles/{ids['nurse']}/delete", {}, page="/admin/roles"))
    with session_factory(web_engine)() as session:
        sysadmin = session.get(Role, ids["sysadmin"])
        assert "audit.read" not in sysadmin.permissions
        assert session.get(Role, ids["nurse"]) is not None


def test_custom_roles_are_created_edited_and_deleted(client_for, web_engine):
    secadmin = client_for("secadmin")
    assert "三员分立" in _error(_form(secadmin, "/admin/roles", {
        "code": "mixed", "name": "混合", "permissions": ["system.status", "leak.trace"]}, page="/admin/roles"))
    assert "代码" in _error(_form(secadmin, "/admin/roles", {"code": "Bad Code", "name": "x"}, page="/admin/roles"))
    assert "未知权限" in _error(_form(secadmin, "/admin/roles", {"code": "reader", "name": "阅读",
                                                               "permissions": ["record.fly"]}, page="/admin/roles"))
    assert not _error(_form(secadmin, "/admin/roles", {"code": "reader", "name": "阅读",
                                                      "permissions": ["record.view"]}, page="/admin/roles"))
    with session_factory(web_engine)() as session:
        role = session.scalars(sa.select(Role).where(Role.code == "reader")).one()
    assert not _error(_form(secadmin, f"/admin/roles/{role.id}", {"name": "阅读员",
                                                                 "permissions": ["record.view", "search.use"]},
                            page="/admin/roles"))
    assert "阅读员" in secadmin.get("/admin/roles").text
    assert not _error(_form(secadmin, f"/admin/roles/{role.id}/delete", {}, page="/admin/roles"))
    with session_factory(web_engine)() as session:
        assert session.scalar(sa.select(Role.id).where(Role.code == "reader")) is None
    assert [e.detail["操作"] for e in _events(web_engine, "role_change")] == ["创建角色", "修改角色", "删除角色"]


def test_the_system_administrator_cannot_reach_role_administration(client_for):
    sysadmin = client_for("sysadmin")
    assert sysadmin.get("/admin/roles").status_code == 403
    response = sysadmin.put("/api/v1/admin/roles/1", json={"name": "x", "permissions": ["audit.read"]},
                            headers=csrf_headers(sysadmin))
    assert response.status_code == 403


def test_user_and_role_api(client_for, world, web_engine):
    secadmin = client_for("secadmin")
    headers = csrf_headers(secadmin)
    created = secadmin.post("/api/v1/admin/users", headers=headers, json={
        "username": "api_user", "password": NEW_PASSWORD, "roles": ["clinician"], "department": "0301"})
    assert created.status_code == 201 and created.json()["must_change_password"]
    user_id = created.json()["id"]
    bad = secadmin.post("/api/v1/admin/users", headers=headers, json={"username": "api2", "password": "short"})
    assert bad.status_code == 400 and "密码" in bad.json()["detail"]
    patched = secadmin.patch(f"/api/v1/admin/users/{user_id}", headers=headers,
                             json={"campuses": ["main"], "max_confidentiality": 1})
    assert patched.json()["scopes"]["campus"] == ["main"] and patched.json()["max_confidentiality"] == 1
    refused = secadmin.patch(f"/api/v1/admin/users/{user_id}", headers=headers, json={"roles": ["sysadmin", "auditor"]})
    assert refused.status_code == 400 and "三员分立" in refused.json()["detail"]
    assert [u["username"] for u in secadmin.get("/api/v1/admin/users?q=api_").json()] == ["api_user"]
    action = secadmin.post(f"/api/v1/admin/users/{user_id}/actions", headers=headers, json={"action": "disable"})
    assert action.json() == {"ok": True} and not _user(web_engine, "api_user").active
    role = secadmin.post("/api/v1/admin/roles", headers=headers, json={"code": "viewer", "name": "查阅",
                                                                       "permissions": ["record.view"]})
    assert role.status_code == 201
    assert secadmin.delete(f"/api/v1/admin/roles/{role.json()['id']}", headers=headers).json() == {"ok": True}
    builtin = next(r for r in secadmin.get("/api/v1/admin/roles").json() if r["code"] == "nurse")
    assert secadmin.delete(f"/api/v1/admin/roles/{builtin['id']}", headers=headers).status_code == 400
    with session_factory(web_engine)() as session:
        assert session.scalar(sa.select(sa.func.count(WebSession.id)).where(WebSession.user_id == user_id)) == 0
    assert sign_in(TestClient(secadmin.app), "u_clinician", PASSWORD).status_code == 303
