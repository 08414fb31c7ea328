"""The signed archive copy (签章归档副本), on SQLite and PostgreSQL: with BINGAN_ARCHIVE_SIGNED_COPY the
signing job also keeps one PDF of the archived record — every document's file attached exactly as
archived and the signed manifest — signed over all of it by the reviewer through the signing port
(the local SM2 key, or the CA's signing server) with the real TSA's timestamp. Verification and
`bingan verify` check it beside the manifest's signature; `bingan inspect` checks the file alone."""
from __future__ import annotations

import json
import re

import pytest
from signature_support import run_queued_jobs

from bingan.access.audit import Actor
from bingan.config import get_settings, reset_settings
from bingan.errors import NotFound
from bingan.formats import pades, signing_check
from bingan.records import lifecycle
from bingan.records.archive_signature import authority, service, signed_copy
from bingan.storage.blobs.port import open_blob_store
from bingan.storage.models import User
from bingan.storage.models.archive_signature import ArchiveSignature

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(autouse=True)
def copies(monkeypatch, timestamped):
    monkeypatch.setenv("BINGAN_ARCHIVE_SIGNED_COPY", "true")
    reset_settings()


def _archive(session, world, record) -> ArchiveSignature:
    lifecycle.move(session, Actor.of(session.get(User, world.users["qc"].id)), record, "archived", "质控通过")
    session.commit()
    assert run_queued_jobs(session) == ["done"]
    session.expire_all()
    return service.latest(session, record.id)


def _read(sha256: str) -> bytes:
    with open_blob_store(get_settings()).open(sha256) as stream:
        return stream.read()


def _rewrite(sha256: str, change) -> None:
    """The stored file of ``sha256`` replaced by ``change(its bytes)`` behind the blob store's back."""
    volume = open_blob_store(get_settings()).volumes[0]
    path = volume.path / volume.pointer(sha256).read_text()
    path.write_bytes(change(path.read_bytes()))


def test_the_copy_carries_every_documents_file_as_archived_and_the_signed_manifest(session, world, record):
    signature = _archive(session, world, record)
    attached = pades.attached_files(_read(signature.copy_sha256))
    current = {d.title: d.current_version.sha256 for d in service.current_documents(session, record.id)}
    files = {name: pades.sha256(data) for name, data in attached.items() if name.endswith(".pdf")}
    assert files == {"001-入院记录.pdf": current["入院记录"], "002-出院记录.pdf": current["出院记录"]}
    assert attached[signed_copy.SIGNED_MANIFEST] == _read(signature.manifest_sha256)
    listed = json.loads(attached[pades.MANIFEST_NAME])["files"]
    assert [entry["file"] for entry in listed] == ["001-入院记录.pdf", "002-出院记录.pdf", "归档签章清单.json"]


def test_the_copy_is_signed_over_all_of_it_by_the_reviewer_with_a_trusted_timestamp(session, world, record):
    signature = _archive(session, world, record)
    found = pades.last_signature(_read(signature.copy_sha256))
    assert found.problem == ""
    check = signing_check.check(found.cms, found.covered, authority.trust_roots(session))
    assert (check.intact, check.trusted, check.signer) == (True, True, "测试qc")
    assert check.timestamp is not None and check.timestamp_authority == "测试时间戳服务中心"


def test_an_untouched_copy_verifies_clean(session, world, record):
    signature = _archive(session, world, record)
    verdict = service.verify(session, open_blob_store(get_settings()), signature)
    assert verdict.ok, verdict.problems


def _flip(data: bytes, at: int = 400) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]


def test_a_flipped_byte_in_the_stored_copy_fails_verification_naming_the_copy(session, world, record):
    signature = _archive(session, world, record)
    _rewrite(signature.copy_sha256, _flip)
    [problem] = service.verify(session, open_blob_store(get_settings()), signature).problems
    assert problem.startswith("签章归档副本：文件缺失、已损坏或被改动")


def test_a_flipped_byte_anywhere_the_signature_covers_breaks_it(session, world, record):
    signature = _archive(session, world, record)
    copy, manifest = _read(signature.copy_sha256), _read(signature.manifest_sha256)
    roots = authority.trust_roots(session)
    _, hole_start, hole_end, _ = (int(n) for n in re.search(rb"/ByteRange \[(\d+) (\d+) (\d+) (\d+)", copy).groups())
    for at in (400, hole_start // 2):  # the cover, the attachments
        assert service.copy_problems(_flip(copy, at), manifest, roots) == [
            "签名无效：签名后内容已被改动：摘要与签名时不符"], at
    for at in range(hole_end, len(copy), 7):  # the signature dictionary after its value, the trailer
        assert service.copy_problems(_flip(copy, at), manifest, roots) != [], at


def test_content_added_after_signing_is_not_covered(session, world, record):
    signature = _archive(session, world, record)
    copy = _read(signature.copy_sha256)
    grown = copy + b"\n% appended after signing\n"
    problems = service.copy_problems(grown, _read(signature.manifest_sha256), authority.trust_roots(session))
    assert problems == ["签名未覆盖整个文件：签名后文件又被追加或改动了内容"]


def test_a_copy_carrying_another_manifest_fails(session, world, record):
    signature = _archive(session, world, record)
    problems = service.copy_problems(_read(signature.copy_sha256), b"{}", authority.trust_roots(session))
    assert problems == ["所附清单与归档签章所签的清单不同"]


def test_without_the_setting_no_copy_is_made(session, world, record, monkeypatch):
    monkeypatch.setenv("BINGAN_ARCHIVE_SIGNED_COPY", "false")
    reset_settings()
    signature = _archive(session, world, record)
    assert signature.copy_sha256 is None
    with pytest.raises(NotFound, match="没有签章归档副本"):
        service.signed_copy_of(session, open_blob_store(get_settings()), record)


def test_bingan_inspect_checks_the_copy_alone_and_bingan_verify_with_the_record(session, world, record, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from asn1crypto import pem

    signature = _archive(session, world, record)
    exported = tmp_path / "签章归档副本.pdf"
    exported.write_bytes(_read(signature.copy_sha256))
    bingan = Path(sys.executable).parent / "bingan"
    env = os.environ | {"BINGAN_DATABASE_URL": session.get_bind().url.render_as_string(hide_password=False),
                        "PYTHONPATH": str(Path(__file__).resolve().parents[3])}  # this checkout's bingan
    roots = tmp_path / "expert-roots.pem"  # what an expert trusts: the hospital CA (`bingan signing-ca`), the TSA
    roots.write_bytes(b"".join(pem.armor("CERTIFICATE", root.dump()) for root in authority.trust_roots(session)))
    inspected = subprocess.run([bingan, "inspect", str(exported), "--json", "--ocr", "no"], capture_output=True,
                               env=env | {"BINGAN_SIGNATURE_TRUST_ROOTS": str(roots)}, text=True, timeout=120)
    assert inspected.returncode == 0, inspected.stdout + inspected.stderr
    report = json.loads(inspected.stdout)
    assert report["manifest"] == {"files": 3, "intact": True, "problems": []}
    assert [(s["signer"], s["verdict"]) for s in report["signatures"]] == [("测试qc", "valid")]
    assert subprocess.run([bingan, "verify"], env=env, capture_output=True, timeout=120).returncode == 0
    _rewrite(signature.copy_sha256, _flip)
    flipped = subprocess.run([bingan, "verify"], env=env, capture_output=True, text=True, timeout=120)
    assert flipped.returncode == 1 and "签章归档副本" in flipped.stdout


@pytest.fixture
def remote_ca(timestamped, monkeypatch, tmp_path):
    """BINGAN_SIGNING=remote: the CA's signing server (tests/peers/signing_server.py), its root trusted."""
    from peers.signing_server import SigningServerPeer

    from bingan.formats import signatures

    with SigningServerPeer() as peer:
        roots = tmp_path / "roots-remote.pem"
        roots.write_bytes(timestamped.root_pem + peer.root_pem)
        monkeypatch.setenv(signatures.TRUST_ROOTS_ENV, str(roots))
        monkeypatch.setenv("BINGAN_SIGNING", "remote")
        monkeypatch.setenv("BINGAN_SIGNING_URL", peer.url)
        reset_settings()
        yield peer


def test_the_cas_signing_server_signs_the_copy_through_the_same_port(session, world, record, remote_ca):
    remote_ca.enrol(world.users["qc"].staff_number, "质控医师（CA）")
    signature = _archive(session, world, record)
    assert remote_ca.state.signed == [world.users["qc"].staff_number] * 2  # the manifest, then the copy
    found = pades.last_signature(_read(signature.copy_sha256))
    check = signing_check.check(found.cms, found.covered, authority.trust_roots(session))
    assert (check.intact, check.trusted, check.signer) == (True, True, "质控医师（CA）")
    assert service.verify(session, open_blob_store(get_settings()), signature).ok
