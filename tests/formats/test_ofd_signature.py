"""OFD seal signatures (GB/T 38540 SES V4, GM/T 0031 V1) with real SM2 keys and certificates.

Verdicts as for PDF signatures: valid (intact, certificates valid at signing time and chained
to a trusted root), tampered (a protected file, Signature.xml or the timestamp changed),
invalid (a signature value that does not verify: the signer's or the seal maker's),
unauthorised (a certificate the seal does not list), appended (only a later signature
changed the file), unverifiable (intact but untrusted, expired, or unreadable). Certificates,
seals and RFC 3161 timestamps come from ofd_sign_gen's test CAs and TSAs.
"""
from __future__ import annotations

import dataclasses
import io
import sys
import zipfile
from datetime import datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))

import ofd_gen as gen
import ofd_sign_gen as sign

from bingan.formats import ofd, signatures
from bingan.formats.ofd import ses
from bingan.formats.ofd.gm import sm2_verify

pytestmark = pytest.mark.timeout(120)
SIGNED = sign.signed_ofd()
SIGNED_V1 = sign.signed_ofd(version=1)
SIGN_XML = "Doc_0/Signs/Sign_0/Signature.xml"
VALUE = "Doc_0/Signs/Sign_0/SignedValue.dat"
PAGE = "Doc_0/Pages/Page_0/Content.xml"


def part(data: bytes, name: str) -> bytes:
    return zipfile.ZipFile(io.BytesIO(data)).read(name)


def only(data: bytes) -> ofd.Signature:
    sigs = ofd.verify_signatures(data)
    assert len(sigs) == 1
    return sigs[0]


def trust(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *cas: sign.CertAuthority) -> None:
    """Make these CAs the trust list, as a PEM bundle the way hospitals configure it."""
    from asn1crypto import pem

    bundle = tmp_path / "trusted-roots.pem"
    bundle.write_bytes(b"".join(pem.armor("CERTIFICATE", ca.cert) for ca in cas))
    monkeypatch.setenv(signatures.TRUST_ROOTS_ENV, str(bundle))


@pytest.fixture
def trusted(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    trust(monkeypatch, tmp_path, sign.default_ca())


@pytest.mark.usefixtures("trusted")
@pytest.mark.parametrize(("data", "kind"), [(SIGNED, "OFD SES V4"), (SIGNED_V1, "OFD SES V1")])
def test_valid_chain_to_a_trusted_root_is_valid(data: bytes, kind: str) -> None:
    sig = only(data)
    assert (sig.verdict, sig.reason) == ("valid", signatures.VALID)
    assert sig.kind == kind
    assert sig.signer == "某某人民医院电子签章"  # certificate subject CN
    assert sig.signed_at == datetime(2024, 5, 1, 8, 30)


def test_intact_signature_without_trust_roots_is_unverifiable_and_says_intact() -> None:
    sig = only(SIGNED)
    assert sig.verdict == "unverifiable"
    assert sig.reason.startswith(signatures.INTACT_UNTRUSTED)


def test_root_missing_from_the_trust_list_is_unverifiable_with_reason(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    trust(monkeypatch, tmp_path, sign.sm2_ca("另一家医院测试根 CA", seed=12))
    sig = only(SIGNED)
    assert sig.verdict == "unverifiable"
    assert sig.reason.startswith("签名完整，但签名证书不在受信任列表中")


def test_impostor_root_with_the_same_name_does_not_vouch_for_the_certificate(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Same subject as the real root, another key: the certificate's SM2 signature decides.
    trust(monkeypatch, tmp_path, sign.sm2_ca(sign.default_ca().name, seed=13))
    assert only(SIGNED).verdict == "unverifiable"


def test_certificate_from_an_rsa_root_is_verified_too(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    rsa_ca = sign.rsa_ca()
    trust(monkeypatch, tmp_path, rsa_ca)
    assert only(sign.signed_ofd(ca=rsa_ca)).verdict == "valid"


@pytest.mark.usefixtures("trusted")
def test_certificate_expired_at_signing_time_is_unverifiable_with_reason() -> None:
    data = sign.signed_ofd(cert_valid=(datetime(2020, 1, 1), datetime(2023, 1, 1)))
    sig = only(data)
    assert sig.verdict == "unverifiable"
    assert sig.reason.startswith("签名时签名证书不在有效期内")
    assert "2023-01-01" in sig.reason


@pytest.mark.usefixtures("trusted")
def test_certificate_not_yet_valid_at_signing_time_is_unverifiable() -> None:
    data = sign.signed_ofd(cert_valid=(datetime(2025, 1, 1), datetime(2030, 1, 1)))
    assert only(data).reason.startswith("签名时签名证书不在有效期内")


@pytest.mark.usefixtures("trusted")
@pytest.mark.parametrize("version", [4, 1])
def test_seal_expired_at_signing_time_is_unverifiable_with_reason(version: int) -> None:
    data = sign.signed_ofd(version=version, seal_valid=(datetime(2021, 1, 1), datetime(2022, 1, 1)))
    sig = only(data)
    assert sig.verdict == "unverifiable"
    assert sig.reason.startswith("签章时电子印章不在有效期内")


@pytest.mark.usefixtures("trusted")
@pytest.mark.parametrize("version", [4, 1])
def test_seal_not_signed_by_its_maker_is_invalid(version: int) -> None:
    sig = only(sign.signed_ofd(version=version, forged_seal=True))
    assert sig.verdict == "invalid"
    assert "制章人签名无效" in sig.reason


# -- who may use the seal (GB/T 38540 certList) ---------------------------------------------------
@pytest.mark.usefixtures("trusted")
@pytest.mark.parametrize("version", [4, 1])
def test_signature_by_a_certificate_the_seal_does_not_list_is_unauthorised(version: int) -> None:
    sig = only(sign.signed_ofd(version=version, seal_lists="other"))
    assert sig.verdict == "unauthorised"
    assert "某某人民医院电子签章" in sig.reason and "不在电子印章授权的签章人证书列表中" in sig.reason
    assert "冒用" not in sig.reason and "篡改" not in sig.reason


@pytest.mark.usefixtures("trusted")
@pytest.mark.parametrize("algorithm", ["sm3", "SHA256"])
def test_seal_listing_the_signer_by_certificate_digest_is_valid(algorithm: str) -> None:
    assert only(sign.signed_ofd(cert_digest=algorithm)).verdict == "valid"


@pytest.mark.usefixtures("trusted")
def test_seal_listing_another_certificate_digest_is_unauthorised() -> None:
    sig = only(sign.signed_ofd(cert_digest="sm3", seal_lists="other"))
    assert sig.verdict == "unauthorised" and "证书列表" in sig.reason


@pytest.mark.usefixtures("trusted")
def test_certificate_digest_by_an_unknown_algorithm_is_unverifiable() -> None:
    sig = only(sign.signed_ofd(cert_digest="1.2.3.4"))
    assert sig.verdict == "unverifiable" and "摘要算法" in sig.reason


@pytest.mark.usefixtures("trusted")
@pytest.mark.parametrize(("listed", "reason"), [("unreadable", "无法读取"), ("none", "未列出")])
def test_seal_without_a_readable_certificate_list_is_unverifiable(listed: str, reason: str) -> None:
    sig = only(sign.signed_ofd(seal_lists=listed))
    assert sig.verdict == "unverifiable"
    assert reason in sig.reason and "签章人证书" in sig.reason


@pytest.mark.usefixtures("trusted")
def test_seal_made_while_the_makers_certificate_was_not_valid_is_unverifiable() -> None:
    # The seal's createDate is 2024-05-01; the maker's certificate starts a month later.
    sig = only(sign.signed_ofd(maker_valid=(datetime(2024, 6, 1), datetime(2030, 1, 1))))
    assert sig.verdict == "unverifiable"
    assert sig.reason.startswith("制章时制章人证书不在有效期内")
    assert "制章时间 2024-05-01" in sig.reason


# -- RFC 3161 timestamps over the signature value ----------------------------------------------------
STAMPED_AT = datetime(2024, 5, 1, 8, 31)


@pytest.mark.usefixtures("trusted")
@pytest.mark.parametrize("kind", ["sm2", "rsa", "ecdsa"])
def test_trusted_timestamp_gives_the_signing_time(kind: str) -> None:
    sig = only(sign.signed_ofd(stamp=sign.stamper(sign.tsa(kind), STAMPED_AT)))
    assert (sig.verdict, sig.reason) == ("valid", signatures.VALID)
    assert sig.signed_at == STAMPED_AT  # not the signer's own 08:30


@pytest.mark.usefixtures("trusted")
def test_timestamp_time_decides_certificate_validity_over_the_signers_claim() -> None:
    # The signer claims 2024-05-01, inside the certificate's validity; the TSA saw it in 2035.
    sig = only(sign.signed_ofd(stamp=sign.stamper(sign.tsa(), datetime(2035, 1, 1))))
    assert sig.verdict == "unverifiable"
    assert sig.reason.startswith("签名时签名证书不在有效期内")
    assert "时间戳时间 2035-01-01" in sig.reason
    assert sig.signed_at == datetime(2035, 1, 1)


@pytest.mark.usefixtures("trusted")
def test_timestamp_time_decides_seal_validity() -> None:
    data = sign.signed_ofd(seal_valid=(datetime(2024, 1, 1), datetime(2024, 12, 31)),
                           stamp=sign.stamper(sign.tsa(), datetime(2025, 6, 1)))
    assert only(data).reason.startswith("签章时电子印章不在有效期内")


@pytest.mark.usefixtures("trusted")
def test_timestamp_of_another_signature_is_tampered() -> None:
    sig = only(sign.signed_ofd(stamp=sign.stamper(sign.tsa(), over=b"another signature")))
    assert sig.verdict == "tampered" and sig.reason.startswith("时间戳与签名值不符")


@pytest.mark.usefixtures("trusted")
@pytest.mark.parametrize("kind", ["sm2", "rsa"])
def test_timestamp_not_signed_by_its_tsa_is_tampered(kind: str) -> None:
    impostor = dataclasses.replace(sign.tsa(kind), sign=sign.tsa("sm2", seed=40).sign)
    sig = only(sign.signed_ofd(stamp=sign.stamper(impostor)))
    assert sig.verdict == "tampered" and sig.reason.startswith("时间戳的签名无效")


@pytest.mark.usefixtures("trusted")
def test_timestamp_from_an_untrusted_tsa_is_noted_and_the_signers_time_used() -> None:
    untrusted = sign.tsa("ecdsa", issuer=sign.sm2_ca("另一家时间戳测试根 CA", seed=12))
    sig = only(sign.signed_ofd(stamp=sign.stamper(untrusted, datetime(2035, 1, 1))))
    assert sig.verdict == "valid" and sig.reason.startswith(signatures.VALID)
    assert "时间戳服务机构「某某时间戳服务中心（ECDSA）」的证书不在受信任列表中" in sig.reason
    assert "签章时间以签章人自报的时间为准" in sig.reason
    assert sig.signed_at == datetime(2024, 5, 1, 8, 30)


@pytest.mark.usefixtures("trusted")
def test_timestamp_by_a_certificate_not_for_time_stamping_does_not_give_the_time() -> None:
    # Any certificate of the trusted CA, the signer's own included, could otherwise backdate.
    sig = only(sign.signed_ofd(stamp=sign.stamper(sign.tsa("rsa", time_stamping=False),
                                                  datetime(2035, 1, 1))))
    assert sig.verdict == "valid" and "不是时间戳服务证书" in sig.reason
    assert sig.signed_at == datetime(2024, 5, 1, 8, 30)


@pytest.mark.usefixtures("trusted")
def test_tsa_certificate_expired_at_the_timestamp_time_does_not_give_the_time() -> None:
    short = sign.tsa("sm2", valid=(datetime(2024, 1, 1), datetime(2024, 3, 1)))
    sig = only(sign.signed_ofd(stamp=sign.stamper(short)))
    assert sig.verdict == "valid" and "在时间戳时间不在有效期内" in sig.reason


@pytest.mark.usefixtures("trusted")
def test_unreadable_timestamp_is_noted() -> None:
    sig = only(sign.signed_ofd(stamp=lambda value: b"\x30\x03abc"))
    assert sig.verdict == "valid" and "时间戳无法解析" in sig.reason


@pytest.mark.usefixtures("trusted")
def test_implicitly_tagged_timestamp_is_read_too() -> None:
    from asn1crypto import core

    data = sign.signed_ofd(stamp=sign.stamper(sign.tsa(), STAMPED_AT))
    parsed = ses.SesSignatureV4.load(part(data, VALUE))
    token = ses.parse_signature(part(data, VALUE)).timestamp
    parsed["timeStamp"] = core.Any(core.OctetBitString(token, implicit=0))
    assert only(gen.with_part(data, VALUE, parsed.dump(force=True))).signed_at == STAMPED_AT


@pytest.mark.usefixtures("trusted")
def test_metadata_lists_signatures() -> None:
    meta = ofd.metadata(SIGNED)
    assert [s.verdict for s in meta.signatures] == ["valid"]


@pytest.mark.usefixtures("trusted")
def test_sha256_check_method_is_supported() -> None:
    assert only(sign.signed_ofd(check_method="SHA256")).verdict == "valid"


@pytest.mark.usefixtures("trusted")  # a trusted chain does not hide a change
def test_page_content_changed_is_tampered_and_names_the_file() -> None:
    content = part(SIGNED, PAGE)
    flipped = content.replace("张三".encode(), "李五".encode(), 1)
    sig = only(gen.with_part(SIGNED, PAGE, flipped))
    assert sig.verdict == "tampered"
    assert "Content.xml" in sig.reason


def test_single_bit_flip_in_page_content_is_tampered() -> None:
    content = bytearray(part(SIGNED, PAGE))
    content[len(content) // 2] ^= 0x01
    assert only(gen.with_part(SIGNED, PAGE, bytes(content))).verdict == "tampered"


def test_removed_signed_file_is_tampered() -> None:
    sig = only(gen.with_part(SIGNED, "Doc_0/PublicRes.xml", None))
    assert sig.verdict == "tampered" and "缺失" in sig.reason


def test_signature_xml_changed_is_tampered() -> None:
    # Moving the stamp without re-signing: the SES data hash no longer matches.
    data = gen.replace_in_part(SIGNED, SIGN_XML, b'Boundary="140 200 40 40"', b'Boundary="10 10 40 40"')
    sig = only(data)
    assert sig.verdict == "tampered" and "Signature.xml" in sig.reason


def test_corrupt_signature_value_is_invalid() -> None:
    value = bytearray(part(SIGNED, VALUE))
    value[-1] ^= 0xFF  # last byte of s in the SM2 signature
    sig = only(gen.with_part(SIGNED, VALUE, bytes(value)))
    assert sig.verdict == "invalid"
    assert "签名值" in sig.reason


def test_garbage_signed_value_is_unverifiable() -> None:
    sig = only(gen.with_part(SIGNED, VALUE, b"\x30\x03garbage"))
    assert sig.verdict == "unverifiable" and "SES" in sig.reason


def test_missing_signed_value_is_unverifiable() -> None:
    sig = only(gen.with_part(SIGNED, VALUE, None))
    assert sig.verdict == "unverifiable" and "SignedValue" in sig.reason


def test_unknown_digest_algorithm_is_unverifiable() -> None:
    data = gen.replace_in_part(SIGNED, SIGN_XML, b'CheckMethod="1.2.156.10197.1.401"',
                               b'CheckMethod="1.2.3.4.5"')
    sig = only(data)
    assert sig.verdict == "unverifiable" and "摘要算法" in sig.reason


def test_missing_certificate_is_unverifiable() -> None:
    parsed = ses.SesSignatureV4.load(part(SIGNED, VALUE))
    parsed["cert"] = b""
    sig = only(gen.with_part(SIGNED, VALUE, parsed.dump(force=True)))
    assert sig.verdict == "unverifiable" and "证书" in sig.reason


def test_unknown_signature_algorithm_is_unverifiable() -> None:
    parsed = ses.SesSignatureV4.load(part(SIGNED, VALUE))
    parsed["signatureAlgID"] = "1.2.840.10045.4.3.2"  # ECDSA-SHA256: not implemented
    sig = only(gen.with_part(SIGNED, VALUE, parsed.dump(force=True)))
    assert sig.verdict == "unverifiable" and "签名算法" in sig.reason


def test_signature_by_another_key_is_invalid() -> None:
    # Valid SES structure and certificate, but signed by a key the certificate does not hold.
    other = ses.SesSignatureV4.load(part(sign.signed_ofd(seed=9), VALUE))
    mine = ses.SesSignatureV4.load(part(SIGNED, VALUE))
    mine["signature"] = other["signature"]
    assert only(gen.with_part(SIGNED, VALUE, mine.dump(force=True))).verdict == "invalid"


def test_unsigned_document_has_no_signatures() -> None:
    assert ofd.verify_signatures(gen.simple_ofd()) == []


def test_broken_signature_xml_keeps_document_readable() -> None:
    data = gen.with_part(SIGNED, SIGN_XML, b"<Signature><SignedInfo>")
    assert only(data).verdict == "unverifiable"
    assert "住院病案首页" in ofd.page_texts(data)[0].text
    ofd.render_page(data, 1, dpi=50)


def test_sm2_verify_against_gmssl_signature() -> None:
    key = sign.Sm2Key.generate(5)
    message = "病案首页".encode()
    sig = key.sign(message)
    public = bytes.fromhex(key.public_hex)
    assert sm2_verify(public, message, sig)
    assert not sm2_verify(public, message + b"!", sig)
    assert not sm2_verify(public, message, b"\x30\x00")


def test_seal_picture_is_parsed() -> None:
    parsed = ses.parse_signature(part(SIGNED, VALUE))
    assert parsed.picture is not None and parsed.picture.kind == "png"
    assert parsed.picture.data.startswith(b"\x89PNG")
    assert parsed.seal_name == "病案专用章"
