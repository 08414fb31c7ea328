"""Share links through the app (issue 15 item 7, F3, S14): the archivist makes a link with the JSON
API or the record page's form; the recipient opens it without signing in and sees the pages
watermarked with their name; a reload is the same opening; the link stops after its views, its
date and when revoked, with a Chinese page; pages outside the link are 404."""
from __future__ import annotations

import io
from datetime import timedelta

import numpy as np
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from PIL import Image
from web_helpers import csrf_of

from bingan import clock
from bingan.config import get_settings
from bingan.formats import watermark
from bingan.records.pages import PageRenderer
from bingan.storage.db import session_factory
from bingan.storage.models import AuditEvent, utcnow
from bingan.storage.models.release import ShareLink

RECIPIENT_IP = "198.51.100.9"


def _call(client, verb: str, url: str, **json):
    token = client.get("/api/v1/me").json()["csrf_token"]
    return client.request(verb, url, json=json or None, headers={"X-CSRF-Token": token})


def _share(client, world, **change):
    body = {"record_id": world.records["normal"].id, "recipient": "协和医院 张医生", "max_views": 2,
            "expires_at": (clock.now() + timedelta(days=3)).isoformat(), "purpose": "外院会诊", **change}
    return _call(client, "POST", "/api/v1/share-links", **body)


@pytest.fixture
def recipient(app):
    """The recipient's browser: not signed in, from outside the hospital."""
    with TestClient(app, base_url="http://testserver", client=(RECIPIENT_IP, 50020)) as browser:
        yield browser


@pytest.fixture
def archivist(client_for):
    """Signed in once per test: a second sign-in within the same 30 s would reuse the one-time code."""
    return client_for("archivist")


@pytest.fixture
def shared(archivist, world):
    made = _share(archivist, world)
    assert made.status_code == 201, made.text
    return made.json()


def test_the_api_makes_a_link_with_its_address_shown_once(archivist, world, shared):
    assert shared["url"].startswith("http://testserver/s/") and shared["views"] == 0
    assert shared["status"] == "active" and shared["max_views"] == 2 and shared["recipient"] == "协和医院 张医生"
    assert [d["title"] for d in shared["documents"]] == ["入院记录"]
    listed = archivist.get(f"/api/v1/records/{world.records['normal'].id}/share-links").json()
    assert listed["count"] == 1 and "url" not in listed["items"][0]


def test_the_recipient_sees_the_pages_named_for_them(recipient, world, shared):
    page = recipient.get(shared["url"])
    assert page.status_code == 200 and "仅供 协和医院 张医生 查看" in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    document_id = shared["documents"][0]["document_id"]
    image = recipient.get(f"{shared['url']}/pages/{document_id}/2")
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"


def test_the_recipients_name_is_drawn_on_every_page(recipient, world, shared):
    recipient.get(shared["url"])
    document = world.documents["normal"][0]
    served = _grey(recipient.get(f"{shared['url']}/pages/{document.id}/1").content)
    base = PageRenderer(get_settings()).base(document.current_version.sha256, "application/pdf", 1)
    hospital, now = get_settings().hospital_name, utcnow()

    def overlay(name: str):
        lines = (f"仅供 {name} 查看  请勿转发  {hospital}", f"{clock.local(now):%Y-%m-%d %H:%M}  {RECIPIENT_IP}  "
                                                       f"分享链接 {shared['id']}")
        return _grey(watermark.apply_visible(base, lines))

    assert np.abs(served - overlay("协和医院 张医生")).mean() < np.abs(served - overlay("另一位接收人")).mean()
    assert np.abs(served - overlay("协和医院 张医生")).mean() < np.abs(served - _grey(base)).mean()


def _grey(image) -> np.ndarray:
    if isinstance(image, bytes):
        image = Image.open(io.BytesIO(image))
    return np.asarray(image.convert("L"), dtype=np.float32)


def test_a_reload_is_the_same_opening(recipient, archivist, shared):
    recipient.get(shared["url"])
    recipient.get(shared["url"])
    assert archivist.get(f"/api/v1/share-links/{shared['id']}").json()["views"] == 1


def test_the_link_stops_after_its_views_with_a_chinese_page(app, archivist, shared):
    for number in range(2):
        with TestClient(app, client=(f"198.51.100.{20 + number}", 50030)) as browser:
            assert browser.get(shared["url"]).status_code == 200
    with TestClient(app, client=("198.51.100.30", 50030)) as late:
        refused = late.get(shared["url"])
    assert refused.status_code == 410 and "次数已用完" in refused.text
    one = archivist.get(f"/api/v1/share-links/{shared['id']}").json()
    assert one["views"] == 2 and one["status"] == "used_up"
    assert [o["client_ip"] for o in one["openings"]] == ["198.51.100.20", "198.51.100.21"]


def test_the_link_stops_after_its_date(recipient, web_engine, shared):
    with session_factory(web_engine)() as session, session.begin():
        session.get(ShareLink, shared["id"]).expires_at = utcnow() - timedelta(minutes=1)
    refused = recipient.get(shared["url"])
    assert refused.status_code == 410 and "过期" in refused.text


def test_a_revoked_link_stops_even_the_opening_under_way(recipient, archivist, shared):
    recipient.get(shared["url"])
    document_id = shared["documents"][0]["document_id"]
    revoked = _call(archivist, "POST", f"/api/v1/share-links/{shared['id']}/revoke")
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    assert recipient.get(f"{shared['url']}/pages/{document_id}/1").status_code == 410
    refused = recipient.get(shared["url"])
    assert refused.status_code == 410 and "撤销" in refused.text


def test_pages_outside_the_link_are_not_found(recipient, world, shared):
    recipient.get(shared["url"])
    other = world.documents["other_department"][0].id
    document_id = shared["documents"][0]["document_id"]
    assert recipient.get(f"{shared['url']}/pages/{other}/1").status_code == 404
    assert recipient.get(f"{shared['url']}/pages/{document_id}/9").status_code == 404
    assert recipient.get(f"/s/not-a-token/pages/{document_id}/1").status_code == 404


def test_pages_need_an_opening_of_the_link(app, world, shared):
    with TestClient(app, client=(RECIPIENT_IP, 50040)) as stranger:
        answer = stranger.get(f"{shared['url']}/pages/{shared['documents'][0]['document_id']}/1")
    assert answer.status_code == 410


def test_an_unknown_link_gets_a_chinese_page(recipient):
    answer = recipient.get("/s/this-is-no-link")
    assert answer.status_code == 404 and "分享链接无效" in answer.text


def test_openings_and_refusals_are_audited_with_the_address(recipient, web_engine, shared):
    recipient.get(shared["url"])
    with session_factory(web_engine)() as session:
        event = session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "share_link.open")).one()
    assert event.client_ip == RECIPIENT_IP and event.detail["接收人"] == "协和医院 张医生"


def test_a_sealed_record_gets_no_link(archivist, world):
    answer = _share(archivist, world, record_id=world.records["sealed"].id)
    assert answer.status_code == 403 and "封存" in answer.json()["detail"]


def test_who_may_not_export_makes_no_link(client_for, world):
    assert _share(client_for("clinician"), world).status_code == 403
    assert _share(client_for("copy_clerk"), world).status_code == 403


def test_bad_input_is_refused_in_chinese(archivist, world):
    past = _share(archivist, world, expires_at=(clock.now() - timedelta(hours=1)).isoformat())
    assert past.status_code == 400 and past.json()["detail"] == "有效期应晚于现在"
    many = _share(archivist, world, max_views=1000)
    assert many.status_code == 422 and "max_views" in many.json()["detail"] and "100" in many.json()["detail"]


def test_the_record_page_lists_its_links_and_makes_one(archivist, world, shared, recipient):
    record_id = world.records["normal"].id
    recipient.get(shared["url"])
    assert 'id="share-links"' in archivist.get(f"/records/{record_id}").text
    panel = archivist.get(f"/records/{record_id}/share-links").text
    assert "协和医院 张医生" in panel and RECIPIENT_IP in panel and "1 / 2" in panel
    form = archivist.get(f"/records/{record_id}/share-links/new")
    made = archivist.post(f"/records/{record_id}/share-links", data={
        "csrf_token": csrf_of(form.text), "recipient": "人保财险 王理赔", "max_views": "1",
        "expires_at": f"{clock.now() + timedelta(days=1):%Y-%m-%dT%H:%M}"})
    assert made.status_code == 201 and "链接只显示这一次" in made.text
    assert "http://testserver/s/" in made.text


def test_the_form_sends_a_refusal_back_with_the_reason(archivist, world):
    record_id = world.records["normal"].id
    form = archivist.get(f"/records/{record_id}/share-links/new")
    refused = archivist.post(f"/records/{record_id}/share-links", data={
        "csrf_token": csrf_of(form.text), "recipient": "王理赔", "max_views": "0", "expires_at": "2030-01-01T09:00"},
        follow_redirects=False)
    assert refused.status_code == 303 and refused.headers["location"].startswith(
        f"/records/{record_id}/share-links/new?error=")
    assert "可打开次数应为 1 至 100" in archivist.get(refused.headers["location"]).text


def test_revoking_on_the_record_page(archivist, world, shared, recipient):
    record_id = world.records["normal"].id
    panel = archivist.get(f"/records/{record_id}/share-links").text
    answer = archivist.post(f"/records/{record_id}/share-links/{shared['id']}/revoke",
                            data={"csrf_token": csrf_of(panel)}, follow_redirects=False)
    assert answer.status_code == 303
    assert "已撤销" in archivist.get(f"/records/{record_id}/share-links").text
    assert recipient.get(shared["url"]).status_code == 410
