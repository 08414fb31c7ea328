"""Identity providers on loopback for the sign-on tests: the npm `oidc-provider` (started with node)
and the CAS peer; an app whose settings point at them; the browser's part of the dance, walked with
an httpx client holding the provider's cookies."""
from __future__ import annotations

import json
import os
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from web_helpers import index_world

from bingan.access.sso import oidc
from bingan.config import get_settings
from bingan.storage.db import _engines
from bingan.web.app import create_app

ROOT = Path(__file__).resolve().parents[2]
PROVIDER = ROOT / "tests" / "peers" / "oidc" / "provider.mjs"
CLIENT_ID, CLIENT_SECRET = "bingan-archive", "bingan-peer-secret-0123456789"
IDP_PASSWORD = "idp-pass"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def idp_accounts(world) -> dict[str, dict]:
    """One provider account per test user, named like the user, carrying the user's staff number."""
    accounts = {user.username: {"password": IDP_PASSWORD,
                                "claims": {"name": user.full_name, "staff_number": user.staff_number}}
                for user in world.users.values()}
    accounts["newcomer"] = {"password": IDP_PASSWORD, "claims": {"name": "新医生", "staff_number": "N7001"}}
    return accounts


@contextmanager
def oidc_provider(accounts: dict[str, dict], bingan_bases: list[str]) -> Iterator[str]:
    """A running oidc-provider for these accounts, accepting Bingan at the given base URLs."""
    if not (ROOT / "node_modules" / "oidc-provider").exists():
        if os.environ.get("BINGAN_REQUIRE_SERVICES") == "1":
            pytest.fail("node_modules/oidc-provider is missing (npm install)")
        pytest.skip("oidc-provider not installed (npm install)")
    port = free_port()
    config = {"port": port, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "accounts": accounts,
              "redirect_uris": [f"{base}/login/sso/callback" for base in bingan_bases],
              "post_logout_redirect_uris": [f"{base}/login" for base in bingan_bases]}
    environment = {**os.environ, "OIDC_PEER_CONFIG": json.dumps(config)}
    process = subprocess.Popen(["node", str(PROVIDER)], cwd=ROOT, env=environment, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    try:
        line = process.stdout.readline()
        assert line.startswith("READY"), f"oidc-provider did not start: {line!r}"
        oidc._discovered.clear()  # every provider is new: its keys too
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


@contextmanager
def sso_app(web_engine, **settings_changes):
    settings = get_settings().model_copy(update=settings_changes)
    index_world(web_engine)
    _engines[settings.resolved_database_url] = web_engine
    try:
        yield create_app(settings)
    finally:
        _engines.pop(settings.resolved_database_url, None)


def bingan_client(app, address: str = "127.0.0.1") -> TestClient:
    return TestClient(app, base_url="http://testserver", client=(address, 50000), follow_redirects=False)


def oidc_sign_on(client: TestClient, idp: httpx.Client, login: str, password: str = IDP_PASSWORD,
                 otp: bool = False, next_path: str = "/") -> httpx.Response:
    """Bingan's redirect, the provider's login page, and Bingan's callback: Bingan's last answer."""
    start = client.get("/login/sso", params={"next": next_path})
    assert start.status_code == 303, start.text
    answer = _until_bingan(idp, idp.get(start.headers["location"]))
    if not answer.is_redirect:  # the provider's login form
        form = {"login": login, "password": password, **({"otp": "1"} if otp else {})}
        answer = _until_bingan(idp, idp.post(str(answer.url), data=form))
    callback = answer.headers["location"].removeprefix("http://testserver")
    return client.get(callback)



def _until_bingan(idp: httpx.Client, answer: httpx.Response) -> httpx.Response:
    """Follow the provider's own redirects; stop at its page or at the one back to Bingan."""
    while answer.is_redirect and not answer.headers["location"].startswith("http://testserver"):
        answer = idp.get(answer.url.join(answer.headers["location"]))
    return answer
