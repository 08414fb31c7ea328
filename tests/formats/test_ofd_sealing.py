"""Sealing an OFD we wrote (GB/T 33190 §18, GB/T 38540 V4 in SM2): our own verifier finds the seal
intact, valid once its certificate is trusted, and tampered after any change to a page, an image
or the signature description; the seal's picture is stamped on the first page."""
from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import pem
from PIL import Image

from bingan.formats import ofd, signatures
from bingan.formats.base import FormatError, PageText
from bingan.formats.ofd.reader import OfdDocument
from bingan.formats.ofd.signature import stamps
from bingan.formats.ofd.signing import SIGNATURE, SealFacts, SealKey, seal_ofd, self_issued_certificate
from bingan.formats.ofd.writer import pack

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
VALID = (NOW - timedelta(days=1), NOW + timedelta(days=3650))
PAGE = "Doc_0/Pages/Page_0/Content.xml"


@pytest.fixture(scope="module")
def key() -> SealKey:
    made = SealKey.generate()
    certificate = self_issued_certificate(made, "示例医院", "示例医院 病案导出电子印章（自签）", VALID, 2026)
    return made.with_certificate(certificate)


def _seal_picture() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", (60, 60), (200, 30, 30, 220)).save(buffer, "PNG")
    return buffer.getvalue()


def _sealed(key: SealKey) -> bytes:
    page = Image.new("RGB", (400, 566), "white")
    unsigned = ofd.write_ofd([(page, PageText(1, "出院记录 出院诊断：肺炎")), (page, PageText(2, "第2页"))],
                             title="出院记录")
    return seal_ofd(unsigned, key, SealFacts("病案导出专用章", _seal_picture(), VALID), NOW)


def _parts(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as packed:
        return {name: packed.read(name) for name in packed.namelist()}


def _changed(data: bytes, name: str, change) -> bytes:
    """The package re-zipped with one part changed, as someone editing the file would."""
    parts = _parts(data)
    parts[name] = change(parts[name])
    return pack(parts)


def _only(data: bytes) -> ofd.Signature:
    found = ofd.verify_signatures(data)
    assert len(found) == 1
    return found[0]


def test_a_sealed_ofd_is_intact_and_names_the_hospital_seal(key):
    signature = _only(_sealed(key))
    assert signature.verdict == "unverifiable" and signature.reason.startswith(signatures.INTACT_UNTRUSTED)
    assert (signature.kind, signature.signer) == ("OFD SES V4", "示例医院 病案导出电子印章（自签）")
    assert signature.signed_at == NOW.replace(tzinfo=None)


def test_a_sealed_ofd_is_valid_once_the_seal_certificate_is_trusted(key, monkeypatch, tmp_path: Path):
    roots = tmp_path / "roots.pem"
    roots.write_bytes(pem.armor("CERTIFICATE", key.certificate))
    monkeypatch.setenv(signatures.TRUST_ROOTS_ENV, str(roots))
    assert (_only(_sealed(key)).verdict, _only(_sealed(key)).reason) == ("valid", signatures.VALID)


@pytest.mark.parametrize(("part", "change"), [
    (PAGE, lambda xml: xml.replace(b"</ofd:Layer>", b'<ofd:PathObject ID="999" Boundary="0 0 10 10"/></ofd:Layer>')),
    ("Doc_0/Res/image_3.jpg", lambda jpeg: jpeg[:-40] + bytes(b ^ 1 for b in jpeg[-40:-2]) + jpeg[-2:]),
    (SIGNATURE, lambda xml: xml.replace(b'PageRef="', b'PageRef="1')),
])
def test_any_change_after_sealing_is_tampered(key, part, change):
    signature = _only(_changed(_sealed(key), part, change))
    assert signature.verdict == "tampered"


def test_a_flipped_byte_in_a_page_image_is_caught_by_the_package_itself(key):
    data = bytearray(_sealed(key))
    data[data.index(b"\xff\xd8\xff") + 200] ^= 0x01  # inside the first page's image, stored as it is
    with pytest.raises(FormatError, match="已损坏"):
        ofd.verify_signatures(bytes(data))


def test_the_seal_picture_is_stamped_on_the_first_page(key):
    document = OfdDocument(_sealed(key))
    placed = stamps(document)
    assert [stamp.page_id for stamp in placed] == [document.pages[0].id]
    assert placed[0].picture.kind == "png" and placed[0].picture.width_mm == 40


def test_an_ofd_is_sealed_once(key):
    with pytest.raises(FormatError, match="已经签章"):
        seal_ofd(_sealed(key), key, SealFacts("病案导出专用章", _seal_picture(), VALID), NOW)


def test_the_seal_key_keeps_its_pem_form():
    made = SealKey.generate()
    assert SealKey.from_pem(made.to_pem()) == made
    assert made.to_pem().startswith("-----BEGIN EC PRIVATE KEY-----")
