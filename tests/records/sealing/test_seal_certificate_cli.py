"""`bingan seal-certificate`: the hospital installs its own seal certificate (PKCS#12 from its CA),
which replaces the self-signed one for every seal package from then on; a wrong password changes nothing."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12
from cryptography.x509.oid import NameOID
from typer.testing import CliRunner

from bingan.cli import app
from bingan.config import get_settings
from bingan.storage.db import get_engine, session_factory
from bingan.storage.migrate import upgrade
from bingan.storage.models.sealing import SealCertificate


def _hospital_p12(tmp_path, password: bytes):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "示例市第一人民医院"),
                      x509.NameAttribute(NameOID.COMMON_NAME, "示例市第一人民医院 病案签章")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=365)).sign(key, hashes.SHA256()))
    path = tmp_path / "hospital.p12"
    path.write_bytes(pkcs12.serialize_key_and_certificates(b"seal", key, cert, None, BestAvailableEncryption(password)))
    return path


def test_the_hospitals_certificate_replaces_the_self_signed_one(tmp_path):
    upgrade(get_engine(get_settings()))
    (tmp_path / "password").write_text("正确的密码")
    p12 = _hospital_p12(tmp_path, "正确的密码".encode())
    runner = CliRunner()
    (tmp_path / "wrong").write_text("错误的密码")
    refused = runner.invoke(app, ["seal-certificate", str(p12), "--password-file", str(tmp_path / "wrong")])
    assert refused.exit_code == 1 and "密码正确" in refused.output
    done = runner.invoke(app, ["seal-certificate", str(p12), "--password-file", str(tmp_path / "password")])
    assert done.exit_code == 0, done.output
    with session_factory(get_engine(get_settings()))() as session:
        active = session.scalars(sa.select(SealCertificate).where(SealCertificate.active)).all()
    assert [(row.source, "示例市第一人民医院" in row.subject) for row in active] == [("installed", True)]
