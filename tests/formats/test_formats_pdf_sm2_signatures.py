"""PDF signatures as Chinese hospitals receive them: SM2 CMS (GB/T 35275) by a CA that pyHanko
cannot verify, files encrypted with an empty user password, one signature shown by many
widgets. Generated: ofd_sign_gen lays SM2 signatures over pyHanko-signed files."""
from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))

import ofd_sign_gen as sign

from bingan.formats import signatures
from bingan.formats.document import open_document

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def sm2_signed(gen, text_pdf):
    return sign.with_sm2_signature(gen.signed_pdf(text_pdf, gen.test_ca()))


@pytest.fixture
def trusted(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from asn1crypto import pem

    bundle = tmp_path / "trusted-roots.pem"
    bundle.write_bytes(pem.armor("CERTIFICATE", sign.default_ca().cert))
    monkeypatch.setenv(signatures.TRUST_ROOTS_ENV, str(bundle))


def only(data: bytes):
    found = open_document(data).metadata().signatures
    assert len(found) == 1
    return found[0]


@pytest.mark.usefixtures("trusted")
def test_sm2_cms_signature_by_a_trusted_ca_is_valid(sm2_signed):
    sig = only(sm2_signed)
    assert (sig.verdict, sig.reason) == ("valid", signatures.VALID)
    assert sig.signer == "李医生" and "SM2" in sig.kind


def test_sm2_cms_signature_by_an_untrusted_ca_is_intact_but_untrusted(sm2_signed):
    sig = only(sm2_signed)
    assert signatures.verdict_label(sig.verdict, sig.reason) == "完整但不受信任"


@pytest.mark.usefixtures("trusted")
def test_sm2_cms_signature_over_a_changed_byte_is_tampered(gen, sm2_signed):
    sig = only(gen.flip_in_signed_range(sm2_signed))
    assert (sig.verdict, sig.reason) == ("tampered", signatures.DIGEST_MISMATCH)


@pytest.mark.usefixtures("trusted")
def test_sm2_cms_signature_by_another_key_than_the_certificates_is_invalid(gen, text_pdf):
    forged = sign.with_sm2_signature(gen.signed_pdf(text_pdf, gen.test_ca()), impostor=True)
    assert (only(forged).verdict, only(forged).reason) == ("invalid", signatures.BAD_SIGNATURE_VALUE)


def test_signed_pdf_encrypted_with_an_empty_user_password_is_verified(gen, text_pdf):
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    ca = gen.test_ca()
    locked = gen.encrypted_pdf(text_pdf, user_password="")
    writer = IncrementalPdfFileWriter(io.BytesIO(locked))
    writer.encrypt("")
    sig = only(_sign_with(writer, ca))
    assert sig.reason.startswith(signatures.INTACT_UNTRUSTED)


@pytest.mark.usefixtures("trusted")
def test_sm2_signature_followed_by_a_later_signature_is_valid_with_a_note_as_other_pdf_signatures(gen, sm2_signed):
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    countersigned = _sign_with(IncrementalPdfFileWriter(io.BytesIO(sm2_signed)), gen.test_ca(), "Signature2")
    first, second = open_document(countersigned).metadata().signatures
    assert (first.verdict, first.reason) == ("valid", signatures.VALID + "；签名后有表单填写或批注")
    assert "SM2" in first.kind and "SM2" not in second.kind


@pytest.mark.usefixtures("trusted")
def test_sm2_signature_followed_by_an_update_that_draws_on_the_page_is_tampered(gen, sm2_signed):
    sig = only(gen.incrementally_edited(sm2_signed))
    assert (sig.verdict, sig.reason) == ("tampered", signatures.MODIFIED_AFTER)


@pytest.mark.usefixtures("trusted")
def test_one_signature_shown_by_ten_widgets_is_listed_once(text_pdf):
    stamped = sign.with_sm2_signature(sign.shared_signature_pdf(text_pdf, widgets=10))
    sig = only(stamped)
    assert (sig.verdict, sig.signer) == ("valid", "李医生")


def _sign_with(writer, ca, field: str = "Signature1") -> bytes:
    from asn1crypto import keys as asn1_keys
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives import serialization
    from pyhanko.sign import fields, signers

    der = asn1_x509.Certificate.load(ca["cert"].public_bytes(serialization.Encoding.DER))
    key = asn1_keys.PrivateKeyInfo.load(ca["key"].private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    meta = signers.PdfSignatureMetadata(field_name=field, subfilter=fields.SigSeedSubFilter.PADES)
    return signers.sign_pdf(writer, meta, signer=signers.SimpleSigner(der, key, None)).getvalue()
