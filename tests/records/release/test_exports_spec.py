"""Exports (issue 15 item 7) on a real database: records or chosen documents as PDF signed with the
hospital's certificate and OFD sealed with its SM2 electronic seal, watermarked for the audience
with the exporting user in every page, in one zip with a SHA-256 manifest; `bingan inspect`
verifies both and catches a flipped byte; sealed records refused with the reason."""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from release_support import run_queued_jobs
from typer.testing import CliRunner
from world import add_pdf_document

from bingan.access.audit import Actor
from bingan.access.policy import load_subject
from bingan.access.sealed_secrets import SecretBox
from bingan.cli.app import app as cli
from bingan.config import get_settings
from bingan.errors import Refusal
from bingan.formats import watermark
from bingan.formats.document import open_document
from bingan.formats.pades import sha256
from bingan.records import lifecycle
from bingan.records.hospital_certificate import seal_key, signing_identity
from bingan.records.pages import PageRenderer
from bingan.records.prints import printed_copies
from bingan.records.release import exports
from bingan.storage.blobs.port import open_blob_store
from bingan.storage.models import Record, User
from bingan.storage.models.jobs import Job
from bingan.storage.models.sealing import SealCertificate

AUDIENCE = "仅供商业保险理赔使用"


def _export(session, world, records=None, role="archivist", **what) -> Job:
    user = session.get(User, world.users[role].id)
    chosen = records or [world.records["normal"]]
    form = exports.ExportForm(record_ids=[r.id for r in chosen], **{"watermark": AUDIENCE, **what})
    job = exports.start_export(session, Actor.of(user, "127.0.0.1"), user, load_subject(session, user), chosen, form)
    session.commit()
    return job


def _zip_of(session, job: Job) -> zipfile.ZipFile:
    assert run_queued_jobs(session.get_bind()) == ["done"]
    session.expire_all()
    done = session.get(Job, job.id)
    with open_blob_store(get_settings()).open(done.result_sha256) as stream:
        return zipfile.ZipFile(io.BytesIO(stream.read()))


def _manifest(archive: zipfile.ZipFile) -> dict:
    return json.loads(archive.read(exports.MANIFEST))


def _inspect(path: Path) -> tuple[int, dict]:
    result = CliRunner().invoke(cli, ["inspect", str(path), "--json", "--ocr", "no"])
    return result.exit_code, json.loads(result.stdout)


def test_a_record_becomes_one_zip_of_signed_pdfs_and_sealed_ofds_with_their_sha256s(session, world):
    archive = _zip_of(session, _export(session, world))
    manifest = _manifest(archive)
    names = [item["file"] for item in manifest["files"]]
    assert names == [f"0000001-1/{n:03d}-{title}.{kind}" for n, title in
                     ((1, "住院病案首页"), (2, "入院记录"), (3, "出院记录")) for kind in ("pdf", "ofd")]
    assert all(sha256(archive.read(item["file"])) == item["sha256"] for item in manifest["files"])
    assert manifest["watermark"] == AUDIENCE and manifest["exported_by"] == "测试archivist（S0004）"
    assert set(manifest["certificates"]) <= set(archive.namelist())


def test_bingan_inspect_verifies_the_exported_pdf_and_ofd_and_catches_a_flipped_byte(
        session, world, tmp_path, monkeypatch):
    archive = _zip_of(session, _export(session, world))
    roots = tmp_path / "roots.pem"
    roots.write_bytes(b"".join(archive.read(name) for name in exports.CERTIFICATES.values()))
    monkeypatch.setenv("BINGAN_SIGNATURE_TRUST_ROOTS", str(roots))
    for kind, signature_kind in (("pdf", "ETSI.CAdES.detached"), ("ofd", "OFD SES V4")):
        name = next(n for n in archive.namelist() if n.endswith(f"入院记录.{kind}"))
        path = tmp_path / f"exported.{kind}"
        path.write_bytes(archive.read(name))
        status, report = _inspect(path)
        assert status == 0 and report["pages"] == 3, report
        assert [(s["verdict"], signature_kind in s["kind"]) for s in report["signatures"]] == [("valid", True)]
        data = bytearray(path.read_bytes())
        data[data.index(b"\xff\xd8\xff") + 500 if kind == "ofd" else len(data) // 3] ^= 0x01  # one bit
        path.write_bytes(bytes(data))
        status, report = _inspect(path)
        assert status == 1, report
        assert report["error"] or report["signatures"][0]["verdict"] == "tampered"


def test_the_exporting_user_is_hidden_in_every_page_besides_the_visible_watermark(session, world):
    job = _export(session, world, formats=["pdf"], document_ids=[world.documents["normal"][0].id])
    archive = _zip_of(session, job)
    pdf = archive.read(next(n for n in archive.namelist() if n.endswith(".pdf")))
    version = world.documents["normal"][0].current_version
    renderer = PageRenderer(get_settings(), open_blob_store(get_settings()))
    with open_document(pdf, "application/pdf") as document:
        for number in range(1, document.page_count() + 1):
            found = watermark.extract_invisible(document.render(number, width=1000),
                                                renderer.base(version.sha256, version.media_type, number))
            assert found.payload is not None and found.payload.user_id == world.users["archivist"].id


def test_chosen_documents_or_categories_only(session, world):
    chosen = _manifest(_zip_of(session, _export(session, world, document_ids=[world.documents["normal"][1].id])))
    assert [item["title"] for item in chosen["files"]] == ["出院记录", "出院记录"]
    by_category = _manifest(_zip_of(session, _export(session, world, categories=["住院病案首页"], formats=["ofd"])))
    assert [(item["title"], item["format"]) for item in by_category["files"]] == [("住院病案首页", "ofd")]


def test_many_records_go_into_one_zip_with_progress_over_all_their_pages(session, world):
    other = session.get(Record, world.records["other_department"].id)
    add_pdf_document(session, other, "出院记录")
    session.commit()
    job = _export(session, world, records=[world.records["normal"], other], formats=["pdf"])
    folders = {item["file"].split("/")[0] for item in _manifest(_zip_of(session, job))["files"]}
    assert folders == {"0000001-1", "0000004-1"}
    done = session.get(Job, job.id)
    assert (done.state, done.done, done.total) == ("done", 12, 12)


def test_a_sealed_record_is_refused_with_the_reason(session, world):
    with pytest.raises(Refusal, match="已封存，封存的病案一律不予导出"):
        _export(session, world, records=[session.get(Record, world.records["sealed"].id)])


def test_a_record_sealed_after_the_export_was_asked_for_is_not_exported(session, world):
    job = _export(session, world)
    lifecycle.seal(session, lifecycle.SYSTEM, session.get(Record, world.records["normal"].id), "医疗纠纷")
    session.commit()
    assert run_queued_jobs(session.get_bind()) == ["failed"]
    session.expire_all()
    failed = session.get(Job, job.id)
    assert "已封存" in failed.error and not failed.result_sha256


@pytest.mark.parametrize(("what", "message"), [
    ({"formats": ["docx"]}, "导出格式应为 pdf、ofd"),
    ({"formats": []}, "导出格式应为 pdf、ofd"),
    ({"watermark": "仅" * 101}, "水印文字不能超过 100 字"),
    ({"categories": ["不存在的分类"]}, "病案分类不存在"),
    ({"document_ids": [10**9]}, "所选文书不属于所选病案"),
    ({"document_ids": [1], "categories": ["出院记录"]}, "选择一种导出范围"),
])
def test_bad_requests_are_refused_and_nothing_is_queued(session, world, what, message):
    with pytest.raises(Refusal, match=message):
        _export(session, world, **what)
    session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(Job)) == 0


def test_every_exported_document_is_in_the_record_s_print_register(session, world):
    _zip_of(session, _export(session, world, formats=["ofd"]))
    exported = [copy for copy in printed_copies(session, world.records["normal"].id) if copy.kind == "导出"]
    assert [(copy.document, copy.for_whom, copy.version) for copy in exported] == [
        ("住院病案首页", AUDIENCE, 1), ("入院记录", AUDIENCE, 1), ("出院记录", AUDIENCE, 1)]


def test_the_hospital_seal_is_an_sm2_key_made_once_and_kept_sealed_beside_the_pdf_certificate(session, world):
    box = SecretBox.of(get_settings())
    first, again = seal_key(session, box, "示例医院"), seal_key(session, box, "示例医院")
    signing_identity(session, box, "示例医院")
    assert first == again and len(first.public_xy) == 64
    stored = {row.purpose: row for row in session.scalars(sa.select(SealCertificate).where(SealCertificate.active))}
    assert set(stored) == {"pdf", "ofd_seal"}
    assert stored["ofd_seal"].private_key.startswith("sealed:") and "病案导出电子印章" in stored["ofd_seal"].subject
