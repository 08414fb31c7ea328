"""Original files leave the archive streamed: downloads whole, videos in the byte ranges the
player asks for (the original to users who may download it), each request audited once."""
from __future__ import annotations

import os

import sqlalchemy as sa
from world import store_pdf

from bingan.storage.db import session_factory
from bingan.storage.models import AuditEvent, Document, DocumentType, Version
from bingan.web.records.views import STREAM_BLOCK

VIDEO = os.urandom(3 * STREAM_BLOCK + 12345)  # stands in for an MP4: the route streams bytes as stored


def add_video(engine, world) -> int:
    record = world.records["normal"]
    sha = store_pdf(VIDEO, record.record_number)  # any bytes: the blob store does not look inside
    with session_factory(engine)() as session, session.begin():
        doc_type = session.scalars(sa.select(DocumentType).where(DocumentType.name == "手术记录")).first()
        document = Document(record_id=record.id, document_type=doc_type, title="手术录像", source_system="OR",
                            source_document_id="video-1", origin="collected")
        version = Version(document=document, number=1, sha256=sha, size=len(VIDEO), media_type="video/mp4",
                          filename="手术录像.mp4", page_count=1)
        session.add(version)
        session.flush()
        document.current_version = version
        return document.id


def audit_count(engine, action: str) -> int:
    with session_factory(engine)() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.action == action))


def test_download_streams_the_original_with_its_length_and_name(client_for, world, web_engine):
    document = world.documents["normal"][0]
    response = client_for("archivist").get(f"/documents/{document.id}/download")
    assert response.status_code == 200 and response.content.startswith(b"%PDF-")
    assert int(response.headers["content-length"]) == len(response.content)
    assert response.headers["content-disposition"] == "attachment; filename*=UTF-8''doc.pdf"
    assert audit_count(web_engine, "download") == 1


def test_download_needs_the_download_permission(client_for, world):
    document = world.documents["normal"][0]
    assert client_for("clinician").get(f"/documents/{document.id}/download").status_code == 403


def test_video_is_served_whole_without_a_range(client_for, world, web_engine):
    video_id = add_video(web_engine, world)
    response = client_for("archivist").get(f"/documents/{video_id}/video")
    assert response.status_code == 200 and response.content == VIDEO
    assert response.headers["accept-ranges"] == "bytes" and response.headers["content-type"] == "video/mp4"


def test_video_seeks_by_byte_range_and_audits_each_request(client_for, world, web_engine):
    video_id = add_video(web_engine, world)
    player = client_for("archivist")
    first = player.get(f"/documents/{video_id}/video", headers={"Range": "bytes=0-"})
    assert first.status_code == 206 and first.content == VIDEO
    assert first.headers["content-range"] == f"bytes 0-{len(VIDEO) - 1}/{len(VIDEO)}"
    middle = player.get(f"/documents/{video_id}/video", headers={"Range": "bytes=2000000-2099999"})
    assert middle.status_code == 206 and middle.content == VIDEO[2000000:2100000]
    assert middle.headers["content-length"] == "100000"
    tail = player.get(f"/documents/{video_id}/video", headers={"Range": "bytes=-500"})
    assert tail.content == VIDEO[-500:]
    assert audit_count(web_engine, "view") == 3  # one event per request, however many blocks it streams


def test_video_range_beyond_the_end_is_refused_with_the_size(client_for, world, web_engine):
    video_id = add_video(web_engine, world)
    response = client_for("archivist").get(f"/documents/{video_id}/video",
                                           headers={"Range": f"bytes={len(VIDEO)}-"})
    assert response.status_code == 416 and response.headers["content-range"] == f"bytes */{len(VIDEO)}"
    assert "超出文件大小" in response.text


def test_a_pdf_is_not_played_as_a_video(client_for, world):
    document = world.documents["normal"][0]
    assert client_for("clinician").get(f"/documents/{document.id}/video").status_code == 404
