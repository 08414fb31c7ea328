"""Single sign-on through OpenID Connect (authorization code + PKCE) against the npm oidc-provider
running on loopback: users found by staff number, created at first sign-on only when the hospital
allows it, the provider's MFA standing in for the TOTP step, password login closed to SSO users,
and logout ending the provider's session too."""
from __future__ import annotations

import httpx
import pytest
import sqlalchemy as sa
from sso_support import CLIENT_ID, CLIENT_SECRET, bingan_client, idp_accounts, oidc_provider, oidc_sign_on, sso_app
from web_helpers import csrf_of
from world import PASSWORD

from bingan.storage.db import session_factory
from bingan.storage.models import AuditEvent, User, WebSession
from bingan.storage.models.sso import SsoIdentity


@pytest.fixture
def issuer(world):
    with oidc_provider(idp_accounts(world), ["http://testserver"]) as url:
        yield url


def _settings(issuer: str, **more) -> dict:
    return {"sso": "oidc", "oidc_issuer": issuer, "oidc_client_id": CLIENT_ID,
            "oidc_client_secret": CLIENT_SECRET, **more}


@pytest.fixture
def idp():
    with httpx.Client(follow_redirects=False, timeout=15) as client:
        yield client


def _login_events(engine) -> list[dict]:
    with session_factory(engine)() as session:
        return [event.detail for event in session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "login"))]


def test_a_provider_login_opens_the_session_of_the_user_with_that_staff_number(web_engine, world, issuer, idp):
    with sso_app(web_engine, **_settings(issuer)) as app, bingan_client(app) as client:
        answer = oidc_sign_on(client, idp, "u_clinician", next_path="/search")
        assert answer.status_code == 303 and answer.headers["location"] == "/search"
        assert client.get("/").status_code == 200
    with session_factory(web_engine)() as session:
        identity = session.scalars(sa.select(SsoIdentity)).one()
        assert identity.user_id == world.users["clinician"].id and identity.subject == f"{issuer}|u_clinician"
        assert session.scalars(sa.select(WebSession.login_method)).all() == ["oidc"]
    assert _login_events(web_engine)[-1]["方式"] == "统一身份认证 (OIDC)"


def test_the_totp_step_is_still_owed_unless_the_provider_asserts_a_second_factor(web_engine, world, issuer, idp):
    assert world.users["secadmin"].totp_secret  # an administrator: second factor required
    with sso_app(web_engine, **_settings(issuer)) as app:
        with bingan_client(app) as client:
            assert oidc_sign_on(client, idp, "u_secadmin").headers["location"] == "/login/totp"
        idp.cookies.clear()
        with bingan_client(app) as client:
            assert oidc_sign_on(client, idp, "u_secadmin", otp=True).headers["location"] == "/"
    assert _login_events(web_engine)[-1]["二次验证"] == "已由身份认证方完成"


def test_an_unknown_staff_number_is_refused_unless_first_sign_on_may_create_the_user(web_engine, world, issuer, idp):
    with sso_app(web_engine, **_settings(issuer)) as app, bingan_client(app) as client:
        refused = oidc_sign_on(client, idp, "newcomer")
        assert refused.status_code == 401 and "工号 N7001 在病案系统中没有账号" in refused.text
    idp.cookies.clear()
    with sso_app(web_engine, **_settings(issuer, sso_create_users=True, sso_default_role="nurse")) as app, \
            bingan_client(app) as client:
        assert oidc_sign_on(client, idp, "newcomer").status_code == 303
    with session_factory(web_engine)() as session:
        created = session.scalars(sa.select(User).where(User.staff_number == "N7001")).one()
        assert (created.username, created.full_name, [r.code for r in created.roles]) == ("N7001", "新医生", ["nurse"])
        assert created.password_hash == ""


def test_password_login_is_closed_to_sso_users_when_the_hospital_says_so(web_engine, world, issuer, idp):
    with sso_app(web_engine, **_settings(issuer, sso_password_login=False)) as app:
        with bingan_client(app) as client:
            oidc_sign_on(client, idp, "u_clinician")
        with bingan_client(app) as client:
            form = client.get("/login")
            refused = client.post("/login", data={"username": "u_clinician", "password": PASSWORD,
                                                  "csrf_token": csrf_of(form.text), "next": "/"})
            assert refused.status_code == 401 and "须通过统一身份认证或 CA 证书登录" in refused.text
            form = client.get("/login")
            other = client.post("/login", data={"username": "u_nurse", "password": PASSWORD,
                                                "csrf_token": csrf_of(form.text), "next": "/"})
            assert other.status_code == 303  # never signed on through the provider: password as before


def test_logout_ends_the_provider_session_too(web_engine, world, issuer, idp):
    with sso_app(web_engine, **_settings(issuer)) as app, bingan_client(app) as client:
        oidc_sign_on(client, idp, "u_clinician")
        home = client.get("/")
        answer = client.post("/logout", data={"csrf_token": csrf_of(home.text)})
        assert answer.headers["location"] == "/login/sso/logout?via=oidc"
        onward = client.get(answer.headers["location"])
        assert f'href="{issuer}/session/end?client_id={CLIENT_ID}' in onward.text
        assert client.get("/").status_code == 303  # Bingan's own session has ended


def test_a_callback_not_started_here_is_refused(web_engine, world, issuer):
    with sso_app(web_engine, **_settings(issuer)) as app, bingan_client(app) as client:
        answer = client.get("/login/sso/callback", params={"code": "stolen", "state": "x"})
        assert answer.status_code == 401 and "重新登录" in answer.text
        client.get("/login/sso")
        forged = client.get("/login/sso/callback", params={"code": "stolen", "state": "not-the-state"})
        assert forged.status_code == 401 and "不符" in forged.text
