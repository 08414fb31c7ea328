"""The archive signature on the record page and in the JSON API: 已签章：who, when, the timestamp
authority; 验证 on demand, clean until a byte of a document's file changes (a real TSA peer)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from web_helpers import csrf_headers

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/peers as the "peers" package

from peers.tsa import TsaPeer

from bingan.config import get_settings, reset_settings
from bingan.formats import signatures
from bingan.records.archive_signature import service
from bingan.storage.blobs.port import open_blob_store
from bingan.storage.db import session_factory
from bingan.storage.models import Record, User

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def tsa():
    with TsaPeer() as peer:
        yield peer


@pytest.fixture
def signed(web_engine, world, tsa, monkeypatch, tmp_path) -> int:
    """The world's normal record, signed by the QC reviewer with the TSA's timestamp."""
    return _sign(web_engine, world, tsa, monkeypatch, tmp_path)


def _sign(web_engine, world, tsa, monkeypatch, tmp_path) -> int:
    roots = tmp_path / "roots.pem"
    roots.write_bytes(tsa.root_pem)
    monkeypatch.setenv(signatures.TRUST_ROOTS_ENV, str(roots))
    monkeypatch.setenv("BINGAN_TSA_URL", tsa.url)
    reset_settings()
    with session_factory(web_engine)() as session, session.begin():
        record = session.get(Record, world.records["normal"].id)
        reviewer = session.get(User, world.users["qc"].id)
        service.sign_record(session, open_blob_store(get_settings()), get_settings(), record, reviewer,
                            lambda *_: None)
    return world.records["normal"].id


def _flip_the_document(world) -> None:
    volume = open_blob_store(get_settings()).volumes[0]
    path = volume.path / volume.pointer(world.documents["normal"][0].current_version.sha256).read_text()
    data = path.read_bytes()
    path.write_bytes(data[:-20] + bytes([data[-20] ^ 0x01]) + data[-19:])


def test_the_record_page_loads_the_archive_signature_panel(client_for, signed):
    page = client_for("archivist").get(f"/records/{signed}")
    assert f'hx-get="/records/{signed}/archive-signature"' in page.text


def test_the_panel_says_who_signed_when_and_the_timestamp_authority(client_for, signed):
    panel = client_for("archivist").get(f"/records/{signed}/archive-signature")
    assert "已签章：测试qc，" in panel.text and "时间戳：测试时间戳服务中心" in panel.text
    assert 'id="archive-signature-verify"' in panel.text


def test_an_archived_record_not_yet_signed_says_so(client_for, world):
    panel = client_for("archivist").get(f"/records/{world.records['normal'].id}/archive-signature")
    assert "尚未签章" in panel.text


def test_verifying_on_the_page_shows_the_verdict(client_for, signed):
    client = client_for("archivist")
    panel = client.post(f"/records/{signed}/archive-signature/verify",
                        headers={**csrf_headers(client), "HX-Request": "true"})
    assert panel.status_code == 200 and "验证通过" in panel.text


def test_verifying_without_htmx_goes_back_to_the_record_page(client_for, signed):
    client = client_for("archivist")
    answer = client.post(f"/records/{signed}/archive-signature/verify", headers=csrf_headers(client),
                         follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (303, f"/records/{signed}#archive-signature")


def test_the_api_lists_the_records_signatures(client_for, signed):
    listed = client_for("archivist").get(f"/api/v1/records/{signed}/archive-signatures").json()["signatures"]
    assert [(s["signer"], s["timestamp_authority"], s["documents"]) for s in listed] == [
        ("测试qc", "测试时间戳服务中心", 1)]


def test_the_api_verification_names_the_document_whose_file_changed(client_for, signed, world):
    client = client_for("archivist")
    clean = client.post(f"/api/v1/records/{signed}/archive-signature/verify", headers=csrf_headers(client)).json()
    assert (clean["ok"], clean["result"]) == (True, "验证通过")
    _flip_the_document(world)
    flipped = client.post(f"/api/v1/records/{signed}/archive-signature/verify", headers=csrf_headers(client)).json()
    assert flipped["ok"] is False
    assert flipped["problems"][0].startswith("文书《入院记录》（第1版）：文件已损坏或被改动，与签章时不符")


def test_verifying_a_record_without_a_signature_is_refused(client_for, world):
    client = client_for("archivist")
    answer = client.post(f"/api/v1/records/{world.records['normal'].id}/archive-signature/verify",
                         headers=csrf_headers(client))
    assert answer.status_code in (400, 409) and "尚无归档签章" in answer.text


def test_a_user_outside_the_records_department_cannot_see_its_signatures(client_for, world):
    other = world.records["other_department"].id
    assert client_for("clinician").get(f"/api/v1/records/{other}/archive-signatures").status_code == 403


@pytest.fixture
def signed_with_copy(web_engine, world, tsa, monkeypatch, tmp_path) -> int:
    """As ``signed``, with BINGAN_ARCHIVE_SIGNED_COPY: the signed archive copy is kept too."""
    monkeypatch.setenv("BINGAN_ARCHIVE_SIGNED_COPY", "true")
    return _sign(web_engine, world, tsa, monkeypatch, tmp_path)


def test_the_signed_copy_downloads_as_one_pdf_signed_over_all_of_it_and_audited(client_for, signed_with_copy,
                                                                                 web_engine):
    import sqlalchemy as sa

    from bingan.formats import pades
    from bingan.storage.models import AuditEvent

    client = client_for("archivist")
    assert f'href="/records/{signed_with_copy}/archive-signature/copy"' in client.get(
        f"/records/{signed_with_copy}/archive-signature").text
    answer = client.get(f"/records/{signed_with_copy}/archive-signature/copy")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/pdf"
    assert "attachment" in answer.headers["content-disposition"]
    assert pades.last_signature(answer.content).problem == ""
    with session_factory(web_engine)() as session:
        event = session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "archive.copy_download")).one()
        assert (event.username, event.record_id) == ("u_archivist", signed_with_copy)


def test_the_copy_is_refused_to_whom_a_category_template_closes_one_of_its_documents(client_for, signed_with_copy,
                                                                                     web_engine, world):
    import sqlalchemy as sa

    from bingan.storage.models import Category, CategoryTemplate, Role

    with session_factory(web_engine)() as session, session.begin():
        closed = {d.document_type.category_id for d in service.current_documents(session, signed_with_copy)}
        other = session.scalars(sa.select(Category).where(Category.id.not_in(closed))).first()
        role = session.scalars(sa.select(Role).where(Role.code == "archivist")).one()
        session.add(CategoryTemplate(name="只下载其他类", role_id=role.id, category_id=other.id,
                                     actions=["view", "download"]))
    answer = client_for("archivist").get(f"/records/{signed_with_copy}/archive-signature/copy")
    assert answer.status_code == 403 and "无权下载的文书类别" in answer.text


def test_without_a_copy_the_download_is_not_found(client_for, signed):
    answer = client_for("archivist").get(f"/records/{signed}/archive-signature/copy")
    assert answer.status_code == 404 and "没有签章归档副本" in answer.text
