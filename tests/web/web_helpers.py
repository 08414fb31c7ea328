"""Helpers shared by the web tests and bench/web.py: CSRF tokens, signing in, indexing the test hospital."""
from __future__ import annotations

import re

import pyotp
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from bingan.config import get_settings
from bingan.storage.db import session_factory

PASSWORD = "Xk7#mPq2$wLz9"


TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def index_world(engine: Engine) -> None:
    """Index every stored page the way the ingest pipeline does."""
    import sqlalchemy as sa

    from bingan.ingest.indexing import page_docs_for_versions
    from bingan.search.factory import open_search_index
    from bingan.storage.models import Version

    with session_factory(engine)() as session:
        docs = page_docs_for_versions(session, session.scalars(sa.select(Version.id)).all())
    index = open_search_index(get_settings())
    index.add(docs)
    index.commit()
    index.close()


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


def sign_in(client: TestClient, username: str, password: str = PASSWORD, totp: bool = True):
    page = client.get("/login")
    response = client.post("/login", data={"username": username, "password": password,
                                           "csrf_token": csrf_of(page.text), "next": "/"},
                           follow_redirects=False)
    if totp and response.status_code == 303 and response.headers["location"] == "/login/totp":
        form = client.get("/login/totp")
        response = client.post("/login/totp", data={"code": pyotp.TOTP(TOTP_SECRET).now(),
                                                     "csrf_token": csrf_of(form.text)}, follow_redirects=False)
    return response


def csrf_headers(client: TestClient, path: str = "/settings") -> dict[str, str]:
    return {"X-CSRF-Token": csrf_of(client.get(path).text)}
