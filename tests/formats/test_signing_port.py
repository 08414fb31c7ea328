"""The signing port (bingan/formats/signing*.py): a digest in, a detached CMS out — by a local key
(SM2/SM3, RSA, ECDSA), by a CA's signing server (tests/peers/signing_server.py), with RFC 3161
timestamps from a TSA (tests/peers/tsa.py) — and what verification says of each."""
from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import cms, pem, x509

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/peers as the "peers" package

import ofd_sign_gen
from peers.signing_server import SigningServerPeer
from peers.tsa import TsaPeer

from bingan.formats import signing, signing_check
from bingan.formats.signing import KeySigner, SigningError, SigningKey
from bingan.formats.signing_remote import RemoteSigner, TsaClient

pytestmark = pytest.mark.timeout(60)
MANIFEST = b'{"record_number":"0200001","documents":[{"sha256":"ab"}]}'


@pytest.fixture(scope="module")
def tsa():
    with TsaPeer() as peer:
        yield peer


@pytest.fixture(scope="module")
def signing_server():
    with SigningServerPeer() as peer:
        peer.enrol("S0005", "王医生", "rsa")
        peer.enrol("S0006", "李医生", "ecdsa")
        yield peer


def _root(pem_data: bytes) -> x509.Certificate:
    return x509.Certificate.load(pem.unarmor(pem_data)[2])


def _hospital_signer(kind: str) -> tuple[KeySigner, x509.Certificate]:
    """A reviewer's key and certificate issued by a hospital CA of the same kind."""
    now = datetime.now(UTC)
    ca_key, key = SigningKey.generate(kind), SigningKey.generate(kind)
    ca = signing.issue_certificate(ca_key, {"common_name": "某某医院病案签章 CA"}, issuer_key=ca_key, issuer=None,
                                   serial=1, valid_from=now - timedelta(days=1), valid_to=now + timedelta(days=30),
                                   ca=True)
    leaf = signing.issue_certificate(key, {"common_name": "王医生", "serial_number": "S0005"}, issuer_key=ca_key,
                                     issuer=x509.Certificate.load(ca).subject, serial=2,
                                     valid_from=now - timedelta(days=1), valid_to=now + timedelta(days=30))
    return KeySigner(key, [leaf, ca]), x509.Certificate.load(ca)


def _sign(signer, data: bytes = MANIFEST) -> bytes:
    algorithm = signing.digest_algorithm(signer.chain()[0])
    return signer.sign(signing.digest(algorithm, data), algorithm)


def _stamped(signature: bytes, tsa: TsaPeer) -> bytes:
    value, algorithm = signing.signature_value(signature)
    return signing.with_timestamp(signature, TsaClient(tsa.url).stamp(value, algorithm))


@pytest.mark.parametrize("kind", ["sm2", "rsa", "ecdsa"])
def test_a_local_key_signs_a_digest_that_verifies_against_the_data(kind):
    signer, ca = _hospital_signer(kind)
    check = signing_check.check(_sign(signer), MANIFEST, (ca,))
    assert (check.intact, check.trusted, check.signer) == (True, True, "王医生")


@pytest.mark.parametrize("kind", ["sm2", "rsa"])
def test_a_signature_over_changed_data_is_not_intact(kind):
    signer, ca = _hospital_signer(kind)
    check = signing_check.check(_sign(signer), MANIFEST.replace(b"ab", b"ac"), (ca,))
    assert (check.intact, check.problem) == (False, "签名后内容已被改动：摘要与签名时不符")


def test_an_sm2_certificate_signs_with_sm3_and_rsa_with_sha256():
    sm2, _ = _hospital_signer("sm2")
    rsa, _ = _hospital_signer("rsa")
    assert (signing.digest_algorithm(sm2.chain()[0]), signing.digest_algorithm(rsa.chain()[0])) == ("sm3", "sha256")
    assert signing.signature_value(_sign(sm2))[1] == "sm3"


def test_an_sm2_key_of_another_ca_signs_through_the_local_adapter():
    """Key and certificate made by the test fixtures' own SM2 code (gmssl), not by bingan's."""
    ca = ofd_sign_gen.sm2_ca("某某卫健委测试根 CA", seed=41)
    key = ofd_sign_gen.Sm2Key.generate(seed=42)
    leaf = ofd_sign_gen.sm2_certificate(key, "张医生", issuer=ca)
    signer = KeySigner(SigningKey("sm2", key.private_hex, key.public_hex), [leaf, ca.cert])
    check = signing_check.check(_sign(signer), MANIFEST, (x509.Certificate.load(ca.cert),))
    assert (check.intact, check.trusted, check.signer) == (True, True, "张医生")


def test_a_signature_by_an_unknown_ca_is_intact_but_untrusted():
    signer, _ = _hospital_signer("ecdsa")
    _, other_ca = _hospital_signer("ecdsa")
    check = signing_check.check(_sign(signer), MANIFEST, (other_ca,))
    assert (check.intact, check.trusted) == (True, False) and "不在受信任列表中" in check.trust_note


@pytest.mark.parametrize("kind", ["sm2", "rsa"])
def test_a_pem_key_loads_back_to_the_same_signer(kind):
    key = SigningKey.generate(kind)
    again = SigningKey.load(key.pem().encode())
    assert (again.kind, again.public_info().dump()) == (kind, key.public_info().dump())


def test_a_file_that_is_not_a_key_is_refused():
    with pytest.raises(SigningError, match="私钥文件无法读取"):
        SigningKey.load(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")


@pytest.mark.parametrize("staff, kind", [("S0005", "rsa"), ("S0006", "ecdsa")])
def test_the_remote_signing_server_signs_with_the_persons_key(signing_server, staff, kind):
    signer = RemoteSigner(signing_server.url, staff)
    check = signing_check.check(_sign(signer), MANIFEST, (_root(signing_server.root_pem),))
    assert (check.intact, check.trusted, check.signer) == (True, True, {"S0005": "王医生", "S0006": "李医生"}[staff])
    assert signing_server.state.signed[-1] == staff


def test_the_remote_signing_server_refuses_an_unknown_signer(signing_server):
    with pytest.raises(SigningError, match="未登记的签名人：S9999"):
        RemoteSigner(signing_server.url, "S9999").chain()


def test_an_unreachable_signing_server_is_a_signing_error():
    with pytest.raises(SigningError, match="无法连接签名服务器"):
        RemoteSigner("http://127.0.0.1:9/api", "S0005").chain()


@pytest.mark.parametrize("kind", ["sm2", "rsa"])
def test_a_timestamp_from_a_trusted_tsa_gives_the_signature_its_time(tsa, kind):
    signer, ca = _hospital_signer(kind)
    check = signing_check.check(_stamped(_sign(signer), tsa), MANIFEST, (ca, _root(tsa.root_pem)))
    assert check.valid and check.timestamp_authority == "测试时间戳服务中心"
    assert abs(check.timestamp - datetime.now(UTC).replace(tzinfo=None)) < timedelta(minutes=1)


def test_the_remote_signature_is_timestamped_over_its_signature_value(tsa, signing_server):
    signature = _sign(RemoteSigner(signing_server.url, "S0005"))
    stamped = _stamped(signature, tsa)
    assert tsa.state.imprints[-1] == signing.digest("sha256", signing.signature_value(signature)[0])
    assert signing_check.check(stamped, MANIFEST, (_root(signing_server.root_pem), _root(tsa.root_pem))).valid


def test_a_timestamp_from_an_untrusted_tsa_is_only_a_note(tsa):
    signer, ca = _hospital_signer("ecdsa")
    check = signing_check.check(_stamped(_sign(signer), tsa), MANIFEST, (ca,))
    assert (check.intact, check.timestamp) == (True, None) and "不在受信任列表中" in check.timestamp_note


def test_a_timestamp_of_another_signature_is_tampering(tsa):
    signer, ca = _hospital_signer("rsa")
    other = _stamped(_sign(signer, b"another manifest"), tsa)
    token = cms.ContentInfo.load(other)["content"]["signer_infos"][0]["unsigned_attrs"][0]["values"][0].dump()
    check = signing_check.check(signing.with_timestamp(_sign(signer), token), MANIFEST, (ca, _root(tsa.root_pem)))
    assert (check.intact, check.problem) == (False, "时间戳与签名值不符：该时间戳不是为此签名签发的")


def test_a_signature_without_a_timestamp_is_intact_but_not_valid():
    signer, ca = _hospital_signer("rsa")
    check = signing_check.check(_sign(signer), MANIFEST, (ca,))
    assert (check.intact, check.valid, check.timestamp_note) == (True, False, "未加盖时间戳")


def test_a_refusing_tsa_is_a_signing_error(tsa):
    tsa.state.refuse = True
    try:
        with pytest.raises(SigningError, match="时间戳服务器拒绝签发：时间戳服务暂停"):
            TsaClient(tsa.url).stamp(b"signature value", "sha256")
    finally:
        tsa.state.refuse = False


def test_garbage_is_not_a_signature():
    assert signing_check.check(b"not a cms", MANIFEST, ()).problem == "签名数据无法解析"
