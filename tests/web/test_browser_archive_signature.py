"""The archive signature in a real browser (Debian chromium, headless): the record page's panel
says who signed, when and which timestamp authority stamped it; 验证 answers 验证通过 on the page,
and after one byte of a document's file is flipped the same button names the damaged document.
Screenshots in tests/artifacts/; no page breaks the Content-Security-Policy."""
from __future__ import annotations

import pytest
from test_archive_signature_web import _flip_the_document, signed, tsa  # noqa: F401
from test_browser_approvals import people  # noqa: F401
from test_browser_daily_work import ARTIFACTS, server  # noqa: F401

pytestmark = pytest.mark.browser


def test_the_archivist_verifies_the_signature_and_then_finds_a_flipped_byte(people, signed, world):  # noqa: F811
    person, base, blocked = people
    archivist = person("u_archivist")
    archivist.goto(f"{base}/records/{signed}")
    archivist.wait_for_selector("#archive-signature-summary:has-text('已签章')")
    assert "时间戳：测试时间戳服务中心" in archivist.inner_text("#archive-signature-summary")
    archivist.click("#archive-signature-verify")
    archivist.wait_for_selector("#archive-signature-verdict.ok:has-text('验证通过')")
    archivist.screenshot(path=str(ARTIFACTS / "archive-signature-01-verified.png"), full_page=True)

    _flip_the_document(world)
    archivist.click("#archive-signature-verify")
    archivist.wait_for_selector("#archive-signature-verdict.bad")
    verdict = archivist.inner_text("#archive-signature-verdict")
    assert "文件已损坏或被改动" in verdict and world.documents["normal"][0].title in verdict
    archivist.screenshot(path=str(ARTIFACTS / "archive-signature-02-tampered.png"), full_page=True)
    assert blocked == []
