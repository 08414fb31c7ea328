"""The paper-records JSON API through the app with the test hospital's record room (病案管理员):
capture answered with page ids and quality verdicts, refusals that store nothing, the review
queues (flagged first), reject → rework → re-shot → re-review → pass, labels whose barcodes
decode back, boxes and shelves and where a paper record is."""
from __future__ import annotations

import sys
from pathlib import Path

import pypdfium2
import pytest
import sqlalchemy as sa
import zxingcpp

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "records" / "digitisation"))

from pages import blurred, jpeg, png, rotated, text_page

from bingan import broker
from bingan.config import get_settings
from bingan.ingest.pipeline import Pipeline, process_item
from bingan.storage.db import session_factory
from bingan.storage.models import AuditEvent, CollectedItem, Document, Version
from bingan.storage.models.completeness import CompletenessRule
from bingan.storage.models.digitisation import PaperMove, ScanPage

ADMISSION = "C02"  # 入院记录


@pytest.fixture
def room(client_for):
    return client_for("archivist")


@pytest.fixture
def record_id(world) -> int:
    return world.records["normal"].id


def token(client) -> dict:
    return {"X-CSRF-Token": client.get("/api/v1/me").json()["csrf_token"]}


def capture(client, record_id: int, *files: tuple[str, bytes, str], category: str = ADMISSION):
    return client.post(f"/api/v1/records/{record_id}/scans", headers=token(client), data={"category": category},
                       files=[("files", item) for item in files])


def count(engine, model) -> int:
    with session_factory(engine)() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(model))


@pytest.fixture(scope="module")
def sharp() -> bytes:
    return jpeg(text_page())


@pytest.fixture(scope="module")
def fuzzy() -> bytes:
    return jpeg(blurred(text_page()))


def test_capture_answers_each_page_with_its_id_and_quality_verdicts(room, record_id, sharp, fuzzy, web_engine):
    answer = capture(room, record_id, ("p1.jpg", sharp, "image/jpeg"), ("p2.png", png(rotated(text_page())),
                                                                         "image/png"), ("p3.jpg", fuzzy, "image/jpeg"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["count"] == 3 and body["flagged"] == 2 and body["category"] == ADMISSION and body["item_id"]
    first, skewed, blurry = body["pages"]
    assert [p["position"] for p in body["pages"]] == [1, 2, 3]
    assert not first["flagged"] and first["state"] == "first" and first["category_name"] == "入院记录"
    assert skewed["flagged"] and "倾斜" in skewed["quality"]["reasons"][0]
    assert blurry["flagged"] and "模糊" in blurry["quality"]["reasons"][0]
    with session_factory(web_engine)() as session:
        item = session.get(CollectedItem, body["item_id"])
        assert (item.origin, item.state, item.document_type_code) == ("scanned", "fetched", "C0201")
        assert session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "scan.capture")).record_id == record_id


def test_the_worker_is_kicked_once_the_capture_commits_and_never_for_a_refused_one(room, record_id, sharp,
                                                                                  monkeypatch):
    monkeypatch.setattr(broker, "celery_app", broker.make_celery())  # a filesystem broker: messages are files
    sent = get_settings().resolved_home / "broker" / "out"
    assert capture(room, record_id, ("p1.jpg", sharp, "image/jpeg"), category="C99").status_code == 400
    assert list(sent.iterdir()) == []
    item_id = capture(room, record_id, ("p1.jpg", sharp, "image/jpeg")).json()["item_id"]
    [message] = [path.read_text() for path in sent.iterdir()]
    assert "bingan.ingest.process_item" in message and f"[{item_id}]" in message


def test_the_scanned_document_goes_through_the_ingest_pipeline_with_its_pages(room, record_id, sharp, web_engine):
    body = capture(room, record_id, ("p1.jpg", sharp, "image/jpeg")).json()
    assert process_item(Pipeline(engine=web_engine), body["item_id"], index=False) in ("extracted", "indexed")
    with session_factory(web_engine)() as session:
        document = session.scalars(sa.select(Document).where(Document.origin == "scanned")).one()
        assert document.record_id == record_id and document.title == "入院记录（纸质扫描）"
        assert session.get(Version, document.current_version_id).page_count == 1


@pytest.mark.parametrize(("upload", "category", "words"), [
    (("notes.txt", "病程记录".encode(), "text/plain"), ADMISSION, "不是 JPEG、PNG、TIFF 图像或 PDF"),
    (("bomb.png", None, "image/png"), ADMISSION, "图像尺寸过大"),
    (("p1.jpg", b"", "image/jpeg"), "C99", "病案分类“C99”不存在"),
])
def test_bad_input_is_refused_in_chinese_and_nothing_is_stored(room, record_id, sharp, web_engine, upload, category,
                                                               words):
    name, data, media_type = upload
    if data is None:  # 20,000 × 20,000 pixels of one colour: a few KB that would decode to 1.2 GB
        import io

        from PIL import Image
        out = io.BytesIO()
        Image.new("1", (20_000, 20_000)).save(out, "PNG")
        data = out.getvalue()
    answer = capture(room, record_id, ("good.jpg", sharp, "image/jpeg"), (name, data or sharp, media_type),
                     category=category)
    assert answer.status_code == 400 and words in answer.json()["detail"]
    assert count(web_engine, ScanPage) == 0 and count(web_engine, CollectedItem) == 0


def test_capture_needs_the_scan_permission(client_for, record_id, sharp):
    clinician = client_for("clinician")
    assert capture(clinician, record_id, ("p1.jpg", sharp, "image/jpeg")).status_code == 403


def test_a_rejected_page_is_reshot_and_passes_re_review(room, record_id, sharp, fuzzy, web_engine):
    pages = capture(room, record_id, ("p1.jpg", sharp, "image/jpeg"), ("p2.jpg", fuzzy, "image/jpeg")).json()["pages"]
    queue = room.get("/api/v1/digitisation/review?queue=first").json()
    assert [p["page_id"] for p in queue["items"]] == [pages[1]["page_id"], pages[0]["page_id"]]  # flagged first
    assert room.post(f"/api/v1/pages/{pages[0]['page_id']}/review", headers=token(room),
                     json={"decision": "pass"}).json()["state"] == "passed"
    refused = room.post(f"/api/v1/pages/{pages[1]['page_id']}/review", headers=token(room), json={"decision": "reject"})
    assert refused.status_code == 400 and "必须填写原因" in refused.json()["detail"]
    rejected = room.post(f"/api/v1/pages/{pages[1]['page_id']}/review", headers=token(room),
                         json={"decision": "reject", "reason": "图像模糊"}).json()
    assert rejected["state"] == "rework" and rejected["reject_reason"] == "图像模糊"
    rework = room.get("/api/v1/digitisation/review?queue=rework").json()["items"]
    assert [p["page_id"] for p in rework] == [pages[1]["page_id"]]
    again = room.post(f"/api/v1/pages/{pages[1]['page_id']}/review", headers=token(room), json={"decision": "pass"})
    assert again.status_code == 409
    reshot = room.post(f"/api/v1/pages/{pages[1]['page_id']}/reshoot", headers=token(room),
                       files={"file": ("p2.jpg", sharp, "image/jpeg")}).json()
    assert reshot["state"] == "re" and not reshot["flagged"] and reshot["reshoots"] == 1 and reshot["item_id"]
    assert [p["page_id"] for p in room.get("/api/v1/digitisation/review?queue=re").json()["items"]] == [
        pages[1]["page_id"]]
    room.post(f"/api/v1/pages/{pages[1]['page_id']}/review", headers=token(room), json={"decision": "pass"})
    summary = room.get(f"/api/v1/records/{record_id}/scans").json()["summary"]
    assert summary == {"first": 0, "re": 0, "rework": 0, "passed": 2}
    image = room.get(f"/api/v1/pages/{pages[1]['page_id']}/image")
    assert image.status_code == 200 and image.content == sharp


def test_an_unknown_queue_or_page_is_answered_plainly(room):
    assert room.get("/api/v1/digitisation/review?queue=later").status_code == 422
    assert room.post("/api/v1/pages/999999/review", headers=token(room), json={"decision": "pass"}).status_code == 404


def decoded(pdf: bytes) -> list[tuple[str, str]]:
    document = pypdfium2.PdfDocument(pdf)
    try:
        found = []
        for page in document:
            found += [(r.format.name, r.text)
                      for r in zxingcpp.read_barcodes(page.render(scale=600 / 72).to_pil())]
        return found
    finally:
        document.close()


@pytest.mark.parametrize("size", ["50x30", "a4"])
def test_record_labels_print_as_pdf_whose_barcodes_decode_back(room, world, size):
    ids = f"{world.records['normal'].id},{world.records['other_department'].id}"
    answer = room.get(f"/api/v1/labels.pdf?record_ids={ids}&size={size}&fields=record_number,stay,name,department")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/pdf"
    codes = decoded(answer.content)
    assert ("Code128", "0000001-1") in codes and ("Code128", "0000004-1") in codes
    qr = [text for kind, text in codes if kind == "QRCode"]
    assert "病案号：0000001\n住院次数：1\n姓名：王建国\n科室：心内科" in qr


def test_a_box_label_decodes_to_the_box_barcode(room):
    box = room.post("/api/v1/paper-boxes", headers=token(room), json={"title": "2026年3月 心内科", "room": "一号库房",
                                                                      "rack": "A", "level": 3, "position": 5}).json()
    assert box["barcode"] == f"HX{box['box_id']:06d}" and box["place"] == "一号库房 A架 3层 5位"
    codes = decoded(room.get(f"/api/v1/labels.pdf?box_ids={box['box_id']}").content)
    assert ("Code128", box["barcode"]) in codes


def test_records_go_into_boxes_by_their_label_and_every_move_is_found(room, web_engine):
    first = room.post("/api/v1/paper-boxes", headers=token(room), json={"room": "一号库房", "rack": "A", "level": 1,
                                                                        "position": 1}).json()
    second = room.post("/api/v1/paper-boxes", headers=token(room), json={"barcode": "B-2026-02"}).json()
    put = room.post(f"/api/v1/paper-boxes/{first['box_id']}/records", headers=token(room), json={"label": "0000001-1"})
    assert put.status_code == 200 and put.json()["record_number"] == "0000001"
    again = room.post(f"/api/v1/paper-boxes/{first['box_id']}/records", headers=token(room), json={"label": "0000001"})
    assert again.status_code == 409
    room.put(f"/api/v1/paper-boxes/{first['box_id']}/location", headers=token(room),
             json={"room": "二号库房", "rack": "C", "level": 2, "position": 7})
    room.post(f"/api/v1/paper-boxes/{second['box_id']}/records", headers=token(room), json={"label": "0000001"})
    found = room.get("/api/v1/paper-locations?record_number=0000001").json()
    item = found["items"][0]
    assert found["count"] == 1 and item["box"]["barcode"] == "B-2026-02" and item["location"] == "未上架"
    assert [m["kind"] for m in item["moves"]] == ["into_box", "out_of_box", "into_box"]
    assert item["moves"][1]["from"] == "二号库房 C架 2层 7位"
    assert count(web_engine, PaperMove) == 4  # and the box's own move
    unknown = room.post(f"/api/v1/paper-boxes/{first['box_id']}/records", headers=token(room), json={"label": "9"})
    assert unknown.status_code == 404 and "找不到病案" in unknown.json()["detail"]


def finish(client, record_id: int, **body):
    return client.post(f"/api/v1/records/{record_id}/scans/finish", headers=token(client), json=body)


def test_capture_finished_is_refused_while_a_required_paper_category_is_missing(room, record_id, sharp, web_engine):
    capture(room, record_id, ("p1.jpg", sharp, "image/jpeg"))
    refused = finish(room, record_id)
    assert refused.status_code == 400 and "尚未拍摄" in refused.json()["detail"]
    assert "入院记录" not in refused.json()["detail"].split("：")[1]  # captured just now, before the pipeline ran
    with session_factory(web_engine)() as session:
        assert session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "scan.finish")) is None


def test_capture_finished_without_archiving_and_one_click_archive_refused_for_an_archived_record(
        room, client_for, record_id, sharp, web_engine):
    with session_factory(web_engine)() as session:  # no required category: the gate lets this record through
        session.execute(sa.update(CompletenessRule).values(active=False))
        session.commit()
    [page] = capture(room, record_id, ("p1.jpg", sharp, "image/jpeg")).json()["pages"]
    room.post(f"/api/v1/pages/{page['page_id']}/review", headers=token(room), json={"decision": "pass"})
    done = finish(room, record_id)
    assert done.status_code == 200, done.text
    assert done.json()["finished"] and not done.json()["archived"] and done.json()["summary"]["passed"] == 1
    refused = finish(room, record_id, archive=True)
    assert refused.status_code == 409 and "一键归档只适用于" in refused.json()["detail"]
    assert finish(client_for("clinician"), record_id).status_code == 403
