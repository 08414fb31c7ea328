"""The signing certificates of a document's signatures, in the order of its verdicts, for the
online check (联机验证): PDF signatures (PAdES by pyHanko, SM2 CMS by Chinese CAs) and OFD
signatures (SES seals, GB/T 35275 "Sign")."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))

import ofd_sign_gen as sign

from bingan.formats import ofd
from bingan.formats.document import open_document
from bingan.formats.ofd import certs
from bingan.formats.signer_certificates import signing_certificates

pytestmark = pytest.mark.timeout(120)


def test_a_pades_signature_gives_its_signer_and_the_chain_it_carries(gen, text_pdf):
    ca = gen.test_ca()
    signed = gen.signed_pdf(text_pdf, ca)
    [entry] = signing_certificates(signed, "application/pdf")
    verdict = open_document(signed).metadata().signatures[0]
    assert certs.common_name(certs.load(entry.signer)) == verdict.signer == "李医生"
    assert entry.others == (ca["ca_cert"].public_bytes(Encoding.DER),)


def test_an_sm2_pdf_signature_gives_the_sm2_certificate(gen, text_pdf):
    signed = sign.with_sm2_signature(gen.signed_pdf(text_pdf, gen.test_ca()))
    [entry] = signing_certificates(signed, "application/pdf")
    assert certs.common_name(certs.load(entry.signer)) == "李医生"
    assert certs.issued_by(entry.signer, sign.default_ca().cert)  # the CA that issued it, for the OCSP request


@pytest.mark.parametrize("kind", ["Seal", "Sign"])
def test_an_ofd_signature_gives_the_signers_certificate_in_verdict_order(kind):
    data = sign.append_signature(sign.signed_ofd(kind=kind))
    verdicts = ofd.verify_signatures(data)
    found = signing_certificates(data, "application/ofd")
    assert len(found) == len(verdicts) == 2
    assert all(certs.issued_by(entry.signer, sign.default_ca().cert) for entry in found)


def test_unsigned_damaged_and_other_files_have_none(text_pdf):
    assert signing_certificates(text_pdf, "application/pdf") == []
    assert signing_certificates(b"%PDF-1.7 broken", "application/pdf") == []
    assert signing_certificates(b"PK\x03\x04 not an ofd", "application/ofd") == []
    assert signing_certificates(b"\x89PNG", "image/png") == []
