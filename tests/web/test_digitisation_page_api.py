"""The page-editing JSON API of paper capture (页面调整) through the app, as the record room uses it
from the capture page: turn, crop, straighten and auto-crop a page (a new image, judged again, a
new version of the scanned document), delete a page (the last one withdraws the document), move a
page to another category, a new page order; thumbnails; and the camera's auto-crop on capture."""
from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "records" / "digitisation"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "records" / "completeness"))

from completeness_support import make_record
from pages import jpeg, rotated, text_page

from bingan.ingest.pipeline import Pipeline, process_item
from bingan.ingest.scans import SCANNER_SOURCE
from bingan.storage.db import session_factory
from bingan.storage.models import AuditEvent, CollectedItem, Document, Source
from bingan.storage.models.digitisation import ScanPage

ADMISSION, PROGRESS = "C02", "C03"  # 入院记录, 病程记录
TABLE = (60, 52, 45)


@pytest.fixture
def room(client_for):
    return client_for("archivist")


@pytest.fixture
def record_id(world) -> int:
    return world.records["normal"].id


def token(client) -> dict:
    return {"X-CSRF-Token": client.get("/api/v1/me").json()["csrf_token"]}


def capture(client, record_id: int, *images: Image.Image, category: str = ADMISSION, auto_crop: bool = False):
    answer = client.post(f"/api/v1/records/{record_id}/scans", headers=token(client),
                         data={"category": category, "auto_crop": str(auto_crop).lower()},
                         files=[("files", (f"p{n}.jpg", jpeg(image), "image/jpeg")) for n, image in enumerate(images)])
    assert answer.status_code == 200, answer.text
    return answer.json()["pages"]


def on_table(page: Image.Image) -> Image.Image:
    frame = Image.new("RGB", (1920, 1080), TABLE)
    frame.paste(page.resize((682, 965)), (700, 60))
    return frame


def image_of(client, page_id: int, **query) -> Image.Image:
    answer = client.get(f"/api/v1/pages/{page_id}/image", params=query)
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/jpeg"
    return Image.open(io.BytesIO(answer.content))


def scanner_items(engine) -> list[CollectedItem]:
    with session_factory(engine)() as session:
        return list(session.scalars(sa.select(CollectedItem).join(Source).where(Source.name == SCANNER_SOURCE)
                                    .order_by(CollectedItem.id)))


def test_a_camera_shot_is_cut_to_the_page_edge_on_capture(room, record_id):
    [page] = capture(room, record_id, on_table(text_page()), auto_crop=True)
    assert abs(page["width"] - 682) < 40 and abs(page["height"] - 965) < 50
    assert not page["flagged"], page["quality"]["reasons"]


def test_without_auto_crop_the_camera_shot_is_kept_whole_and_flagged_at_the_edge(room, record_id):
    [page] = capture(room, record_id, on_table(text_page()))
    assert (page["width"], page["height"]) == (1920, 1080)
    assert page["flagged"] and any("边缘" in reason for reason in page["quality"]["reasons"])


def test_a_thumbnail_is_the_page_small(room, record_id):
    [page] = capture(room, record_id, text_page())
    assert image_of(room, page["page_id"], width=240).width == 240
    assert image_of(room, page["page_id"]).width == 1240


def test_turning_a_page_makes_a_new_version_of_its_scanned_document(room, record_id, web_engine):
    [page] = capture(room, record_id, text_page())
    answer = room.post(f"/api/v1/pages/{page['page_id']}/rotate", headers=token(room), json={"degrees": 90})
    assert answer.status_code == 200, answer.text
    turned = answer.json()
    assert (turned["width"], turned["height"]) == (1754, 1240) and turned["state"] == "first" and turned["item_id"]
    assert image_of(room, page["page_id"]).size == (1754, 1240)
    assert len(scanner_items(web_engine)) == 2  # the capture, then the turned page


def test_a_turn_by_another_angle_is_refused_in_chinese(room, record_id):
    [page] = capture(room, record_id, text_page())
    answer = room.post(f"/api/v1/pages/{page['page_id']}/rotate", headers=token(room), json={"degrees": 45})
    assert answer.status_code == 422 and "取值应为" in answer.json()["detail"]


def test_a_crop_keeps_the_rectangle_and_a_bad_one_changes_nothing(room, record_id, web_engine):
    [page] = capture(room, record_id, text_page(1000, 1400))
    url = f"/api/v1/pages/{page['page_id']}/crop"
    refused = room.post(url, headers=token(room), json={"left": 0.5, "top": 0, "right": 0.4, "bottom": 1})
    assert refused.status_code == 400 and "左小于右" in refused.json()["detail"]
    assert len(scanner_items(web_engine)) == 1
    cropped = room.post(url, headers=token(room), json={"left": 0.05, "top": 0.05, "right": 0.95, "bottom": 0.95})
    assert (cropped.json()["width"], cropped.json()["height"]) == (900, 1260)


def test_auto_crop_after_saving_cuts_a_stored_camera_shot_to_the_page(room, record_id):
    [page] = capture(room, record_id, on_table(text_page()))
    answer = room.post(f"/api/v1/pages/{page['page_id']}/auto-crop", headers=token(room)).json()
    assert answer["width"] < 720 and not answer["flagged"]


def test_auto_crop_of_a_page_already_at_its_edge_is_refused(room, record_id, web_engine):
    [page] = capture(room, record_id, text_page())
    answer = room.post(f"/api/v1/pages/{page['page_id']}/auto-crop", headers=token(room))
    assert answer.status_code == 400 and "无需裁边" in answer.json()["detail"]
    assert len(scanner_items(web_engine)) == 1


def test_deskew_straightens_a_skewed_page_and_a_level_one_is_refused(room, record_id):
    skewed, level = capture(room, record_id, rotated(text_page(), 4), text_page())
    assert skewed["flagged"] and "倾斜" in skewed["quality"]["reasons"][0]
    straight = room.post(f"/api/v1/pages/{skewed['page_id']}/deskew", headers=token(room)).json()
    assert not straight["flagged"], straight["quality"]["reasons"]
    refused = room.post(f"/api/v1/pages/{level['page_id']}/deskew", headers=token(room))
    assert refused.status_code == 400 and "无需纠偏" in refused.json()["detail"]


def test_a_passed_page_edited_goes_back_to_re_review(room, record_id):
    [page] = capture(room, record_id, text_page())
    room.post(f"/api/v1/pages/{page['page_id']}/review", headers=token(room), json={"decision": "pass"})
    turned = room.post(f"/api/v1/pages/{page['page_id']}/rotate", headers=token(room), json={"degrees": 180}).json()
    assert turned["state"] == "re"


def test_deleting_a_page_closes_the_gap(room, record_id, web_engine):
    first, second = capture(room, record_id, text_page(), text_page(1000, 1400))
    answer = room.delete(f"/api/v1/pages/{first['page_id']}", headers=token(room))
    assert answer.status_code == 200 and answer.json()["summary"]["first"] == 1 and answer.json()["item_ids"]
    pages = room.get(f"/api/v1/records/{record_id}/scans").json()["pages"]
    assert [(p["page_id"], p["position"]) for p in pages] == [(second["page_id"], 1)]
    assert room.delete(f"/api/v1/pages/{first['page_id']}", headers=token(room)).status_code == 404
    with session_factory(web_engine)() as session:
        event = session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "scan.delete"))
        assert event.detail == {"分类": "入院记录", "位置": 1} and event.record_id == record_id


def test_deleting_the_last_page_of_a_stored_scan_withdraws_the_document(room, web_engine):
    with session_factory(web_engine)() as session, session.begin():  # awaiting: its new documents count at once
        record_id = make_record(session, "0300002").id
    answer = room.post(f"/api/v1/records/{record_id}/scans", headers=token(room), data={"category": ADMISSION},
                       files=[("files", ("p.jpg", jpeg(text_page()), "image/jpeg"))]).json()
    process_item(Pipeline(engine=web_engine), answer["item_id"], index=False)
    deleted = room.delete(f"/api/v1/pages/{answer['pages'][0]['page_id']}", headers=token(room)).json()
    assert len(deleted["item_ids"]) == 1
    with session_factory(web_engine)() as session:
        document = session.scalars(sa.select(Document).where(Document.origin == "scanned")).one()
        assert document.removed and document.current_version_id  # the versions are kept


def test_a_page_filed_under_the_wrong_category_moves_to_the_end_of_the_right_one(room, record_id):
    [progress] = capture(room, record_id, text_page(), category=PROGRESS)
    [misfiled] = capture(room, record_id, text_page())
    answer = room.put(f"/api/v1/pages/{misfiled['page_id']}/category", headers=token(room), json={"category": PROGRESS})
    assert answer.status_code == 200, answer.text
    assert (answer.json()["category"], answer.json()["position"]) == (PROGRESS, 2)
    assert len(answer.json()["item_ids"]) == 1  # 病程记录 with two pages (入院记录 was never stored)
    refused = room.put(f"/api/v1/pages/{progress['page_id']}/category", headers=token(room), json={"category": "C99"})
    assert refused.status_code == 400 and "C99" in refused.json()["detail"]


def test_a_new_page_order_renumbers_the_pages(room, record_id):
    a, b, c = capture(room, record_id, text_page(), text_page(1000, 1400), text_page(1100, 1500))
    url = f"/api/v1/records/{record_id}/scans/order"
    answer = room.put(url, headers=token(room), json={"page_ids": [c["page_id"], a["page_id"], b["page_id"]]})
    assert answer.status_code == 200, answer.text
    assert [(p["page_id"], p["position"]) for p in answer.json()["pages"]] == [
        (c["page_id"], 1), (a["page_id"], 2), (b["page_id"], 3)]
    refused = room.put(url, headers=token(room), json={"page_ids": [c["page_id"]]})
    assert refused.status_code == 400 and "每页一次" in refused.json()["detail"]


def test_page_edits_need_the_scan_permission(client_for, room, record_id, web_engine):
    [page] = capture(room, record_id, text_page())
    clinician = client_for("clinician")
    for method, path, body in (("POST", "rotate", {"degrees": 90}), ("POST", "deskew", None),
                               ("POST", "auto-crop", None), ("DELETE", "", None),
                               ("PUT", "category", {"category": PROGRESS})):
        url = f"/api/v1/pages/{page['page_id']}/{path}".rstrip("/")
        assert clinician.request(method, url, headers=token(clinician), json=body).status_code == 403, url
    with session_factory(web_engine)() as session:
        assert session.get(ScanPage, page["page_id"]).width == 1240
