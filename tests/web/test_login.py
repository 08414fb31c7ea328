"""Login, lockout, sessions, CSRF, password change and TOTP through the real app."""
from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import sqlalchemy as sa
from fastapi.testclient import TestClient
from web_helpers import TOTP_SECRET, csrf_of, sign_in
from world import PASSWORD

from bingan.storage.db import session_factory
from bingan.storage.models import AuditEvent, User, WebSession, utcnow


def _events(engine, action: str) -> list[AuditEvent]:
    with session_factory(engine)() as session:
        return list(session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def test_pages_redirect_to_login_and_the_api_answers_401(app):
    client = TestClient(app)
    response = client.get("/history", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login?next=/history")
    assert client.get("/api/v1/me").status_code in (401, 404)


def test_login_sets_a_hardened_session_cookie_and_is_audited(app, web_engine):
    client = TestClient(app)
    response = sign_in(client, "u_clinician")
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    home = client.get("/")
    assert "您好，测试clinician" in home.text
    assert [e.username for e in _events(web_engine, "login")] == ["u_clinician"]


def test_five_failures_lock_the_account_for_ten_minutes(app, web_engine):
    # The refusals do not say how many tries are left or that the account is locked: an unknown
    # name gets the very same answer (issue 9, L1), so they tell nobody which names exist.
    client = TestClient(app)
    unknown = sign_in(client, "nobody", "wrong-password").text
    for _ in range(5):
        response = sign_in(client, "u_nurse", "wrong-password")
        assert response.status_code == 401 and _refusal(response.text) == _refusal(unknown)
    response = sign_in(client, "u_nurse", PASSWORD)  # the right password no longer helps
    assert response.status_code == 401 and _refusal(response.text) == _refusal(unknown)
    assert len(_events(web_engine, "locked")) == 1
    with session_factory(web_engine)() as session, session.begin():
        user = session.scalars(sa.select(User).where(User.username == "u_nurse")).one()
        assert user.locked_until is not None
        user.locked_until = utcnow() - timedelta(seconds=1)
    assert sign_in(client, "u_nurse").status_code == 303


def _refusal(html: str) -> str:
    return re.search(r'role="alert"[^>]*>([^<]*)<', html).group(1)


def test_unknown_user_gets_the_same_message(app):
    response = sign_in(TestClient(app), "nobody", "whatever")
    assert response.status_code == 401 and "用户名或密码错误" in response.text


def test_post_without_csrf_token_is_refused(app):
    client = TestClient(app)
    client.get("/login")
    response = client.post("/login", data={"username": "u_clinician", "password": PASSWORD})
    assert response.status_code == 403 and "CSRF" in response.text


def test_idle_session_ends_after_fifteen_minutes(app, web_engine):
    client = TestClient(app)
    sign_in(client, "u_clinician")
    with session_factory(web_engine)() as session, session.begin():
        session.execute(sa.update(WebSession).values(last_seen_at=utcnow() - timedelta(minutes=16)))
    response = client.get("/history", follow_redirects=False)
    assert response.status_code == 303 and "message=" in response.headers["location"]
    assert _events(web_engine, "session_timeout")


def test_logout_ends_the_server_side_session(app):
    client = TestClient(app)
    sign_in(client, "u_clinician")
    token = csrf_of(client.get("/").text)
    stolen = dict(client.cookies)
    client.post("/logout", data={"csrf_token": token})
    replay = TestClient(app, cookies=stolen)
    assert replay.get("/history", follow_redirects=False).status_code == 303


def test_first_login_forces_a_password_change_with_history(app, web_engine):
    with session_factory(web_engine)() as session, session.begin():
        session.scalars(sa.select(User).where(User.username == "u_qc")).one().must_change_password = True
    client = TestClient(app)
    response = sign_in(client, "u_qc")
    assert response.headers["location"] == "/account/password"
    assert client.get("/favourites", follow_redirects=False).headers["location"] == "/account/password"
    form = csrf_of(client.get("/account/password").text)
    same = client.post("/account/password", data={"current": PASSWORD, "new": PASSWORD, "confirm": PASSWORD,
                                                  "csrf_token": form})
    assert same.status_code == 400 and "最近5次" in same.text
    weak = client.post("/account/password", data={"current": PASSWORD, "new": "abc", "confirm": "abc",
                                                  "csrf_token": form})
    assert "至少8位" in weak.text
    passphrase = "床旁超声引导下中心静脉置管术后第3天，患者一般情况可，Tq9!vRw2#Lp6" * 2  # > 72: zxcvbn's own limit
    long_enough = client.post("/account/password", data={"current": PASSWORD, "new": passphrase * 3,
                                                         "confirm": passphrase * 3, "csrf_token": form})
    assert long_enough.status_code == 400 and "不能超过128位" in long_enough.text
    good = client.post("/account/password", data={"current": PASSWORD, "new": passphrase,
                                                  "confirm": passphrase, "csrf_token": form},
                       follow_redirects=False)
    assert good.status_code == 303
    assert client.get("/history").status_code == 200


def test_administrators_need_the_second_factor(app):
    client = TestClient(app)
    response = sign_in(client, "u_auditor", totp=False)
    assert response.headers["location"] == "/login/totp"
    assert client.get("/admin/audit", follow_redirects=False).headers["location"] == "/login/totp"
    form = csrf_of(client.get("/login/totp").text)
    bad = client.post("/login/totp", data={"code": "000000", "csrf_token": form})
    assert bad.status_code == 400
    code = pyotp.TOTP(TOTP_SECRET).now()
    done = client.post("/login/totp", data={"code": code, "csrf_token": form}, follow_redirects=False)
    assert done.status_code == 303
    assert client.get("/admin/audit").status_code == 200


def test_a_totp_code_cannot_be_replayed(app):
    first, second = TestClient(app), TestClient(app)
    sign_in(first, "u_secadmin")
    sign_in(second, "u_secadmin", totp=False)
    form = csrf_of(second.get("/login/totp").text)
    replay = second.post("/login/totp", data={"code": pyotp.TOTP(TOTP_SECRET).now(), "csrf_token": form})
    assert replay.status_code == 400


def test_administrator_without_totp_enrols_with_a_qr_code(app, web_engine):
    with session_factory(web_engine)() as session, session.begin():
        session.scalars(sa.select(User).where(User.username == "u_sysadmin")).one().totp_secret = ""
    client = TestClient(app)
    response = sign_in(client, "u_sysadmin", totp=False)
    assert response.headers["location"] == "/account/totp"
    enrol = client.get("/account/totp")
    assert "otpauth://totp/" in enrol.text and "<svg" in enrol.text
    import re

    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', enrol.text).group(1)
    done = client.post("/account/totp", data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf_of(enrol.text)},
                       follow_redirects=False)
    assert done.status_code == 303
    assert client.get("/admin/status").status_code == 200


def test_wrong_totp_codes_count_toward_the_lockout(app, web_engine):
    client = TestClient(app)
    assert sign_in(client, "u_auditor", totp=False).headers["location"] == "/login/totp"
    form = csrf_of(client.get("/login/totp").text)
    for left in (4, 3, 2, 1):
        wrong = client.post("/login/totp", data={"code": "000000", "csrf_token": form})
        assert wrong.status_code == 400 and f"再失败{left}次" in wrong.text
    locked = client.post("/login/totp", data={"code": "000000", "csrf_token": form}, follow_redirects=False)
    assert locked.status_code == 303 and locked.headers["location"].startswith("/login?message=")
    assert client.get("/admin/audit", follow_redirects=False).headers["location"].startswith("/login")
    with session_factory(web_engine)() as session:
        auditor = session.scalars(sa.select(User).where(User.username == "u_auditor")).one()
        assert auditor.locked_until is not None
    # even the right password and the right code are refused while locked
    again = sign_in(TestClient(app), "u_auditor")
    assert again.status_code == 401 and "锁定" in again.text
    assert [e.detail["原因"] for e in _events(web_engine, "locked")] == ["连续5次登录验证失败（最后一次：动态口令）"]


def test_a_correct_password_does_not_reset_the_count_of_wrong_codes(app, web_engine):
    for _ in range(2):
        client = TestClient(app)
        sign_in(client, "u_auditor", totp=False)
        form = csrf_of(client.get("/login/totp").text)
        for _ in range(2):
            client.post("/login/totp", data={"code": "000000", "csrf_token": form})
    client = TestClient(app)
    sign_in(client, "u_auditor", totp=False)
    form = csrf_of(client.get("/login/totp").text)
    locked = client.post("/login/totp", data={"code": "000000", "csrf_token": form}, follow_redirects=False)
    assert locked.status_code == 303  # the fifth wrong code over three logins locks the account
    with session_factory(web_engine)() as session:
        assert session.scalars(sa.select(User).where(User.username == "u_auditor")).one().locked_until is not None
