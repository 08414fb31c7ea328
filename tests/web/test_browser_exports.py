"""Exporting a record in a real browser (Debian chromium, headless): the archivist fills the record
page's 导出 form (PDF and OFD, the audience's watermark), follows the job's progress, downloads the
zip, and `bingan inspect` verifies the exported PDF and OFD with the hospital certificate shipped in
the zip — and catches one flipped bit. Screenshots in tests/artifacts/; no page breaks the
Content-Security-Policy."""
from __future__ import annotations

import io
import json
import sys
import threading
import zipfile
from pathlib import Path

import pyotp
import pytest
from test_browser_daily_work import ARGS, ARTIFACTS, CHROMIUM, login, server  # noqa: F401
from typer.testing import CliRunner
from web_helpers import TOTP_SECRET
from world import PASSWORD

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "records" / "release"))

from release_support import run_queued_jobs

from bingan import broker
from bingan.cli.app import app as cli
from bingan.records.release import exports
from bingan.records.workflows import install

pytestmark = pytest.mark.browser
AUDIENCE = "仅供商业保险理赔使用"


@pytest.fixture
def archivist(server, monkeypatch):  # noqa: F811
    from playwright.sync_api import sync_playwright

    install()
    monkeypatch.setattr(broker, "celery_app", broker.make_celery())
    ARTIFACTS.mkdir(exist_ok=True)
    blocked: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN").new_page()
        page.on("console", lambda message: blocked.append(message.text)
                if "Content Security Policy" in message.text else None)
        login(page, server, "u_archivist", PASSWORD)
        page.wait_for_url(lambda url: url.endswith("/") or "/login/totp" in url)
        if "/login/totp" in page.url:
            page.fill("input[name=code]", pyotp.TOTP(TOTP_SECRET).now())
            page.click("form:has(input[name=code]) button[type=submit]")
        page.wait_for_load_state()
        yield page, server, blocked
        browser.close()


def inspected(path: Path) -> tuple[int, dict]:
    result = CliRunner().invoke(cli, ["inspect", str(path), "--json", "--ocr", "no"])
    return result.exit_code, json.loads(result.stdout)


def test_an_archivist_exports_a_record_and_inspect_verifies_it_and_catches_a_flipped_bit(
        archivist, web_engine, world, tmp_path, monkeypatch):
    page, base, blocked = archivist
    page.goto(f"{base}/records/{world.records['normal'].id}")
    page.fill("#export-form input[name=watermark]", AUDIENCE)
    page.screenshot(path=str(ARTIFACTS / "export-01-form.png"))
    page.click("#export-form button[type=submit]")
    page.wait_for_url("**/exports/*")
    page.wait_for_selector(".job-progress progress")
    worker = threading.Thread(target=run_queued_jobs, args=(web_engine,))
    worker.start()
    page.wait_for_selector(".job-progress a.button", timeout=90_000)  # the fragment refreshes itself
    worker.join()
    page.screenshot(path=str(ARTIFACTS / "export-02-done.png"))
    download = page.request.get(f"{base}{page.get_attribute('.job-progress a.button', 'href')}")
    archive = zipfile.ZipFile(io.BytesIO(download.body()))
    manifest = json.loads(archive.read(exports.MANIFEST))
    assert manifest["watermark"] == AUDIENCE and {name.rsplit(".", 1)[1] for name in
                                                  (item["file"] for item in manifest["files"])} == {"pdf", "ofd"}

    roots = tmp_path / "roots.pem"
    roots.write_bytes(b"".join(archive.read(name) for name in exports.CERTIFICATES.values()))
    monkeypatch.setenv("BINGAN_SIGNATURE_TRUST_ROOTS", str(roots))
    for kind in ("pdf", "ofd"):
        path = tmp_path / f"exported.{kind}"
        path.write_bytes(archive.read(next(item["file"] for item in manifest["files"] if item["file"].endswith(kind))))
        status, report = inspected(path)
        assert status == 0 and [s["verdict"] for s in report["signatures"]] == ["valid"], report
        data = bytearray(path.read_bytes())
        data[data.index(b"\xff\xd8\xff") + 500 if kind == "ofd" else len(data) // 3] ^= 0x01
        path.write_bytes(bytes(data))
        status, report = inspected(path)
        assert status == 1 and (report["error"] or report["signatures"][0]["verdict"] == "tampered"), report
    assert blocked == []
