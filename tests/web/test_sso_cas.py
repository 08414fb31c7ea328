"""Single sign-on through CAS against the CAS peer (built from the protocol specification): 3.0
validation with attributes, 2.0 validation with the CAS user name as staff number, a ticket that
validates only once, and logout ending the CAS session."""
from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest
from sso_support import IDP_PASSWORD, bingan_client, sso_app
from web_helpers import csrf_of

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/peers as the "peers" package
from peers.cas import CasPeer


@pytest.fixture
def cas_server(world):
    accounts = {user.username: {"password": IDP_PASSWORD, "attributes": {"staff_number": user.staff_number,
                                                                          "name": user.full_name}}
                for user in world.users.values()}
    accounts["S0006"] = {"password": IDP_PASSWORD}  # a CAS that names people by staff number (2.0)
    with CasPeer(accounts) as peer:
        yield peer


def _cas_sign_on(client, login: str) -> httpx.Response:
    start = client.get("/login/sso")
    assert start.status_code == 303
    with httpx.Client(follow_redirects=False, timeout=15) as browser:
        form = browser.get(start.headers["location"])
        service = form.text.split('name="service" value="')[1].split('"')[0]
        back = browser.post(str(form.url), data={"username": login, "password": IDP_PASSWORD,
                                                 "service": service.replace("&amp;", "&")})
    return client.get(back.headers["location"].removeprefix("http://testserver"))


def test_cas3_ticket_with_staff_number_attribute_signs_the_user_in(web_engine, world, cas_server):
    with sso_app(web_engine, sso="cas", cas_url=cas_server.url) as app, bingan_client(app) as client:
        answer = _cas_sign_on(client, "u_clinician")
        assert answer.status_code == 303 and answer.headers["location"] == "/"
        assert world.users["clinician"].full_name in client.get("/").text
    assert cas_server.state.validations == ["/cas/p3/serviceValidate"]


def test_cas2_validation_takes_the_cas_user_as_staff_number(web_engine, world, cas_server):
    with sso_app(web_engine, sso="cas", cas_url=cas_server.url, cas_version="2", sso_staff_claim="user") as app, \
            bingan_client(app) as client:
        assert _cas_sign_on(client, "S0006").status_code == 303
        assert world.users["clinician"].full_name in client.get("/").text  # S0006 is the clinician's number
    assert cas_server.state.validations == ["/cas/serviceValidate"]


def test_a_ticket_validates_once(web_engine, world, cas_server):
    with sso_app(web_engine, sso="cas", cas_url=cas_server.url) as app, bingan_client(app) as client:
        start = client.get("/login/sso")
        with httpx.Client(follow_redirects=False, timeout=15) as browser:
            form = browser.get(start.headers["location"])
            service = form.text.split('name="service" value="')[1].split('"')[0]
            back = browser.post(str(form.url), data={"username": "u_clinician", "password": IDP_PASSWORD,
                                                     "service": service})
        callback = back.headers["location"].removeprefix("http://testserver")
        assert client.get(callback).status_code == 303
        client.cookies.clear()
        client.get("/login/sso")  # a fresh attempt in the same browser, replaying the old ticket
        replay = client.get(callback)
        assert replay.status_code == 401 and "INVALID_TICKET" in replay.text


def test_logout_sends_the_browser_to_cas_logout(web_engine, world, cas_server):
    with sso_app(web_engine, sso="cas", cas_url=cas_server.url) as app, bingan_client(app) as client:
        _cas_sign_on(client, "u_clinician")
        answer = client.post("/logout", data={"csrf_token": csrf_of(client.get("/").text)})
        onward = client.get(answer.headers["location"])
        assert f'href="{cas_server.url}/logout?service=http%3A%2F%2Ftestserver%2Flogin"' in onward.text
