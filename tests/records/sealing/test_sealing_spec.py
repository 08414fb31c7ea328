"""Sealing (封存) as a specification on a real database (SQLite and PostgreSQL): applying with the
parties and scope, approval through the engine sealing the record and queuing its package, the
signed package and its manifest, the seal list, unsealing through its own flow, and the
three-year reminder."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sealing_support import AGENT_ID, PARTIES, PATIENT_ID

from bingan.access.audit import Actor
from bingan.config import get_settings
from bingan.errors import Conflict, Refusal
from bingan.formats.pades import attached_files, sha256
from bingan.formats.signatures import verify_pdf
from bingan.records import jobs
from bingan.records.approvals import engine
from bingan.records.sealing import package, scheduled, service
from bingan.storage.blobs.port import open_blob_store
from bingan.storage.models import ApprovalRequest, AuditEvent, Message, Record, User, utcnow
from bingan.storage.models.jobs import Job
from bingan.storage.models.sealing import Seal, SealCertificate


def _user(session, world, role: str) -> User:
    return session.get(User, world.users[role].id)


def _apply(session, world, state: str = "normal", **form) -> Seal:
    applicant = _user(session, world, "medical_affairs")
    record = session.get(Record, world.records[state].id)
    values = {"reason": "患者家属对诊疗过程有异议", "parties": PARTIES, "dispute": "术后并发症争议", **form}
    return service.apply_seal(session, Actor.of(applicant), applicant, record, service.SealForm(**values))


def _approve(session, world, request_id: int, role: str = "archivist") -> ApprovalRequest:
    approver = _user(session, world, role)
    return engine.decide(session, Actor.of(approver), approver, request_id, "approve", "同意封存")


def _sealed(session, world) -> Seal:
    seal = _apply(session, world)
    _approve(session, world, seal.request_id)
    session.commit()
    return seal


def _build(session, seal: Seal) -> str:
    return jobs.run_job(session.get_bind(), open_blob_store(get_settings()), seal.package_job_id)


# --- applying ------------------------------------------------------------------------------------

def test_an_application_keeps_parties_and_scope_on_the_seal_not_in_the_request(session, world):
    seal = _apply(session, world)
    request = session.get(ApprovalRequest, seal.request_id)
    assert (request.kind, request.status, request.payload) == ("seal", "pending",
                                                              {"scope": "整份病案", "seal_id": seal.id})
    assert [(p["role"], p["id_number"]) for p in seal.parties] == [
        ("patient", PATIENT_ID), ("agent", AGENT_ID), ("staff", "")]
    assert seal.document_ids is None and seal.status == "applied"


@pytest.mark.parametrize(("parties", "message"), [
    ([{"role": "patient", "name": "王建国", "id_number": "110105194912310021"}], "身份证号码校验位错误"),
    ([{"role": "agent", "name": "王小明", "id_number": "1101051980"}], "身份证号码应为18位"),
    ([{"role": "patient", "name": "王建国"}], "请填写患者本人“王建国”的身份证号码"),
    ([{"role": "staff", "name": "张医生"}], "封存须医患双方在场"),
    ([{"role": "judge", "name": "某某"}], "身份应为"),
    ("王建国", "在场人员格式不正确"),
])
def test_bad_parties_are_refused_in_chinese_and_change_nothing(session, world, parties, message):
    with pytest.raises(Refusal, match=message):
        _apply(session, world, parties=parties)
    assert session.scalar(sa.select(sa.func.count()).select_from(ApprovalRequest)) == 0


def test_a_notary_stands_in_when_the_patient_refuses_and_the_applicant_stands_for_the_hospital(session, world):
    seal = _apply(session, world, parties={"notary": {"name": "李公证", "organisation": "东城公证处"}})
    assert [(p["role"], p["name"]) for p in seal.parties] == [("notary", "李公证"), ("staff", "测试medical_affairs")]


def test_chosen_documents_must_belong_to_the_record(session, world):
    chosen = [world.documents["normal"][1].id]
    assert _apply(session, world, scope={"document_ids": chosen}).document_ids == chosen
    session.rollback()
    other = world.records["confidential"].id
    with pytest.raises(Refusal, match="不属于该病案"):
        _apply(session, world, scope="documents", document_ids=[other * 1000])
    with pytest.raises(Refusal, match="请选择要封存的文书"):
        _apply(session, world, scope="documents")


def test_a_sealed_record_cannot_be_applied_for_again(session, world):
    with pytest.raises(Conflict, match="病案已封存"):
        _apply(session, world, state="sealed")


# --- approval --------------------------------------------------------------------------------------

def test_the_last_approval_seals_the_record_and_queues_its_package_in_the_same_transaction(session, world):
    seal = _apply(session, world)
    request = _approve(session, world, seal.request_id)
    assert request.status == "approved" and request.record.sealed
    assert (seal.status, seal.sealed_by_id, seal.package_status) == ("sealed", world.users["archivist"].id, "pending")
    job = session.get(Job, seal.package_job_id)
    assert (job.kind, job.state, job.owner_id, job.params) == ("seal_package", "queued", None, {"seal_id": seal.id})
    actions = set(session.scalars(sa.select(AuditEvent.action).where(AuditEvent.record_id == seal.record_id)))
    assert {"seal", "seal.sealed", "approval.approve", "job.start"} <= actions


def test_sealing_cancels_the_other_open_requests_on_the_record(session, world):
    clinician = _user(session, world, "clinician")
    record = session.get(Record, world.records["normal"].id)
    borrowing = engine.submit(session, Actor.of(clinician), clinician, "borrow", record, "科研")
    _sealed(session, world)
    assert session.get(ApprovalRequest, borrowing.id).status == "cancelled"


def test_a_rejected_application_leaves_the_record_open(session, world):
    seal = _apply(session, world)
    archivist = _user(session, world, "archivist")
    engine.decide(session, Actor.of(archivist), archivist, seal.request_id, "reject", "双方未到场")
    assert seal.status == "refused" and not seal.record.sealed


# --- the package -------------------------------------------------------------------------------------

def test_the_package_holds_every_document_as_pdf_and_ofd_with_a_manifest_and_a_hospital_signature(
        session, world):
    seal = _sealed(session, world)
    assert _build(session, seal) == "done"
    session.expire_all()
    seal = session.get(Seal, seal.id)
    assert seal.package_status == "ready" and seal.package_built_at is not None
    with open_blob_store(get_settings()).open(seal.package_sha256) as stream:
        signed = stream.read()
    files = attached_files(signed)
    assert sorted(files) == ["001-入院记录.ofd", "001-入院记录.pdf", "002-出院记录.ofd", "002-出院记录.pdf",
                             "manifest.json"]
    manifest = json.loads(files["manifest.json"])
    assert manifest["record_number"] == world.records["normal"].record_number
    assert all(sha256(files[item["file"]]) == item["sha256"] for item in manifest["files"])
    assert files["001-入院记录.ofd"].startswith(b"PK") and seal.manifest == manifest["files"]
    [signature] = verify_pdf(signed, [])
    assert signature.verdict == "unverifiable" and "签名完整" in signature.reason and "病案封存签章" in signature.signer


def test_the_hospital_certificate_is_created_once_with_its_key_sealed(session, world):
    seal = _sealed(session, world)
    _build(session, seal)
    [certificate] = session.scalars(sa.select(SealCertificate)).all()
    assert certificate.source == "self_signed" and certificate.private_key.startswith("sealed:")
    assert "PRIVATE KEY" not in certificate.private_key


def test_a_package_is_not_built_for_a_record_unsealed_meanwhile(session, world):
    seal = _sealed(session, world)
    seal.status = "unsealed"
    session.commit()
    assert _build(session, seal) == "failed"
    assert session.get(Job, seal.package_job_id).error == "病案已解封，不再生成封存件"


def test_the_seal_list_prints_what_was_sealed_the_hashes_and_both_signature_lines(session, world):
    from bingan.formats.document import open_document

    seal = _sealed(session, world)
    _build(session, seal)
    session.expire_all()
    seal = session.get(Seal, seal.id)
    pdf = package.seal_list_pdf(package.list_facts(session, seal, "示例医院"))
    with open_document(pdf, "application/pdf") as document:
        text = "\n".join(page.text for page in document.page_texts(ocr=False))
    assert "病案封存清单" in text and world.records["normal"].record_number in text
    assert seal.manifest[0]["sha256"] in text and seal.package_sha256 in text
    assert "患方（患者或其代理人）签名" in text and "医方经办人签名" in text and PATIENT_ID in text


# --- unsealing and the reminder ------------------------------------------------------------------

def test_unsealing_goes_through_its_own_flow_decided_by_another_seal_manager(session, world):
    seal = _sealed(session, world)
    applicant = _user(session, world, "medical_affairs")
    service.apply_unseal(session, Actor.of(applicant), applicant, seal.record, "纠纷已调解结束",
                         [{"role": "patient", "name": "王建国", "id_number": PATIENT_ID}])
    request = session.get(ApprovalRequest, seal.unseal_request_id)
    assert request.kind == "unseal" and request.status == "pending"
    _approve(session, world, request.id, role="seal_head")
    assert request.status == "approved" and not seal.record.sealed and seal.status == "unsealed"


def test_an_unseal_application_needs_a_sealed_record(session, world):
    applicant = _user(session, world, "medical_affairs")
    record = session.get(Record, world.records["normal"].id)
    with pytest.raises(Conflict, match="病案未封存"):
        service.apply_unseal(session, Actor.of(applicant), applicant, record, "纠纷结束")


def test_seal_managers_are_reminded_once_after_three_years_without_a_claim(session, world):
    seal = _sealed(session, world)
    now = utcnow()
    assert scheduled.remind_unclaimed_seals(session, now + timedelta(days=365 * 3 - 2)) == 0
    assert scheduled.remind_unclaimed_seals(session, now + timedelta(days=365 * 3 + 2)) == 1
    assert scheduled.remind_unclaimed_seals(session, now + timedelta(days=365 * 4)) == 0
    told = set(session.scalars(sa.select(Message.user_id).where(Message.kind == "seal")))
    assert told == {world.users["medical_affairs"].id, world.users["seal_head"].id}
    assert seal.reminded_at is not None


# --- verifying a package: `bingan inspect` -------------------------------------------------------

def _package_file(session, world, tmp_path):
    seal = _sealed(session, world)
    _build(session, seal)
    session.expire_all()
    seal = session.get(Seal, seal.id)
    with open_blob_store(get_settings()).open(seal.package_sha256) as stream:
        path = tmp_path / "封存件.pdf"
        path.write_bytes(stream.read())
    return path


def test_bingan_inspect_verifies_the_signature_and_the_manifest_with_the_hospital_certificate_trusted(
        session, world, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from bingan.access.sealed_secrets import SecretBox
    from bingan.cli.app import app
    from bingan.records.hospital_certificate import certificate_pem

    path = _package_file(session, world, tmp_path)
    roots = tmp_path / "roots.pem"
    roots.write_text(certificate_pem(session, SecretBox.of(get_settings()), "示例医院"))
    monkeypatch.setenv("BINGAN_SIGNATURE_TRUST_ROOTS", str(roots))
    result = CliRunner().invoke(app, ["inspect", str(path), "--json", "--ocr", "no"])
    report = json.loads(result.stdout)
    assert result.exit_code == 0 and report["error"] is None
    assert report["manifest"] == {"files": 4, "intact": True, "problems": []}
    assert [s["verdict"] for s in report["signatures"]] == ["valid"]


def test_bingan_inspect_refuses_a_package_whose_attachment_was_swapped(session, world, tmp_path):
    import pikepdf
    from typer.testing import CliRunner

    from bingan.cli.app import app

    path = _package_file(session, world, tmp_path)
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        name = next(iter(n for n in pdf.attachments if n.endswith(".pdf")))
        pdf.attachments[name] = pikepdf.AttachedFileSpec(pdf, b"%PDF-1.4 forged", filename=name)
        pdf.save(path)
    result = CliRunner().invoke(app, ["inspect", str(path), "--json", "--ocr", "no"])
    report = json.loads(result.stdout)
    assert result.exit_code == 1 and "SHA-256 与清单不符" in report["error"]


def test_a_master_key_rotation_keeps_the_hospital_key_usable(session, engine, world):
    import os

    from bingan.access.sealed_secrets import SecretBox, rewrap_sealed_secrets
    from bingan.records.hospital_certificate import signing_identity
    from bingan.storage.blobs.keys import Keyring

    old, new = os.urandom(32), os.urandom(32)
    signing_identity(session, SecretBox(Keyring([old])), "示例医院")
    session.commit()
    rewrap_sealed_secrets(engine, Keyring([new, old]))  # during the rotation: both keys
    session.expire_all()
    assert signing_identity(session, SecretBox(Keyring([new])), "示例医院").key_der  # the old key retired
