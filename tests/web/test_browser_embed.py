"""The embed link in a real browser (Debian chromium, headless), W1–W3: a workstation's page on an
allowed origin frames a fresh signed link and the QC page renders inside the frame for that member
of staff; a page on another origin gets nothing of ours in its frame (frame-ancestors); the same link
opened again shows the Chinese refusal. The host pages are served by a second and a third loopback
server (another port is another origin, the same site, so the session cookie needs no HTTPS)."""
from __future__ import annotations

import html
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from test_browser_daily_work import ARGS, ARTIFACTS, CHROMIUM, server  # noqa: F401
from test_embed_links import link
from test_qc_api import _api

pytestmark = pytest.mark.browser


class _HostPage(BaseHTTPRequestHandler):
    """A workstation's page: one iframe whose address is the ``src`` query parameter."""

    def do_GET(self) -> None:
        src = parse_qs(urlsplit(self.path).query).get("src", [""])[0]
        body = (f'<!doctype html><html><head><meta charset="utf-8"><title>医生工作站</title></head><body>'
                f'<h1>医生工作站</h1><iframe id="bingan" src="{html.escape(src)}" width="1200" height="700">'
                f'</iframe></body></html>').encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@contextmanager
def _host() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _HostPage)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def workstations(client_for, web_engine):
    """The allowed host (on the system's allow-list) and another one, and the system's secret."""
    import sqlalchemy as sa

    from bingan.storage.db import session_factory
    from bingan.storage.models import User

    with _host() as allowed, _host() as other:
        made = _api(client_for("secadmin"), "POST", "/api/v1/integration/systems",
                    {"code": "emr_doctor", "name": "医生工作站", "origins": [allowed]})
        assert made.status_code == 201, made.text
        with session_factory(web_engine)() as session, session.begin():
            session.scalars(sa.select(User).where(User.username == "u_qc")).one().staff_number = "Q0042"
        yield allowed, other, made.json()["secret"]


def _open(playwright_browser, host: str, url: str, console: list[str]):
    page = playwright_browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN").new_page()
    page.on("console", lambda message: console.append(message.text))
    page.goto(f"{host}/?{urlencode({'src': url})}")
    page.wait_for_load_state("load")
    return page


def _frame_text(page) -> str:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        return page.frame_locator("#bingan").locator("body").inner_text(timeout=5000)
    except PlaywrightTimeout:  # a blocked frame has no body of ours
        return ""


def test_an_embed_link_opens_qc_in_an_allowed_frame_only_and_once(server, workstations):  # noqa: F811
    from playwright.sync_api import sync_playwright

    allowed, other, secret = workstations
    ARTIFACTS.mkdir(exist_ok=True)
    params = link(secret)
    url = f"{server}/embed?{urlencode(params)}"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        console: list[str] = []

        framed = _open(chromium, allowed, url, console)
        framed.frame_locator("#bingan").locator("text=测试qc").first.wait_for(timeout=15000)
        inside = next(frame for frame in framed.frames if frame.parent_frame is not None)
        assert inside.url == f"{server}/qc"
        assert "归档质控" in _frame_text(framed)
        framed.screenshot(path=str(ARTIFACTS / "embed-01-allowed-origin.png"))
        assert not [text for text in console if "frame-ancestors" in text]

        refused_console: list[str] = []
        blocked = _open(chromium, other, f"{server}/embed?{urlencode(link(secret))}", refused_console)
        blocked.wait_for_timeout(1500)
        inside = next(frame for frame in blocked.frames if frame.parent_frame is not None)
        assert not inside.url.startswith(server)
        assert "测试qc" not in _frame_text(blocked) and "归档质控" not in _frame_text(blocked)
        assert [text for text in refused_console if "frame-ancestors" in text]
        blocked.screenshot(path=str(ARTIFACTS / "embed-02-other-origin.png"))

        replayed = _open(chromium, allowed, url, [])
        replayed.frame_locator("#bingan").locator("text=已使用过").first.wait_for(timeout=15000)
        assert "测试qc" not in _frame_text(replayed)
        replayed.screenshot(path=str(ARTIFACTS / "embed-03-replayed.png"))
        chromium.close()
