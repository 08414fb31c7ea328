"""The copy-rules page (复印规则) through the app: the record room (copy.manage) edits fees in
yuan, free categories and stage copying, the art. 19 list, packages, applicant types' papers and
the hospital's seal image; a refusal comes back on the page in Chinese with nothing changed; the
copy window offers what was saved; the copy clerk has neither the page nor its menu entry."""
from __future__ import annotations

import io
import sys
from pathlib import Path
from urllib.parse import unquote

import pytest
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "records" / "release"))

from bingan import broker
from bingan.records.workflows import install


@pytest.fixture(autouse=True)
def quiet_broker(monkeypatch) -> None:
    install()
    monkeypatch.setattr(broker, "celery_app", broker.make_celery())


def _token(client) -> str:
    return client.get("/api/v1/me").json()["csrf_token"]


def _post(client, path: str, data: dict | None = None, **kw):
    answer = client.post(path, data={"csrf_token": _token(client), **(data or {})}, follow_redirects=False, **kw)
    assert answer.status_code == 303, answer.text
    return unquote(answer.headers["location"])


def _seal_png() -> bytes:
    image = Image.new("RGB", (200, 200), "white")
    ImageDraw.Draw(image).ellipse((8, 8, 192, 192), outline=(200, 20, 20), width=14)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def test_the_record_room_has_the_page_and_its_menu_entry_the_clerk_has_neither(client_for, world):
    archivist, clerk = client_for("archivist"), client_for("copy_clerk")
    page = archivist.get("/copy-rules")
    assert page.status_code == 200 and "报销套餐" in page.text and "患者代理人" in page.text
    assert 'href="/copy-rules"' in page.text and 'id="seal-fallback"' in page.text
    assert clerk.get("/copy-rules").status_code == 403
    assert 'href="/copy-rules"' not in clerk.get("/copy-window").text


def test_fees_in_yuan_free_categories_and_stage_copying_are_saved(client_for, world):
    archivist = client_for("archivist")
    back = _post(archivist, "/copy-rules/fees", {"page_yuan": "0.3", "copy_yuan": "2", "retrieval_yuan": "10.00",
                                                  "stage_yuan": "0", "free_categories": ["C14"],
                                                  "stage_copying": "on", "card_reader_url": "http://127.0.0.1:18091"})
    assert "已保存" in back
    rules = archivist.get("/api/v1/copy-rules").json()
    assert rules["fees"] == {"page_fen": 30, "copy_fen": 200, "retrieval_fen": 1000, "stage_fen": 0,
                             "free_categories": ["C14"]}
    assert rules["stage_copying"] and rules["card_reader_url"] == "http://127.0.0.1:18091"
    assert 'value="0.30"' in archivist.get("/copy-rules").text


def test_a_bad_fee_is_refused_on_the_page_and_nothing_changes(client_for, world):
    archivist = client_for("archivist")
    back = _post(archivist, "/copy-rules/fees", {"page_yuan": "0.555", "retrieval_yuan": "5"})
    assert "最多两位小数" in back
    assert "最多两位小数" in archivist.get(back).text
    assert archivist.get("/api/v1/copy-rules").json()["fees"]["page_fen"] == 50


def test_the_copyable_list_and_a_new_package_reach_the_copy_window(client_for, world):
    archivist = client_for("archivist")
    _post(archivist, "/copy-rules/copyable", {"categories": ["C01", "C14"]})
    _post(archivist, "/copy-rules/packages", {"code": "insurance", "name": "商业保险套餐",
                                              "categories": ["C01", "C14"], "copies": "2", "active": "on"})
    rules = archivist.get("/api/v1/copy-rules").json()
    assert [c["code"] for c in rules["copyable_categories"]] == ["C01", "C14"]
    assert {"code": "insurance", "name": "商业保险套餐", "categories": ["C01", "C14"], "copies": 2} in rules["packages"]
    window = client_for("copy_clerk").get("/copy-window").text
    assert "商业保险套餐（2 份）" in window


def test_an_empty_copyable_list_is_refused_in_chinese(client_for, world):
    assert "至少选择一个可复印分类" in _post(client_for("archivist"), "/copy-rules/copyable", {})


def test_an_applicant_types_papers_are_edited_one_a_line(client_for, world):
    archivist = client_for("archivist")
    _post(archivist, "/copy-rules/applicant-types/patient", {"papers": "申请人有效身份证明\n就诊卡\n", "outside": "on"})
    patient = next(k for k in archivist.get("/api/v1/copy-rules").json()["applicant_types"] if k["code"] == "patient")
    assert [p["name"] for p in patient["papers"]] == ["申请人有效身份证明", "就诊卡"]
    assert patient["outside"] and not patient["free"]


def test_the_seal_image_is_uploaded_shown_and_removed_and_a_non_image_is_refused(client_for, world):
    archivist = client_for("archivist")
    refused = _post(archivist, "/copy-rules/seal", files={"file": ("seal.png", b"\x89PNG fake", "image/png")})
    assert "印章图片无法识别" in refused
    assert "已上传" in _post(archivist, "/copy-rules/seal", files={"file": ("seal.png", _seal_png(), "image/png")})
    page = archivist.get("/copy-rules").text
    assert 'id="seal-image"' in page and "200×200 像素" in page
    image = archivist.get("/copy-rules/seal.img")
    assert image.headers["content-type"] == "image/png" and image.content == _seal_png()
    assert client_for("copy_clerk").get("/copy-rules/seal.img").status_code == 403
    _post(archivist, "/copy-rules/seal/remove")
    assert archivist.get("/copy-rules/seal.img").status_code == 404
