"""CA certificate login (R3): the TLS proxy passes the browser's verified certificate; Bingan signs
in the user whose staff number the certificate carries, without a typed name, and refuses — with
the reason — a revoked certificate (CRL), an expired one, one from a CA not on the hospital's list,
and a certificate header from anyone but a trusted proxy."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sso_support import bingan_client, sso_app

from bingan.storage.db import session_factory
from bingan.storage.models import WebSession

HEADER = "X-SSL-Client-Cert"
NOW = datetime.now(UTC)


def _name(common: str, staff: str | None = None) -> x509.Name:
    parts = [x509.NameAttribute(NameOID.COMMON_NAME, common)]
    if staff:
        parts.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, staff))
    return x509.Name(parts)


def _certificate(subject: x509.Name, issuer: x509.Name, key, signer, *, ca: bool = False,
                 days: tuple[int, int] = (-30, 365)) -> x509.Certificate:
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW + timedelta(days=days[0])).not_valid_after(NOW + timedelta(days=days[1]))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .sign(signer, hashes.SHA256()))


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """The hospital CA, its users' certificates (one revoked, one expired), a stranger CA, the CRL."""
    folder = tmp_path_factory.mktemp("pki")
    ca_key, stranger_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("示例医院 CA")
    ca = _certificate(ca_name, ca_name, ca_key, ca_key, ca=True, days=(-365, 3650))
    stranger = _certificate(_name("外来 CA"), _name("外来 CA"), stranger_key, stranger_key, ca=True)
    user_key = ec.generate_private_key(ec.SECP256R1())
    certs = {
        "good": _certificate(_name("测试clinician", "S0006"), ca_name, user_key, ca_key),
        "revoked": _certificate(_name("测试nurse", "S0007"), ca_name, user_key, ca_key),
        "expired": _certificate(_name("测试nurse", "S0007"), ca_name, user_key, ca_key, days=(-400, -35)),
        "stranger": _certificate(_name("测试clinician", "S0006"), _name("外来 CA"), user_key, stranger_key),
        "unbound": _certificate(_name("进修医生", "X9999"), ca_name, user_key, ca_key),
    }
    revoked = (x509.RevokedCertificateBuilder().serial_number(certs["revoked"].serial_number)
               .revocation_date(NOW - timedelta(days=2)).build())
    crl = (x509.CertificateRevocationListBuilder().issuer_name(ca_name).last_update(NOW - timedelta(days=1))
           .next_update(NOW + timedelta(days=7)).add_revoked_certificate(revoked).sign(ca_key, hashes.SHA256()))
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (folder / "crl.pem").write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    headers = {name: quote(cert.public_bytes(serialization.Encoding.PEM).decode()) for name, cert in certs.items()}
    assert stranger  # its own root is not on the hospital's list
    return folder, headers


@pytest.fixture
def app(web_engine, world, pki):
    folder, _ = pki
    with sso_app(web_engine, client_cert_header=HEADER, trusted_proxies="127.0.0.1",
                 client_cert_ca_file=folder / "ca.pem", client_cert_crl_file=folder / "crl.pem") as application:
        yield application


def _login(app, header: str, address: str = "127.0.0.1"):
    with bingan_client(app, address) as client:
        answer = client.get("/login/certificate", headers={HEADER: header})
        return answer, (client.get("/").status_code if answer.status_code == 303 else None)


def test_the_hospital_certificate_signs_its_user_in_without_a_name_typed(app, web_engine, world, pki):
    answer, home = _login(app, pki[1]["good"])
    assert answer.status_code == 303 and home == 200
    with session_factory(web_engine)() as session:
        opened = session.scalars(sa.select(WebSession)).one()
        assert (opened.user_id, opened.login_method) == (world.users["clinician"].id, "certificate")


@pytest.mark.parametrize(("which", "reason"), [
    ("revoked", "证书已吊销"),
    ("expired", "证书已过期或尚未生效"),
    ("stranger", "不是由医院认可的 CA 签发"),
    ("unbound", "工号 X9999 在病案系统中没有账号"),
])
def test_a_certificate_that_may_not_log_in_is_refused_with_the_reason(app, pki, which, reason):
    answer, _ = _login(app, pki[1][which])
    assert answer.status_code == 401 and reason in answer.text


def test_a_certificate_header_is_believed_only_from_a_trusted_proxy(app, pki):
    answer, _ = _login(app, pki[1]["good"], address="10.9.8.7")
    assert answer.status_code == 401 and "未收到客户端证书" in answer.text


def test_a_certificate_bound_by_subject_signs_in_its_user(web_engine, world, pki):
    from urllib.parse import unquote

    from cryptography.x509 import load_pem_x509_certificate

    from bingan.access.audit import Actor
    from bingan.access.sso.client_certificates import binding_subject
    from bingan.access.sso.identities import bind

    folder, headers = pki
    with sso_app(web_engine, client_cert_header=HEADER, trusted_proxies="127.0.0.1", client_cert_match="subject",
                 client_cert_ca_file=folder / "ca.pem") as app:
        cert = load_pem_x509_certificate(unquote(headers["unbound"]).encode())
        with session_factory(web_engine)() as session, session.begin():
            bind(session, Actor(None, "cli"), "u_archivist", "certificate", binding_subject(app.state.settings, cert))
        answer, home = _login(app, headers["unbound"])
        assert answer.status_code == 303 and home == 200
        assert _login(app, headers["good"])[0].status_code == 401  # not bound: 尚未与病案系统账号绑定
