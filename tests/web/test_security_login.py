"""Login, second factor and account security after the black-box review (issue 9: C1, M1, M2, L1–L4,
L7, L8, L10, the first administrator password, sealed authenticator secrets)."""
from __future__ import annotations

import cProfile
import pstats
import re
import time
from dataclasses import fields
from datetime import timedelta

import pyotp
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from web_helpers import TOTP_SECRET, csrf_of, sign_in
from world import PASSWORD

from bingan.access.accounts import ensure_first_admin
from bingan.access.administration import AdminError, UserChanges, add_role, update_user
from bingan.access.audit import Actor
from bingan.access.passwords import policy_problems
from bingan.access.permissions import ROLE_DEFAULTS
from bingan.access.sealed_secrets import SecretBox
from bingan.access.security_settings import SecuritySettings, security_settings
from bingan.access.sessions import LoginRefused, login, needs_second_factor
from bingan.storage.db import session_factory
from bingan.storage.models import AuditEvent, Grant, Role, TotpEnrolment, User, WebSession, utcnow

NEW_SECRET = re.compile(r'id="totp-secret">([A-Z2-7]+)<')


def _user(engine, username: str) -> User:
    with session_factory(engine)() as session:
        user = session.scalars(sa.select(User).where(User.username == username)).one()
        session.expunge(user)
        return user


def _change(engine, username: str, **values) -> None:
    with session_factory(engine)() as session, session.begin():
        session.execute(sa.update(User).where(User.username == username).values(**values))


def _open_sessions(engine, username: str) -> int:
    with session_factory(engine)() as session:
        return session.scalar(sa.select(sa.func.count(WebSession.id)).join(User, User.id == WebSession.user_id)
                              .where(User.username == username, WebSession.ended_at.is_(None)))


def _post(client: TestClient, path: str, form_path: str, **data):
    data["csrf_token"] = csrf_of(client.get(form_path).text)
    return client.post(path, data=data, follow_redirects=False)


def _code(secret: str = TOTP_SECRET, steps_ahead: int = 0) -> str:
    totp = pyotp.TOTP(secret)
    return totp.at(int(time.time()) + steps_ahead * totp.interval)


def _password_only(app, username: str) -> TestClient:
    client = TestClient(app)
    response = sign_in(client, username, totp=False)
    assert response.headers["location"] == "/login/totp"
    return client


# --- C1: a password alone never replaces the authenticator --------------------------------------

def test_a_password_only_session_cannot_open_the_enrolment_of_an_enrolled_user(app, web_engine):
    client = _password_only(app, "u_secadmin")
    page = client.get("/account/totp", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login/totp"
    csrf = csrf_of(client.get("/login/totp").text)
    response = client.post("/account/totp", data={"code": _code(), "csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login/totp"
    assert _user(web_engine, "u_secadmin").totp_secret == TOTP_SECRET
    with session_factory(web_engine)() as session:
        assert not session.scalar(sa.select(TotpEnrolment.pending_secret)
                                  .where(TotpEnrolment.user_id == _user(web_engine, "u_secadmin").id))


def test_a_password_only_session_reaches_only_the_second_factor_page(app):
    client = _password_only(app, "u_auditor")
    for path in ("/", "/account/password", "/account/totp", "/admin/audit", "/settings"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/login/totp", path
    assert client.get("/login/totp").status_code == 200


def _signed_in_at(app, username: str, step: int) -> TestClient:
    """Signed in with the code of a chosen step (each step's code works only once)."""
    client = _password_only(app, username)
    assert _post(client, "/login/totp", "/login/totp", code=_code(steps_ahead=step)).headers["location"] == "/"
    return client


def test_replacing_the_authenticator_needs_a_code_from_the_current_one(app, web_engine):
    client = _signed_in_at(app, "u_secadmin", -1)
    other = _signed_in_at(app, "u_secadmin", 0)
    page = client.get("/account/totp")
    assert 'name="current_code"' in page.text
    new_secret = NEW_SECRET.search(page.text).group(1)
    refused = client.post("/account/totp", data={"code": _code(new_secret), "current_code": "000000",
                                                  "csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert refused.status_code == 400 and "动态口令不正确" in refused.text
    assert SecretBox.of(app.state.settings).open(_user(web_engine, "u_secadmin").totp_secret) == TOTP_SECRET
    response = client.post("/account/totp", data={"code": _code(new_secret), "current_code": _code(steps_ahead=1),
                                                   "csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert response.status_code == 303
    assert SecretBox.of(app.state.settings).open(_user(web_engine, "u_secadmin").totp_secret) == new_secret
    assert other.get("/settings", follow_redirects=False).status_code == 303  # the other session ended
    assert client.get("/settings").status_code == 200


def test_a_security_admin_resets_a_second_factor_audited_and_ending_its_sessions(client_for, app, web_engine, world):
    auditor = client_for("auditor")
    admin = client_for("secadmin")
    target = world.users["auditor"].id
    response = _post(admin, f"/admin/users/{target}/state", f"/admin/users/{target}", action="reset_totp")
    assert response.status_code == 303 and "error" not in response.headers["location"]
    assert _user(web_engine, "u_auditor").totp_secret == ""
    assert auditor.get("/admin/audit", follow_redirects=False).status_code == 303
    with session_factory(web_engine)() as session:
        event = session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "user_change")
                                .order_by(AuditEvent.id.desc())).first()
    assert event.detail["操作"] == "重置二次验证" and event.username == "u_secadmin"
    again = sign_in(TestClient(app), "u_auditor", totp=False)
    assert again.headers["location"] == "/account/totp"  # enrols anew


def test_the_admin_api_resets_a_second_factor_but_never_ones_own(client_for, web_engine, world):
    admin = client_for("secadmin")
    headers = {"X-CSRF-Token": csrf_of(admin.get("/settings").text)}
    own = admin.post(f"/api/v1/admin/users/{world.users['secadmin'].id}/actions", json={"action": "reset_totp"},
                     headers=headers)
    assert own.status_code == 400 and "自己" in own.json()["detail"] and _user(web_engine, "u_secadmin").totp_secret
    other = admin.post(f"/api/v1/admin/users/{world.users['sysadmin'].id}/actions", json={"action": "reset_totp"},
                       headers=headers)
    assert other.status_code == 200 and _user(web_engine, "u_sysadmin").totp_secret == ""


# --- M1: the second factor before the forced password change ------------------------------------

def test_the_forced_password_change_comes_after_the_second_factor(app, web_engine):
    _change(web_engine, "u_secadmin", must_change_password=True)
    client = _password_only(app, "u_secadmin")
    response = _post(client, "/account/password", "/login/totp", current=PASSWORD, new="Nq8#vTe4!pRw2",
                     confirm="Nq8#vTe4!pRw2")
    assert response.status_code == 303 and response.headers["location"] == "/login/totp"
    with session_factory(web_engine)() as session:
        changes = sa.select(sa.func.count(AuditEvent.id)).where(AuditEvent.action == "password_change")
        assert session.scalar(changes) == 0
    done = _post(client, "/login/totp", "/login/totp", code=_code())
    assert done.headers["location"] == "/account/password"


# --- M2: the second factor follows the rights, and administration excludes patient data ---------

@pytest.mark.parametrize("role", ["medical_affairs", "archivist", "qc", "copy_clerk"])
def test_grantors_and_hospital_wide_readers_must_enrol_a_second_factor(app, web_engine, role):
    _change(web_engine, f"u_{role}", totp_secret="")
    response = sign_in(TestClient(app), f"u_{role}", totp=False)
    assert response.headers["location"] == "/account/totp"


def test_a_custom_role_with_user_management_needs_the_second_factor(web_engine, world):
    with session_factory(web_engine)() as session, session.begin():
        role = add_role(session, Actor(None, "t", ""), "helpdesk", "服务台", ["users.manage"])
        user = session.scalars(sa.select(User).where(User.username == "u_nurse")).one()
        assert not needs_second_factor(user)
        user.roles = [role]
        assert needs_second_factor(user)


def test_a_role_combining_administration_and_patient_data_is_refused(client_for, web_engine):
    admin = client_for("secadmin")
    response = _post(admin, "/admin/roles", "/admin/roles", code="mixed", name="混合",
                     permissions=["users.manage", "record.view"])
    assert "error=" in response.headers["location"]
    with session_factory(web_engine)() as session:
        assert session.scalar(sa.select(Role.id).where(Role.code == "mixed")) is None


def test_a_user_combining_administration_and_patient_data_roles_is_refused(web_engine, world):
    with session_factory(web_engine)() as session, session.begin():
        user = session.get(User, world.users["nurse"].id)
        with pytest.raises(AdminError, match="三员分立"):
            update_user(session, Actor(world.users["secadmin"].id, "u_secadmin", ""), user,
                        UserChanges(role_codes=["nurse", "auditor"]))


def test_the_default_roles_respect_the_separation_of_duties(web_engine):
    with session_factory(web_engine)() as session, session.begin():
        for code, permissions in ROLE_DEFAULTS.items():
            add_role(session, Actor(None, "t", ""), f"copy_{code}", code, permissions)


# --- L1, L2: no names told apart, no password confirmed for a closed account ---------------------

def _refusal(html: str) -> str:
    return re.search(r'role="alert"[^>]*>([^<]*)<', html).group(1)


def test_unknown_disabled_expired_and_locked_accounts_get_the_wrong_password_answer(app, web_engine):
    client = TestClient(app)
    expected = _refusal(sign_in(client, "nobody-here", "Wrong#Pass1").text)
    _change(web_engine, "u_nurse", active=False)
    _change(web_engine, "u_clinician", valid_until=utcnow() - timedelta(days=1))
    _change(web_engine, "u_copy_clerk", locked_until=utcnow() + timedelta(minutes=5))
    for username in ("u_nurse", "u_clinician", "u_copy_clerk"):
        assert _refusal(sign_in(client, username, "Wrong#Pass1").text) == expected, username
    assert _refusal(sign_in(client, "u_copy_clerk", PASSWORD).text) == expected  # locked: right password too
    assert "账号已停用" in sign_in(client, "u_nurse", PASSWORD).text  # told only with the right password


def test_an_unknown_name_costs_the_same_password_work_as_a_known_one(web_engine, world):
    """Counted, not timed: each refusal runs the argon2 verification exactly once."""
    def argon2_verifications(username: str) -> int:
        profile = cProfile.Profile()
        with session_factory(web_engine)() as session:
            with pytest.raises(LoginRefused):
                profile.runcall(login, session, username, "Wrong#Pass1", "10.9.9.9")
            session.rollback()
        calls = pstats.Stats(profile).stats  # type: ignore[attr-defined]
        return sum(count for (path, _, name), (count, *_) in calls.items()
                   if name == "verify" and "argon2" in path)
    assert argon2_verifications("nobody-here") == argon2_verifications("u_nurse") == 1


# --- L3: sessions end with a password change and after an absolute lifetime ----------------------

def test_a_password_change_ends_the_users_other_sessions(app, web_engine):
    first, second = TestClient(app), TestClient(app)
    sign_in(first, "u_nurse")
    sign_in(second, "u_nurse")
    response = _post(first, "/account/password", "/account/password", current=PASSWORD, new="Nq8#vTe4!pRw2",
                     confirm="Nq8#vTe4!pRw2")
    assert response.status_code == 303
    assert second.get("/history", follow_redirects=False).status_code == 303
    assert first.get("/history").status_code == 200


def test_a_session_ends_after_twelve_hours_however_active(app, web_engine):
    client = TestClient(app)
    sign_in(client, "u_nurse")
    with session_factory(web_engine)() as session, session.begin():
        session.execute(sa.update(WebSession).values(created_at=utcnow() - timedelta(hours=12, minutes=1),
                                                     last_seen_at=utcnow()))
    response = client.get("/history", follow_redirects=False)
    assert response.status_code == 303 and "message=" in response.headers["location"]


# --- L4: guessable Chinese passwords ---------------------------------------------------------------

@pytest.mark.parametrize("password", ["Woaini1314!", "Admin@123456", "P@ssw0rd!2026", "Bingan#2026x",
                                      "病案Xy#98765", "Qwer!9876Lm", "Root#5201314", "示例医院Xq#83"])
def test_common_chinese_password_patterns_are_refused(password):
    assert policy_problems(password, "zhangsan", ["示例医院"])


def test_the_hospital_name_is_refused_in_a_new_password(app, web_engine):
    client = TestClient(app)
    sign_in(client, "u_nurse")
    response = _post(client, "/account/password", "/account/password", current=PASSWORD, new="示例医院Kq#83vz",
                     confirm="示例医院Kq#83vz")
    assert response.status_code == 400 and "容易被猜中" in response.text


# --- L7: nobody grants what it could not do itself --------------------------------------------------

def test_a_grantor_cannot_grant_an_action_it_does_not_hold(client_for, web_engine, world):
    grantor = client_for("medical_affairs")  # may view and export, not print
    number = world.records["normal"].record_number
    refused = _post(grantor, "/admin/grants", "/admin/grants", username="u_nurse", record_number=number,
                    actions="print")
    assert refused.status_code == 400 and "不能授予他人" in refused.text
    allowed = _post(grantor, "/admin/grants", "/admin/grants", username="u_nurse", record_number=number,
                    actions="view")
    assert allowed.status_code == 303
    with session_factory(web_engine)() as session:
        assert session.scalars(sa.select(Grant.actions).where(Grant.user_id == world.users["nurse"].id)).all() == [
            ["view"]]


def test_a_grantor_cannot_grant_on_a_record_it_may_not_open(client_for, web_engine, world):
    grantor = client_for("medical_affairs")
    refused = _post(grantor, "/admin/grants", "/admin/grants", username="u_nurse",
                    record_number=world.records["confidential"].record_number, actions="view")
    assert refused.status_code == 400 and "不能授予他人" in refused.text


# --- L8: no administrator widens its own account ------------------------------------------------

def test_a_security_admin_cannot_change_its_own_expiry_scopes_or_level(client_for, web_engine, world):
    admin = client_for("secadmin")
    me = world.users["secadmin"].id
    form = {"full_name": "安全员", "department": "0301", "roles": ["secadmin"], "extra_departments": "",
            "campuses": "", "max_confidentiality": 0, "valid_until": ""}
    for change in ({"valid_until": "2099-12-31"}, {"max_confidentiality": 3}, {"extra_departments": "0302"},
                   {"campuses": "main"}, {"department": "0302"}):
        response = _post(admin, f"/admin/users/{me}", f"/admin/users/{me}", **{**form, **change})
        assert "error=" in response.headers["location"], change
    saved = _post(admin, f"/admin/users/{me}", f"/admin/users/{me}", **form)
    assert "error=" not in saved.headers["location"]
    user = _user(web_engine, "u_secadmin")
    assert user.full_name == "安全员" and user.max_confidentiality == 0 and user.valid_until is None


# --- L10: a per-address throttle --------------------------------------------------------------------

def test_an_address_with_many_failures_is_refused_before_any_password_check(web_engine, world):
    for attempt in range(10):
        with session_factory(web_engine)() as session:
            with pytest.raises(LoginRefused):
                login(session, f"nobody-{attempt}", "Wrong#Pass1", "10.1.1.1")
            session.commit()
    with session_factory(web_engine)() as session, pytest.raises(LoginRefused, match="该地址登录失败次数过多"):
        login(session, "u_nurse", PASSWORD, "10.1.1.1")
    with session_factory(web_engine)() as session:
        assert login(session, "u_nurse", PASSWORD, "10.1.1.2").web_session is not None


# --- the first administrator's password and sealed authenticator secrets ----------------------------

def test_the_first_admin_password_file_goes_once_the_password_is_changed(app, web_engine, tmp_path):
    home = app.state.settings.resolved_home
    password_file = home / "admin-password.txt"
    with session_factory(web_engine)() as session, session.begin():
        session.execute(sa.delete(User).where(User.username.like("u_%")))  # an empty system
    with session_factory(web_engine)() as session, session.begin():
        first = ensure_first_admin(session, password_file)
    with session_factory(web_engine)() as session, session.begin():
        assert ensure_first_admin(session, password_file) == first  # shown again until changed
    client = TestClient(app)
    assert sign_in(client, "admin", first).headers["location"] == "/account/totp"
    new_secret = NEW_SECRET.search(client.get("/account/totp").text).group(1)
    _post(client, "/account/totp", "/account/totp", code=_code(new_secret))
    response = _post(client, "/account/password", "/account/password", current=first, new="Nq8#vTe4!pRw2",
                     confirm="Nq8#vTe4!pRw2")
    assert response.status_code == 303 and not password_file.exists()
    with session_factory(web_engine)() as session, session.begin():
        assert ensure_first_admin(session, password_file) is None


def test_a_stale_first_admin_password_file_is_removed_at_start(web_engine, app):
    password_file = app.state.settings.resolved_home / "admin-password.txt"
    password_file.write_text("Old#Password9\n")
    with session_factory(web_engine)() as session, session.begin():
        assert ensure_first_admin(session, password_file) is None
    assert not password_file.exists()


def test_authenticator_secrets_are_stored_sealed(app, web_engine, world):
    assert sign_in(TestClient(app), "u_secadmin").status_code == 303  # an old clear secret, sealed at use
    stored = _user(web_engine, "u_secadmin").totp_secret
    assert stored.startswith("sealed:") and TOTP_SECRET not in stored
    _change(web_engine, "u_auditor", totp_secret="")
    client = TestClient(app)
    sign_in(client, "u_auditor", totp=False)
    new_secret = NEW_SECRET.search(client.get("/account/totp").text).group(1)
    with session_factory(web_engine)() as session:
        pending = session.get(TotpEnrolment, world.users["auditor"].id).pending_secret
    assert pending.startswith("sealed:") and new_secret not in pending
    _post(client, "/account/totp", "/account/totp", code=_code(new_secret))
    stored = _user(web_engine, "u_auditor").totp_secret
    assert stored.startswith("sealed:") and new_secret not in stored


def test_the_security_settings_page_keeps_every_setting_it_saves(client_for, web_engine):
    """Each setting has its field: saving the page never resets one to its default."""
    admin = client_for("secadmin")
    form = admin.get("/admin/security").text
    values = dict(re.findall(r'<input name="(\w+)" type="number"[^>]*value="(\d+)"', form))
    assert set(values) >= {field.name for field in fields(SecuritySettings)}
    values.update(session_max_hours="8", address_failures="20", address_minutes="30", password_history="3")
    assert _post(admin, "/admin/security", "/admin/security", **values).status_code == 303
    assert _post(admin, "/admin/security", "/admin/security", **dict(re.findall(
        r'<input name="(\w+)" type="number"[^>]*value="(\d+)"', admin.get("/admin/security").text))).status_code == 303
    with session_factory(web_engine)() as session:
        saved = security_settings(session)
    assert (saved.session_max_hours, saved.address_failures, saved.address_minutes, saved.password_history) \
        == (8, 20, 30, 3)
