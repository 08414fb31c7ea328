"""Files served to users, as a pen tester probes them: an original video is a download, every byte
request and every thumbnail is in the audit trail, and hostile ids, ranges and images are refused
in Chinese without a server error (issue 9: M6, L9)."""
from __future__ import annotations

import io
import os

import sqlalchemy as sa
from PIL import Image
from test_files import VIDEO, add_video
from web_helpers import csrf_of
from world import store_pdf

from bingan.storage.db import session_factory
from bingan.storage.models import AuditEvent, Version

PLAYABLE = os.urandom(200_000)  # stands in for the H.264 rendition made at collection


def events(engine, action: str, object_type: str) -> list[AuditEvent]:
    with session_factory(engine)() as session:
        return list(session.scalars(sa.select(AuditEvent).where(
            AuditEvent.action == action, AuditEvent.object_type == object_type).order_by(AuditEvent.id)))


def add_rendition(engine, world, document_id: int) -> None:
    sha = store_pdf(PLAYABLE, world.records["normal"].record_number)
    with session_factory(engine)() as session, session.begin():
        version = session.scalars(sa.select(Version).where(Version.document_id == document_id)).one()
        version.playable_sha256 = sha


def bomb_png(side: int = 20_000) -> bytes:
    """A few KB that decode to side² pixels: the header is all Pillow needs to see the size."""
    buffer = io.BytesIO()
    Image.new("1", (side, side)).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


# --- M6: the original video is a download ------------------------------------------------------

def test_a_viewer_without_download_is_refused_the_original_video(client_for, world, web_engine):
    video_id = add_video(web_engine, world)
    response = client_for("clinician").get(f"/documents/{video_id}/video")
    assert response.status_code == 403 and "下载权限" in response.text
    assert VIDEO[:1000] not in response.content
    assert events(web_engine, "denied", "video")


def test_a_viewer_without_download_plays_the_playable_rendition(client_for, world, web_engine):
    video_id = add_video(web_engine, world)
    add_rendition(web_engine, world, video_id)
    response = client_for("clinician").get(f"/documents/{video_id}/video")
    assert response.status_code == 200 and response.content == PLAYABLE
    assert response.headers["content-type"] == "video/mp4"


def test_a_user_who_may_download_plays_the_original(client_for, world, web_engine):
    video_id = add_video(web_engine, world)
    add_rendition(web_engine, world, video_id)
    response = client_for("archivist").get(f"/documents/{video_id}/video")
    assert response.status_code == 200 and response.content == VIDEO


def test_every_video_range_request_is_audited_once_with_its_bytes(client_for, world, web_engine):
    video_id = add_video(web_engine, world)
    player = client_for("archivist")
    player.get(f"/documents/{video_id}/video", headers={"Range": "bytes=2000000-2099999"})
    player.get(f"/documents/{video_id}/video", headers={"Range": "bytes=-500"})
    audited = [event.detail["字节"] for event in events(web_engine, "view", "video")]
    assert audited == [f"2000000-2099999/{len(VIDEO)}", f"{len(VIDEO) - 500}-{len(VIDEO) - 1}/{len(VIDEO)}"]


def test_a_range_with_thousands_of_digits_is_unsatisfiable_not_a_server_error(client_for, world, web_engine):
    video_id = add_video(web_engine, world)
    huge = "bytes=" + "9" * 5000 + "-"
    response = client_for("archivist").get(f"/documents/{video_id}/video", headers={"Range": huge})
    assert response.status_code == 416 and "超出文件大小" in response.text


def test_a_thumbnail_is_audited_as_a_view_of_its_page(client_for, world, web_engine):
    document = world.documents["normal"][0]
    response = client_for("clinician").get(f"/documents/{document.id}/pages/2/thumb")
    assert response.status_code == 200
    [event] = events(web_engine, "view", "thumbnail")
    assert (event.document_id, event.page, event.username) == (document.id, 2, "u_clinician")


# --- L9: hostile ids and images ----------------------------------------------------------------

def test_a_logo_that_is_a_decompression_bomb_is_refused_in_chinese(client_for, app):
    sysadmin = client_for("sysadmin")
    token = csrf_of(sysadmin.get("/admin/appearance").text)
    response = sysadmin.post("/admin/appearance/logo", data={"csrf_token": token},
                             files={"logo": ("logo.png", bomb_png())}, follow_redirects=False)
    assert response.status_code == 303 and "%E8%BF%87%E5%A4%A7" in response.headers["location"]  # 过大
    assert sysadmin.get("/api/v1/admin/appearance").json().get("logo_url") is None


def test_a_leak_photo_that_is_a_decompression_bomb_is_refused_in_chinese(client_for):
    secadmin = client_for("secadmin")
    token = csrf_of(secadmin.get("/admin/leak").text)
    response = secadmin.post("/admin/leak", data={"csrf_token": token}, files={"file": ("photo.png", bomb_png())})
    assert response.status_code == 400 and "图像尺寸过大" in response.text


def test_a_leak_photo_over_the_pixel_limit_is_refused_before_decoding(client_for):
    secadmin = client_for("secadmin")
    token = csrf_of(secadmin.get("/admin/leak").text)
    response = secadmin.post("/admin/leak", data={"csrf_token": token},
                             files={"file": ("photo.png", bomb_png(9_000))})  # 81 MP: under Pillow's own limit
    assert response.status_code == 400 and "图像尺寸过大" in response.text
