"""The HTTP edge: Content-Security-Policy, the API docs behind the login, who the client is (trusted
proxies only), request body limits, Secure cookies and HSTS, and what /healthz and /vendor/ reveal."""
from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from test_browser_daily_work import browser_page, login, server  # noqa: F401 (fixtures)
from web_helpers import csrf_of, sign_in
from world import PASSWORD

from bingan.access.addresses import canonical_address
from bingan.access.policy import ip_problem
from bingan.config import get_settings
from bingan.storage.db import session_factory
from bingan.storage.models import AuditEvent, IpRule
from bingan.web.app import create_app

WEB = Path(__file__).resolve().parents[2] / "bingan" / "web"
CHINESE = re.compile(r"[\u4e00-\u9fff]")
INLINE = {
    # a JSON data block (type="application/json") is never executed, and the policy does not govern it
    "inline script": re.compile(r"<script(?![^>]*\b(?:src=|type=\"application/json\"))[^>]*>", re.I),
    "style element": re.compile(r"<style\b", re.I),
    "style attribute": re.compile(r"\sstyle=", re.I),
    "event handler": re.compile(r"\son[a-z]+\s*=", re.I),
    "javascript: URL": re.compile(r"javascript:", re.I),
}


def app_with(**changes):
    """The test app with some settings changed (the `app` fixture has registered the test database)."""
    return create_app(get_settings().model_copy(update=changes))


def add_rule(engine, cidr: str, kind: str = "block") -> None:
    with session_factory(engine)() as session, session.begin():
        session.add(IpRule(cidr=cidr, kind=kind, active=True))


def failed_login_address(client: TestClient, engine, headers: dict[str, str] | None = None) -> str:
    """The client address the audit trail records for a failed sign-in by this client."""
    token = csrf_of(client.get("/login", headers=headers).text)
    client.post("/login", data={"username": "nobody", "password": "x", "csrf_token": token}, headers=headers)
    with engine.connect() as conn:
        return conn.scalar(sa.select(AuditEvent.client_ip).where(AuditEvent.username == "nobody")
                           .order_by(AuditEvent.id.desc()).limit(1))


def call(app, method: str, path: str, headers: list[tuple[bytes, bytes]], chunks: list[bytes]):
    """One request straight into the ASGI app; returns (status, body, number of body chunks it read)."""
    sent: list[dict] = []
    pending = list(chunks)

    async def receive() -> dict:
        if not pending:
            return {"type": "http.disconnect"}
        piece = pending.pop(0)
        return {"type": "http.request", "body": piece, "more_body": bool(pending)}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": b"",
             "headers": headers, "scheme": "http", "server": ("testserver", 80), "client": ("127.0.0.1", 1234),
             "http_version": "1.1", "root_path": "", "app": app}
    asyncio.run(app(scope, receive, send))
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], body.decode(), len(chunks) - len(pending)


FORM = (b"content-type", b"application/x-www-form-urlencoded")


# --- M3: Content-Security-Policy and the API docs ------------------------------------------------

def test_every_answer_carries_a_strict_content_security_policy(client_for):
    anonymous, clinician = client_for("anonymous"), client_for("clinician")
    answers = [anonymous.get("/login"), anonymous.get("/healthz"), anonymous.get("/static/bingan.css"),
               anonymous.get("/no-such-page"), clinician.get("/"), clinician.get("/api/v1/history")]
    for response in answers:
        policy = response.headers["content-security-policy"]
        for directive in ("default-src 'self'", "script-src 'self'", "style-src 'self'", "object-src 'none'",
                          "frame-ancestors 'none'", "form-action 'self'", "base-uri 'self'",
                          "img-src 'self' data: blob:"):
            assert directive in policy, (response.url, directive)
        assert "unsafe" not in policy


@pytest.mark.parametrize("path", sorted((WEB / "templates").rglob("*.html")), ids=lambda p: p.name)
def test_templates_have_no_inline_script_style_or_event_handler(path):
    text = path.read_text()
    found = [name for name, pattern in INLINE.items() if pattern.search(text)]
    assert found == [], f"{path.relative_to(WEB)}: {found} (the Content-Security-Policy blocks them)"


def test_pages_as_rendered_have_no_inline_script_or_style(client_for, world):
    clinician = client_for("clinician")
    record = world.records["normal"]
    document = world.documents["normal"][0]
    for url in ("/", f"/records/{record.id}", f"/documents/{document.id}/pages/1", "/settings"):
        html = clinician.get(url).text
        assert [name for name, pattern in INLINE.items() if pattern.search(html)] == [], url


def test_api_docs_and_description_need_a_login(client_for):
    anonymous = client_for("anonymous")
    for path in ("/api/docs", "/api/v1/openapi.json"):
        response = anonymous.get(path, follow_redirects=False)
        assert response.status_code in (303, 401), path
        assert "openapi" not in response.text and "swagger" not in response.text.lower()


def test_api_docs_load_their_assets_from_this_server(client_for):
    clinician = client_for("clinician")
    page = clinician.get("/api/docs")
    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets and all(asset.startswith("/") and not asset.startswith("//") for asset in assets), assets
    for asset in assets:
        assert clinician.get(asset).status_code == 200, asset
    assert "/api/v1/search" in clinician.get("/api/v1/openapi.json").json()["paths"]


# --- M7: who the client is ---------------------------------------------------------------------

def test_forwarded_for_is_ignored_when_no_proxy_is_trusted(app, web_engine):
    with TestClient(app, client=("127.0.0.1", 5000)) as client:
        address = failed_login_address(client, web_engine, {"X-Forwarded-For": "10.66.1.2"})
    assert address == "127.0.0.1"


def test_forwarded_for_from_an_untrusted_peer_is_ignored(app, web_engine):
    with TestClient(app_with(trusted_proxies="10.0.0.1"), client=("10.0.0.7", 5000)) as client:
        address = failed_login_address(client, web_engine, {"X-Forwarded-For": "10.66.1.2"})
    assert address == "10.0.0.7"


def test_behind_a_trusted_proxy_the_client_is_the_rightmost_untrusted_hop(app, web_engine):
    """Hops left of it were written by the client and prove nothing."""
    with TestClient(app_with(trusted_proxies="10.0.0.0/30, 10.0.1.1"), client=("10.0.0.1", 5000)) as client:
        address = failed_login_address(client, web_engine,
                                       {"X-Forwarded-For": "192.168.9.9, 172.16.5.4, 10.0.1.1"})
    assert address == "172.16.5.4"


def test_a_forwarded_address_is_stored_in_canonical_form(app, web_engine):
    with TestClient(app_with(trusted_proxies="10.0.0.1"), client=("10.0.0.1", 5000)) as client:
        assert failed_login_address(client, web_engine, {"X-Forwarded-For": "2001:DB8:0:0::1"}) == "2001:db8::1"
        assert failed_login_address(client, web_engine, {"X-Forwarded-For": "::ffff:10.66.1.2"}) == "10.66.1.2"


@pytest.mark.parametrize(("written", "canonical"), [
    ("::ffff:10.9.1.2", "10.9.1.2"), ("10.9.1.2:5000", "10.9.1.2"), ("[2001:db8::1]:443", "2001:db8::1"),
    ("fe80::1%eth0", "fe80::1"), ("2001:0DB8:0000::0001", "2001:db8::1"), (" 10.9.1.2 ", "10.9.1.2"),
])
def test_addresses_are_normalised(written, canonical):
    assert canonical_address(written) == canonical


def test_an_ipv4_mapped_address_is_blocked_like_the_ipv4_address(app, web_engine):
    add_rule(web_engine, "10.9.0.0/16")
    with TestClient(app, client=("::ffff:10.9.1.2", 5000)) as client:
        page = client.get("/login")
        response = client.post("/login", data={"username": "u_clinician", "password": "x",
                                               "csrf_token": csrf_of(page.text)})
    assert "已被禁止" in response.text


@pytest.mark.parametrize("address", ["not-an-address", "", "010.9.1.2", "10.9.1"])
def test_an_unreadable_address_never_passes_a_block_rule(web_engine, address):
    add_rule(web_engine, "10.9.0.0/16")
    with session_factory(web_engine)() as session:
        assert ip_problem(session, address) is not None


def test_a_block_rule_written_as_mapped_ipv6_blocks_the_ipv4_client(web_engine):
    add_rule(web_engine, "::ffff:10.9.0.0/112")
    with session_factory(web_engine)() as session:
        assert ip_problem(session, "10.9.1.2") is not None


# --- M9: request bodies are bounded ------------------------------------------------------------

def test_an_oversized_declared_body_is_refused_before_it_is_read(app):
    status, body, read = call(app, "POST", "/login", [FORM, (b"content-length", b"157286400")], [b"x" * 1024])
    assert (status, read) == (413, 0)
    assert CHINESE.search(body)


def test_a_chunked_body_is_stopped_as_soon_as_it_passes_the_limit(app):
    chunks = [b"a" * 16384] * 64  # 1 MiB, no Content-Length
    status, body, read = call(app, "POST", "/login", [FORM], chunks)
    assert status == 413 and "大小上限" in body
    assert read <= 5  # 64 KiB for a form: the fifth chunk passes it


def test_form_routes_take_small_bodies_and_uploads_their_own(app):
    big_form = [FORM, (b"content-length", str(200 * 1024).encode())]
    assert call(app, "POST", "/settings", big_form, [])[0] == 413
    assert call(app, "POST", "/admin/appearance/logo", [(b"content-length", str(2 * 1024**2).encode())], [])[0] == 413
    assert call(app, "POST", "/lookup", [(b"content-length", str(8 * 1024**2).encode())], [])[0] == 413
    assert call(app, "POST", "/admin/leak", [(b"content-length", str(30 * 1024**2).encode())], [])[0] == 413
    # A large bulk lookup (text of 20,000 record numbers) is not refused for its size.
    assert call(app, "POST", "/lookup", [FORM, (b"content-length", str(600 * 1024).encode())], [])[0] != 413


def test_a_lookup_upload_is_read_no_further_than_the_number_limit():
    """A small .xlsx can unpack to millions of rows: reading stops once the limit is passed."""
    import io

    import xlsxwriter

    from bingan.web.lookup.service import MAX_NUMBERS, numbers_from_upload

    buffer = io.BytesIO()
    with xlsxwriter.Workbook(buffer) as book:
        sheet = book.add_worksheet()
        for row in range(MAX_NUMBERS + 5000):
            sheet.write_string(row, 0, f"{row:07d}")
    assert len(numbers_from_upload("list.xlsx", buffer.getvalue())) == MAX_NUMBERS + 1


def test_the_global_limit_caps_every_route(app):
    small = app_with(max_request_mb=1)
    assert call(small, "POST", "/admin/leak", [(b"content-length", str(2 * 1024**2).encode())], [])[0] == 413


def test_a_refused_body_gets_the_chinese_error_page_in_the_browser(client_for):
    response = client_for("anonymous").post("/login", content=b"u=" + b"x" * 100_000,
                                            headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413
    assert "大小上限" in response.text and "<html" in response.text


# --- L12: cookies and HSTS ----------------------------------------------------------------------

def test_over_https_both_cookies_are_secure_and_hsts_is_sent(app):
    with TestClient(app, base_url="https://testserver") as client:
        page = client.get("/login")
        assert "secure" in page.headers["set-cookie"].lower()
        assert page.headers["strict-transport-security"].startswith("max-age=")
        response = sign_in(client, "u_clinician")
        assert "bingan_session=" in response.headers["set-cookie"]
        assert "secure" in response.headers["set-cookie"].lower()


def test_over_plain_http_no_hsts_is_sent(client_for):
    page = client_for("anonymous").get("/login")
    assert "strict-transport-security" not in page.headers
    assert "secure" not in page.headers["set-cookie"].lower()


def test_the_secure_cookies_setting_marks_the_prelogin_cookie_secure_over_http(app):
    with TestClient(app_with(secure_cookies=True)) as client:
        assert "secure" in client.get("/login").headers["set-cookie"].lower()


def test_a_trusted_tls_proxy_makes_the_request_https(app):
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "10.66.1.2"}
    with TestClient(app_with(trusted_proxies="10.0.0.1"), client=("10.0.0.1", 5000)) as client:
        assert "strict-transport-security" in client.get("/login", headers=headers).headers
    with TestClient(app_with(trusted_proxies="10.0.0.1"), client=("10.0.0.9", 5000)) as client:
        assert "strict-transport-security" not in client.get("/login", headers=headers).headers


# --- healthz and vendor -------------------------------------------------------------------------

def test_healthz_says_only_whether_the_service_is_up(client_for):
    response = client_for("anonymous").get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"ok": True}


@pytest.mark.parametrize("path", ["/vendor/", "/vendor/htmx.org/", "/vendor/htmx.org/package.json",
                                  "/vendor/htmx.org/README.md", "/vendor/swagger-ui-dist/package.json",
                                  "/vendor/swagger-ui-dist/index.html", "/vendor/.package-lock.json"])
def test_vendor_serves_nothing_but_the_pages_assets(client_for, path):
    assert client_for("anonymous").get(path).status_code == 404


def test_vendor_serves_the_assets_the_pages_load(client_for):
    anonymous = client_for("anonymous")
    scripts = re.findall(r'src="(/vendor/[^"]+)"', anonymous.get("/login").text)
    assert scripts
    for path in scripts:
        assert anonymous.get(path).status_code == 200


# --- in a real browser: the policy blocks nothing the pages need --------------------------------

@pytest.mark.browser
def test_api_docs_and_pages_work_under_the_policy_in_a_browser(browser_page, world):  # noqa: F811
    page, base = browser_page
    blocked: list[str] = []
    page.on("console", lambda message: blocked.append(message.text)
            if "Content Security Policy" in message.text else None)
    login(page, base, "u_clinician", PASSWORD)
    page.wait_for_selector("#recent")
    page.goto(f"{base}/api/docs")
    page.wait_for_selector(".opblock", timeout=20000)  # Swagger UI rendered the operations
    page.goto(f"{base}/records/{world.records['normal'].id}")
    page.wait_for_selector("#front-page")
    theme = page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--theme')")
    assert theme.strip() == "#1f5f8b"
    assert blocked == []
