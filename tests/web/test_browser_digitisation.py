"""Paper-record capture in a real browser (Debian chromium, headless) with a document camera (高拍仪)
simulated by Chromium's fake camera playing a video of a page lying on a dark desk: the operator
opens the record by typing its label as a USB barcode scanner does, shoots pages (cut to the page
edge on the server), a shot from a shaking camera is flagged blurred on its thumbnail, "拍摄完成"
is refused while paper is missing, the reviewer rejects the blurred page as 图像模糊 and passes the
others, the operator re-shoots it from the rework queue, re-review passes it, and the record is
finished and archived in one click. Screenshots in tests/artifacts/ (copied to docs/screenshots/);
no page breaks the Content-Security-Policy."""
from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path

import pyotp
import pytest
import sqlalchemy as sa
from PIL import Image, ImageFilter
from test_browser_daily_work import ARGS, ARTIFACTS, CHROMIUM, login, server  # noqa: F401
from web_helpers import TOTP_SECRET
from world import PASSWORD

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "records" / "digitisation"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "records" / "completeness"))

from completeness_support import ORDINARY, make_record
from pages import text_page

from bingan import broker
from bingan.ingest.pipeline import Pipeline, process_item
from bingan.storage.db import session_factory
from bingan.storage.models import CollectedItem, Record

pytestmark = pytest.mark.browser
TABLE = (60, 52, 45)  # the dark desk under the camera
ON_PAPER = ("入院记录", "体温单")  # the stay's documents that exist only on paper


def page_on_desk() -> Image.Image:
    """One 1920×1080 camera frame: an A4 page lying on the desk."""
    frame = Image.new("RGB", (1920, 1080), TABLE)
    frame.paste(text_page().resize((682, 965)), (700, 60))
    return frame


def y4m(path: Path, frame: Image.Image, frames: int = 3) -> Path:
    """A raw video (YUV4MPEG2, 4:2:0) showing the frame still: what --use-file-for-fake-video-capture plays."""
    y, cb, cr = frame.convert("YCbCr").split()
    half = (frame.width // 2, frame.height // 2)
    planes = y.tobytes() + cb.resize(half).tobytes() + cr.resize(half).tobytes()
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{frame.width} H{frame.height} F15:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n" + planes)
    return path


@pytest.fixture
def paper_record(web_engine, world) -> Record:
    with session_factory(web_engine)() as session, session.begin():
        record = make_record(session, "0300001", documents=tuple(n for n in ORDINARY if n not in ON_PAPER))
        session.expunge(record)
        return record


@contextmanager
def camera_browser(playwright, base: str, video: Path, blocked: list[str], cookies: list | None = None):
    """The operator's browser with the document camera (the video) plugged in, signed in (or
    carrying the session of another window: a TOTP code is accepted once)."""
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=[
        *ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={video}"])
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    context.grant_permissions(["camera"], origin=base)
    page = context.new_page()
    page.on("console", lambda message: blocked.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.on("dialog", lambda dialog: dialog.accept())
    if cookies:
        context.add_cookies(cookies)
    else:
        login(page, base, "u_archivist", PASSWORD)
        page.wait_for_url(lambda url: url.endswith("/") or "/login/totp" in url)
        if "/login/totp" in page.url:
            page.fill("input[name=code]", pyotp.TOTP(TOTP_SECRET).now())
            page.click("form:has(input[name=code]) button[type=submit]")
        page.wait_for_load_state()
    try:
        yield page
    finally:
        browser.close()


def shoot(page, expected: int) -> None:
    """拍摄, and wait until the pages panel shows ``expected`` pages."""
    page.wait_for_selector("#shoot:not([disabled])")
    page.click("#shoot")
    page.locator("li.scan-thumb").nth(expected - 1).wait_for()  # no wait_for_function: the policy forbids eval
    page.wait_for_selector("#shoot:not([disabled])")


def run_pipeline(engine) -> None:
    """What the worker does with the scanned documents queued by capture and re-shot."""
    with engine.connect() as connection:
        waiting = connection.scalars(sa.select(CollectedItem.id).where(CollectedItem.state.in_(
            ("pending", "fetched", "stored", "extracted"))).order_by(CollectedItem.id)).all()
    for item_id in waiting:
        process_item(Pipeline(engine=engine), item_id)


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_load_state("networkidle")  # the thumbnails in view are drawn
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_a_paper_record_is_captured_a_blurred_page_rejected_and_reshot_and_the_record_completes(
        server, paper_record, web_engine, tmp_path, monkeypatch):  # noqa: F811
    from playwright.sync_api import sync_playwright

    monkeypatch.setattr(broker, "celery_app", broker.make_celery())
    sharp = y4m(tmp_path / "page.y4m", page_on_desk())
    shaky = y4m(tmp_path / "shaky.y4m", page_on_desk().filter(ImageFilter.GaussianBlur(3)))
    blocked: list[str] = []
    capture_url = f"{server}/digitisation/capture/{paper_record.id}"
    with sync_playwright() as playwright, camera_browser(playwright, server, sharp, blocked) as page, \
            camera_browser(playwright, server, shaky, blocked, page.context.cookies()) as shaking:
        # The operator scans the record's label: the scanner types "病案号-住院次数" and Enter.
        page.goto(f"{server}/digitisation/capture")
        page.fill("#label-input", "0300001-1")
        page.press("#label-input", "Enter")
        page.wait_for_url(capture_url)
        page.wait_for_selector("#shoot:not([disabled])")
        assert [m.inner_text() for m in page.query_selector_all(".missing-category")] == ["入院记录", "体温单"]
        assert page.input_value("#shoot-category") == "C02"  # the first category still missing
        shoot(page, 1)
        first = page.query_selector(".scan-thumb")
        assert first.query_selector(".quality-reason") is None and "入院记录第 1 页" in page.inner_text("#shoot-status")
        screenshot(page, "digitisation-01-capture")

        # The second page is shot while the camera shakes: flagged on its thumbnail.
        shaking.goto(capture_url)
        shaking.select_option("#shoot-category", label="入院记录")  # the page offers 体温单, still missing
        shoot(shaking, 2)
        blurred = shaking.query_selector_all(".scan-thumb")[1]
        assert "图像模糊" in blurred.inner_text() and "质量提示" in shaking.inner_text("#shoot-status")
        blurred_id = int(blurred.get_attribute("data-page-id"))
        screenshot(shaking, "digitisation-02-blurred")

        # 拍摄完成 is refused while the temperature chart (体温单) is not captured.
        page.goto(capture_url)
        page.click("#finish-button")
        page.wait_for_selector("#capture-error")
        assert "以下必需的纸质分类尚未拍摄：体温单" in page.inner_text("#capture-error")
        screenshot(page, "digitisation-03-missing")
        page.wait_for_selector("#shoot:not([disabled])")
        page.select_option("#shoot-category", label="体温单")
        shoot(page, 3)
        assert page.inner_text("#missing") == "必需的纸质分类均已拍摄"

        # First review: the blurred page comes first; rejected as 图像模糊, the others pass.
        page.goto(f"{server}/digitisation/review")
        items = page.query_selector_all(".review-item")
        assert int(items[0].get_attribute("data-page-id")) == blurred_id and len(items) == 3
        screenshot(page, "digitisation-04-first-review")
        with page.expect_navigation():
            page.click(f'#review-{blurred_id} button[name=preset][value="图像模糊"]')
        assert "已退回重拍" in page.inner_text("#review-done")
        while page.query_selector(".review-item .pass"):
            with page.expect_navigation():
                page.click(".review-item .pass")
        assert page.query_selector("#queue-empty")

        # Finishing waits for the re-shot.
        page.goto(capture_url)
        page.click("#finish-button")
        page.wait_for_selector("#capture-error")
        assert "还有 1 页被退回待重拍" in page.inner_text("#capture-error")

        # The rework queue leads the operator to the page; 重拍 with the steady camera.
        page.goto(f"{server}/digitisation/review?queue=rework")
        assert "退回原因：图像模糊" in page.inner_text(f"#review-{blurred_id}")
        page.click(f"#review-{blurred_id} a:has-text('用高拍仪重拍')")
        page.wait_for_url(f"{capture_url}#page-{blurred_id}")
        page.wait_for_selector("#shoot:not([disabled])")
        page.click(f"#page-{blurred_id} button[data-edit=reshoot]")
        page.wait_for_selector(f"#page-{blurred_id} .scan-state:text-is('待复审')")
        assert page.query_selector(f"#page-{blurred_id} .quality-reason") is None
        screenshot(page, "digitisation-05-reshot")

        # Re-review passes it.
        page.goto(f"{server}/digitisation/review?queue=re")
        assert "已重拍 1 次" in page.inner_text(f"#review-{blurred_id}")
        screenshot(page, "digitisation-06-re-review")
        with page.expect_navigation():
            page.click(f"#review-{blurred_id} .pass")
        assert page.query_selector("#queue-empty")

        # The worker stores the scanned documents; 拍摄完成 with one-click archive.
        run_pipeline(web_engine)
        page.goto(capture_url)
        page.check("#finish-archive")
        page.click("#finish-button")
        page.wait_for_selector("#capture-done")
        assert page.inner_text("#capture-done") == "拍摄完成，病案已归档"
        assert page.inner_text("#record-status") == "已归档"
        assert page.inner_text("#scan-summary").startswith("共 3 页")
        screenshot(page, "digitisation-07-finished")
    assert blocked == []
    with session_factory(web_engine)() as session:
        assert session.get(Record, paper_record.id).status == "archived"
