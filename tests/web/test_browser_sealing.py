"""Sealing in a real browser (Debian chromium, headless): medical affairs applies on the record
page with the parties present and a photo taken on the spot, the record room approves, the seal
page shows the package being built and then offers it, the downloaded package verifies with
`bingan inspect`, and the record refuses viewing for every role. Screenshots in tests/artifacts/;
no page breaks the Content-Security-Policy."""
from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import pyotp
import pytest
import sqlalchemy as sa
from test_browser_daily_work import ARGS, ARTIFACTS, CHROMIUM, login, server  # noqa: F401
from web_helpers import TOTP_SECRET
from world import PASSWORD, ROLES

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "records" / "sealing"))

from sealing_support import PATIENT_ID, build_packages

from bingan import broker
from bingan.storage.db import session_factory
from bingan.storage.models.sealing import Seal

pytestmark = pytest.mark.browser
PHOTO = b"\xff\xd8\xff\xe0" + b"JFIF-photo-of-the-sealing" * 40


@pytest.fixture
def people(server, monkeypatch):  # noqa: F811
    """One browser, a separate context (cookie jar) per person."""
    from playwright.sync_api import sync_playwright

    monkeypatch.setattr(broker, "celery_app", broker.make_celery())
    ARTIFACTS.mkdir(exist_ok=True)
    blocked: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)

        def person(username: str):
            context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN",
                                          accept_downloads=True)
            page = context.new_page()
            page.on("console", lambda message: blocked.append(message.text)
                    if "Content Security Policy" in message.text else None)
            login(page, server, username, PASSWORD)
            page.wait_for_url(lambda url: url.endswith("/") or "/login/totp" in url)
            if "/login/totp" in page.url:
                page.fill("input[name=code]", pyotp.TOTP(TOTP_SECRET).now())
                page.click("form:has(input[name=code]) button[type=submit]")
            page.wait_for_load_state()
            return page
        yield person, server, blocked
        browser.close()


def _apply(affairs, base: str, record_id: int) -> int:
    affairs.goto(f"{base}/records/{record_id}")
    affairs.click("#seal-link a")
    affairs.fill("#seal-form textarea[name=reason]", "患方对术后并发症有异议，申请封存病历")
    affairs.fill("#seal-form textarea[name=dispute]", "术后吻合口瘘，家属要求封存")
    names, ids = affairs.locator("input[name=party_name]"), affairs.locator("input[name=party_id]")
    names.nth(0).fill("王建国")
    ids.nth(0).fill(PATIENT_ID)
    names.nth(2).fill("医务处 张干事")
    affairs.screenshot(path=str(ARTIFACTS / "sealing-01-apply.png"))
    affairs.click("#seal-form button[type=submit]")
    affairs.wait_for_url("**/approvals/*")
    affairs.set_input_files("input[name=file]", files=[{"name": "现场照片.jpg", "mimeType": "image/jpeg",
                                                          "buffer": PHOTO}])
    affairs.click("form[action='/approvals/attachments'] button[type=submit]")
    affairs.wait_for_selector("text=现场照片.jpg")
    return int(affairs.url.rsplit("/", 1)[1])


def test_seal_with_a_photo_approved_package_built_and_verified_record_refused_to_everyone(
        people, web_engine, world, tmp_path):
    from typer.testing import CliRunner

    from bingan.cli.app import app as cli

    person, base, blocked = people
    record_id = world.records["normal"].id
    affairs, archivist = person("u_medical_affairs"), person("u_archivist")
    approval = _apply(affairs, base, record_id)

    archivist.goto(f"{base}/approvals/{approval}")
    assert "现场照片.jpg" in archivist.inner_text("main")
    archivist.fill("#decision textarea[name=opinion]", "双方在场，资料齐全，同意封存")
    archivist.click("#decision button[value=approve]")
    archivist.wait_for_selector("#status:has-text('已通过')")

    with session_factory(web_engine)() as session:
        seal_id = session.scalars(sa.select(Seal.id)).one()
    affairs.goto(f"{base}/sealing/{seal_id}")
    assert affairs.locator(".job-progress progress").count() == 1  # queued: the worker has not started
    affairs.screenshot(path=str(ARTIFACTS / "sealing-02-package-queued.png"))
    worker = threading.Thread(target=build_packages, args=(web_engine,))
    worker.start()
    affairs.wait_for_selector("#download-package", timeout=60_000)  # the page reloads once the job is done
    worker.join()
    affairs.screenshot(path=str(ARTIFACTS / "sealing-03-package-ready.png"))

    with affairs.expect_download() as download:
        affairs.click("#download-package")
    package = tmp_path / "封存件.pdf"
    download.value.save_as(package)
    result = CliRunner().invoke(cli, ["inspect", str(package), "--json", "--ocr", "no"])
    report = json.loads(result.stdout)
    assert result.exit_code == 0 and report["manifest"]["intact"]
    assert report["manifest"]["files"] == 2  # the record's one document as PDF and as OFD
    assert "签名完整" in report["signatures"][0]["reason"]

    for role in ROLES:
        page = {"medical_affairs": affairs, "archivist": archivist}.get(role) or person(f"u_{role}")
        answer = page.goto(f"{base}/records/{record_id}")
        assert answer.status == 403 and "病案已封存" in page.inner_text("main"), role
    archivist.screenshot(path=str(ARTIFACTS / "sealing-04-refused.png"))
    assert blocked == []
