"""The archive signature (归档签章) as a specification on a real database (SQLite and PostgreSQL):
archiving queues the reviewer's signature, the worker signs the manifest of every current document
with a trusted timestamp from a real TSA, verification is clean until a byte of a document's file
changes, and a recall that re-archives signs again while the first signature stays."""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from signature_support import run_queued_jobs

from bingan.access.audit import Actor
from bingan.config import get_settings
from bingan.errors import Refusal
from bingan.formats import signing_check
from bingan.records import lifecycle
from bingan.records.archive_signature import authority, service
from bingan.storage.blobs.port import open_blob_store
from bingan.storage.models import AuditEvent, Record, User
from bingan.storage.models.archive_signature import ArchiveSignature, SigningCertificate
from bingan.storage.models.jobs import Job

pytestmark = pytest.mark.timeout(120)


def _reviewer(session, world) -> User:
    return session.get(User, world.users["qc"].id)


def _archive(session, world, record: Record) -> ArchiveSignature:
    lifecycle.move(session, Actor.of(_reviewer(session, world)), record, "archived", "质控通过")
    session.commit()
    assert run_queued_jobs(session) == ["done"]
    session.expire_all()
    return service.latest(session, record.id)


def _read(sha256: str) -> bytes:
    with open_blob_store(get_settings()).open(sha256) as stream:
        return stream.read()


def _flip_a_byte(sha256: str) -> None:
    volume = open_blob_store(get_settings()).volumes[0]
    path = volume.path / volume.pointer(sha256).read_text()
    data = path.read_bytes()
    path.write_bytes(data[:-20] + bytes([data[-20] ^ 0x01]) + data[-19:])


def test_archiving_queues_the_signature_job_of_the_reviewer(session, world, record):
    lifecycle.move(session, Actor.of(_reviewer(session, world)), record, "archived", "质控通过")
    job = session.scalars(sa.select(Job).where(Job.record_id == record.id, Job.kind == service.JOB)).one()
    assert (job.state, job.owner_id, job.params["signer_id"]) == ("queued", world.users["qc"].id,
                                                                   world.users["qc"].id)


def test_a_move_by_the_system_itself_queues_no_signature(session, world, record):
    lifecycle.move(session, lifecycle.SYSTEM, record, "archived", "数据迁移")
    assert session.scalars(sa.select(Job).where(Job.kind == service.JOB)).all() == []


def test_the_signature_names_the_reviewer_and_the_timestamp_authority(session, world, record, timestamped):
    served = timestamped.state.served
    signature = _archive(session, world, record)
    assert (signature.signer_name, signature.documents, signature.adapter) == ("测试qc", 2, "local")
    assert signature.timestamp_authority == "测试时间戳服务中心" and signature.timestamp_at is not None
    assert timestamped.state.served == served + 1


def test_the_manifest_lists_every_current_document_version_by_its_sha256(session, world, record):
    signature = _archive(session, world, record)
    manifest = json.loads(_read(signature.manifest_sha256))
    listed = {entry["title"]: entry["sha256"] for entry in manifest["documents"]}
    current = {d.title: d.current_version.sha256 for d in service.current_documents(session, record.id)}
    assert listed == current and (manifest["record_number"], manifest["stay_number"]) == ("0200001", 1)


def test_the_signature_is_a_detached_cms_with_a_trusted_timestamp_over_the_manifest(session, world, record):
    signature = _archive(session, world, record)
    check = signing_check.check(_read(signature.signature_sha256), _read(signature.manifest_sha256),
                                authority.trust_roots(session))
    assert check.valid and check.signer == "测试qc" and check.timestamp == signature.timestamp_at.replace(tzinfo=None)


def test_the_reviewer_gets_a_certificate_of_the_hospital_ca_once(session, world, record):
    _archive(session, world, record)
    certificates = session.scalars(sa.select(SigningCertificate).order_by(SigningCertificate.id)).all()
    assert [(c.is_ca, c.user_id, c.algorithm) for c in certificates] == [
        (True, None, "sm2"), (False, world.users["qc"].id, "sm2")]
    assert not certificates[1].private_key.startswith("-----")  # sealed with the master key


def test_an_untouched_archived_record_verifies_clean(session, world, record):
    _archive(session, world, record)
    verdict = service.verify_record(session, open_blob_store(get_settings()), Actor.of(_reviewer(session, world)),
                                    record)
    assert (verdict.ok, verdict.text()) == (True, "验证通过")


def test_a_flipped_byte_in_a_documents_file_fails_verification_naming_the_document(session, world, record):
    _archive(session, world, record)
    discharge = next(d for d in service.current_documents(session, record.id) if d.title == "出院记录")
    _flip_a_byte(discharge.current_version.sha256)
    verdict = service.verify_record(session, open_blob_store(get_settings()), Actor.of(_reviewer(session, world)),
                                    record)
    assert not verdict.ok
    assert [problem.split("：")[0] for problem in verdict.problems] == ["文书《出院记录》（第1版）"]


def test_a_version_swapped_in_the_database_fails_verification(session, world, record):
    _archive(session, world, record)
    admission = next(d for d in service.current_documents(session, record.id) if d.title == "入院记录")
    discharge = next(d for d in service.current_documents(session, record.id) if d.title == "出院记录")
    admission.current_version.sha256 = discharge.current_version.sha256
    session.flush()
    verdict = service.verify(session, open_blob_store(get_settings()), service.latest(session, record.id))
    assert verdict.problems == ["文书《入院记录》（第1版）：当前版本与签章时不同"]


def test_a_changed_manifest_fails_the_signature(session, world, record):
    signature = _archive(session, world, record)
    _flip_a_byte(signature.manifest_sha256)
    verdict = service.verify(session, open_blob_store(get_settings()), signature)
    assert not verdict.ok and verdict.problems[0].startswith("签章文件缺失或已损坏")


def test_verification_is_kept_on_the_signature_and_audited(session, world, record):
    signature = _archive(session, world, record)
    service.verify_record(session, open_blob_store(get_settings()), Actor.of(_reviewer(session, world)), record)
    assert signature.check_result == "验证通过" and signature.checked_at is not None
    actions = session.scalars(sa.select(AuditEvent.action).where(AuditEvent.record_id == record.id)).all()
    assert {"archive.sign", "archive.verify"} <= set(actions)


def test_a_record_without_a_signature_cannot_be_verified(session, world, record):
    with pytest.raises(Refusal, match="尚无归档签章"):
        service.verify_record(session, open_blob_store(get_settings()), Actor.of(_reviewer(session, world)), record)


def test_a_recall_that_re_archives_signs_again_and_keeps_the_first_signature(session, world, record):
    first = _archive(session, world, record)
    reviewer = Actor.of(_reviewer(session, world))
    for status in ("recalled", "submitted", "qc"):
        lifecycle.move(session, reviewer, record, status, "召回修改")
    second = _archive(session, world, record)
    assert second.id != first.id
    assert [s.id for s in service.signatures_of(session, record.id)] == [second.id, first.id]
    assert service.verify_all(session, open_blob_store(get_settings())) == []


def test_a_record_recalled_before_the_worker_came_is_not_signed(session, world, record):
    reviewer = Actor.of(_reviewer(session, world))
    lifecycle.move(session, reviewer, record, "archived", "质控通过")
    lifecycle.move(session, reviewer, record, "recalled", "召回")
    session.commit()
    assert run_queued_jobs(session) == ["done"]
    assert service.latest(session, record.id) is None


def test_without_a_tsa_the_signature_carries_only_the_signers_time(session, world, record, monkeypatch):
    from bingan.config import reset_settings

    monkeypatch.delenv("BINGAN_TSA_URL")
    reset_settings()
    signature = _archive(session, world, record)
    assert (signature.timestamp_authority, signature.timestamp_at) == ("", None)


def test_an_unreachable_tsa_fails_the_job_and_signs_nothing(session, world, record, monkeypatch):
    from bingan.config import reset_settings

    monkeypatch.setenv("BINGAN_TSA_URL", "http://127.0.0.1:9/tsa")
    reset_settings()
    lifecycle.move(session, Actor.of(_reviewer(session, world)), record, "archived", "质控通过")
    session.commit()
    assert run_queued_jobs(session) == ["failed"]
    job = session.scalars(sa.select(Job).where(Job.kind == service.JOB)).one()
    session.refresh(job)
    assert "时间戳服务器" in job.error and service.latest(session, record.id) is None


def test_verify_all_names_the_record_and_the_document(session, world, record):
    _archive(session, world, record)
    admission = next(d for d in service.current_documents(session, record.id) if d.title == "入院记录")
    _flip_a_byte(admission.current_version.sha256)
    [problem] = service.verify_all(session, open_blob_store(get_settings()))
    assert problem.startswith("病案 0200001 第1次 归档签章") and "文书《入院记录》（第1版）" in problem


def test_bingan_verify_passes_a_signed_record_and_fails_on_a_flipped_byte_naming_the_document(session, world,
                                                                                                record):
    import os
    import subprocess
    import sys
    from pathlib import Path

    _archive(session, world, record)
    discharge = next(d for d in service.current_documents(session, record.id) if d.title == "出院记录")
    env = os.environ | {"BINGAN_DATABASE_URL": session.get_bind().url.render_as_string(hide_password=False)}
    command = [Path(sys.executable).parent / "bingan", "verify"]
    clean = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    _flip_a_byte(discharge.current_version.sha256)
    flipped = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert flipped.returncode == 1 and "归档签章" in flipped.stdout and "文书《出院记录》（第1版）" in flipped.stdout


def test_archive_sign_signs_again_a_record_whose_job_failed_as_whoever_archived_it(session, world, record,
                                                                                    monkeypatch, timestamped):
    from bingan.config import reset_settings

    monkeypatch.setenv("BINGAN_TSA_URL", "http://127.0.0.1:9/tsa")
    reset_settings()
    lifecycle.move(session, Actor.of(_reviewer(session, world)), record, "archived", "质控通过")
    session.commit()
    assert run_queued_jobs(session) == ["failed"]
    monkeypatch.setenv("BINGAN_TSA_URL", timestamped.url)
    reset_settings()
    assert service.queue_missing(session, Actor(None, "cli")) == [record.id]
    session.commit()
    assert run_queued_jobs(session) == ["done"]
    assert service.latest(session, record.id).signer_id == world.users["qc"].id


def test_archive_sign_leaves_signed_records_alone(session, world, record):
    _archive(session, world, record)
    assert service.queue_missing(session, Actor(None, "cli")) == []


def _own_sm2_certificate(tmp_path, timestamped, monkeypatch):
    """An SM2 key and certificate from another CA (the fixtures' own gmssl code), its root trusted."""
    import ofd_sign_gen
    from asn1crypto import pem

    from bingan.formats import signatures
    from bingan.formats.signing import SigningKey

    ca = ofd_sign_gen.sm2_ca("某某数字证书认证中心", seed=51)
    key = ofd_sign_gen.Sm2Key.generate(seed=52)
    certificate = ofd_sign_gen.sm2_certificate(key, "测试qc（CA证书）", issuer=ca)
    roots = tmp_path / "roots-with-ca.pem"
    roots.write_bytes(timestamped.root_pem + pem.armor("CERTIFICATE", ca.cert))
    monkeypatch.setenv(signatures.TRUST_ROOTS_ENV, str(roots))
    return SigningKey("sm2", key.private_hex, key.public_hex).pem().encode(), [certificate, ca.cert]


def test_a_reviewers_own_certificate_signs_their_archives(session, world, record, tmp_path, timestamped,
                                                          monkeypatch):
    from bingan.access.sealed_secrets import SecretBox

    key, chain = _own_sm2_certificate(tmp_path, timestamped, monkeypatch)
    authority.install(session, SecretBox.of(get_settings()), Actor(None, "cli"), _reviewer(session, world), key,
                      chain)
    session.commit()
    signature = _archive(session, world, record)
    assert signature.signer_name == "测试qc（CA证书）"
    assert service.verify(session, open_blob_store(get_settings()), signature).ok


def test_a_key_that_is_not_the_certificates_is_refused(session, world, tmp_path, timestamped, monkeypatch):
    from bingan.access.sealed_secrets import SecretBox
    from bingan.formats.signing import SigningKey

    _, chain = _own_sm2_certificate(tmp_path, timestamped, monkeypatch)
    with pytest.raises(Refusal, match="私钥与证书不匹配"):
        authority.install(session, SecretBox.of(get_settings()), Actor(None, "cli"), _reviewer(session, world),
                          SigningKey.generate("sm2").pem().encode(), chain)


def test_bingan_signing_ca_gives_the_certificate_that_verifies_the_reviewers(session, world, record):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from asn1crypto import pem, x509

    from bingan.formats.ofd import certs

    env = os.environ | {"BINGAN_DATABASE_URL": session.get_bind().url.render_as_string(hide_password=False)}
    printed = subprocess.run([Path(sys.executable).parent / "bingan", "signing-ca"], env=env, capture_output=True,
                             timeout=120)
    assert printed.returncode == 0, printed.stderr
    _archive(session, world, record)
    ca = x509.Certificate.load(pem.unarmor(printed.stdout)[2])
    reviewer = session.scalars(sa.select(SigningCertificate).where(SigningCertificate.user_id.is_not(None))).one()
    leaf = x509.Certificate.load(next(pem.unarmor(reviewer.certificate.encode(), multiple=True))[2])
    assert certs.chains(leaf, (ca,))


@pytest.fixture
def remote_ca(timestamped, monkeypatch, tmp_path):
    """BINGAN_SIGNING=remote: the CA's signing server (tests/peers/signing_server.py), its root trusted."""
    from peers.signing_server import SigningServerPeer

    from bingan.config import reset_settings
    from bingan.formats import signatures

    with SigningServerPeer() as peer:
        roots = tmp_path / "roots-remote.pem"
        roots.write_bytes(timestamped.root_pem + peer.root_pem)
        monkeypatch.setenv(signatures.TRUST_ROOTS_ENV, str(roots))
        monkeypatch.setenv("BINGAN_SIGNING", "remote")
        monkeypatch.setenv("BINGAN_SIGNING_URL", peer.url)
        reset_settings()
        yield peer


def test_with_a_remote_signing_server_the_reviewers_key_there_signs(session, world, record, remote_ca):
    remote_ca.enrol(world.users["qc"].staff_number, "质控医师（CA）")
    signature = _archive(session, world, record)
    assert (signature.adapter, signature.signer_name) == ("remote", "质控医师（CA）")
    assert remote_ca.state.signed == [world.users["qc"].staff_number]
    assert service.verify(session, open_blob_store(get_settings()), signature).ok
    assert session.scalars(sa.select(SigningCertificate)).all() == []  # no local key made


def test_a_reviewer_the_signing_server_does_not_know_fails_the_job_saying_so(session, world, record, remote_ca):
    lifecycle.move(session, Actor.of(_reviewer(session, world)), record, "archived", "质控通过")
    session.commit()
    assert run_queued_jobs(session) == ["failed"]
    job = session.scalars(sa.select(Job).where(Job.kind == service.JOB)).one()
    session.refresh(job)
    assert "未登记的签名人" in job.error
