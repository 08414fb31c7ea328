"""PDF signatures verified with pyHanko: signed by our own test CA, then damaged.

Verdicts: valid (intact, trusted chain), tampered (digest, signature value or a later
incremental change), unverifiable (intact but the certificate is not trusted; or unreadable).
"""
from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization

from bingan.formats import signatures
from bingan.formats.document import open_document

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def ca(gen):
    return gen.test_ca()


@pytest.fixture(scope="module")
def signed(gen, ca, text_pdf):
    return gen.signed_pdf(text_pdf, ca)


@pytest.fixture
def trusted(ca, tmp_path, monkeypatch):
    bundle = tmp_path / "hospital-ca.pem"
    bundle.write_bytes(ca["ca_cert"].public_bytes(serialization.Encoding.PEM))
    monkeypatch.setenv(signatures.TRUST_ROOTS_ENV, str(bundle))


def _only_signature(data: bytes):
    found = open_document(data).metadata().signatures
    assert len(found) == 1
    return found[0]


def test_intact_signature_by_untrusted_certificate_is_unverifiable_and_says_intact(signed):
    signature = _only_signature(signed)
    assert signature.verdict == "unverifiable"
    assert signature.reason.startswith(signatures.INTACT_UNTRUSTED)
    assert (signature.signer, signature.kind) == ("李医生", "PDF ETSI.CAdES.detached")
    assert signature.signed_at is not None


def test_intact_signature_by_trusted_ca_is_valid(signed, trusted):
    signature = _only_signature(signed)
    assert (signature.verdict, signature.reason) == ("valid", signatures.VALID)


def test_byte_flipped_inside_signed_range_is_tampered(gen, signed, trusted):
    signature = _only_signature(gen.flip_in_signed_range(signed))
    assert (signature.verdict, signature.reason) == ("tampered", signatures.DIGEST_MISMATCH)


def test_incremental_update_after_signing_is_tampered(gen, signed, trusted):
    edited = gen.incrementally_edited(signed)
    assert edited.startswith(signed)  # the signed revision itself is untouched
    signature = _only_signature(edited)
    assert (signature.verdict, signature.reason) == ("tampered", signatures.MODIFIED_AFTER)


def test_other_ca_in_trust_list_does_not_make_it_valid(gen, signed, tmp_path, monkeypatch):
    stranger = gen.test_ca("另一家医院 CA")
    bundle = tmp_path / "other.pem"
    bundle.write_bytes(stranger["ca_cert"].public_bytes(serialization.Encoding.PEM))
    monkeypatch.setenv(signatures.TRUST_ROOTS_ENV, str(bundle))
    assert _only_signature(signed).verdict == "unverifiable"


def test_signed_text_still_reads(gen, signed):
    assert "主诉" in open_document(signed).page_texts(ocr=False)[0].text


def test_verdict_survives_the_guarded_path(signed, trusted):
    assert open_document(signed, guarded=True).metadata().signatures[0].verdict == "valid"
