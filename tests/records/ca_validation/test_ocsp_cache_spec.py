"""OCSP answers kept until they expire, on SQLite and PostgreSQL: a good or revoked answer about a
certificate is reused for every other document that certificate signed — by this process and by
any other sharing the database — until its nextUpdate (without one, BINGAN_OCSP_CACHE_SECONDS);
an expired answer, "unknown" or no answer is asked about again. The OCSP peer counts what it is
asked (``state.served``)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from ca_support import configure, signed_by
from sqlalchemy.orm import Session

from bingan.records.ca_validation import service
from bingan.storage.db import make_engine
from bingan.storage.models.ca_validation import OcspAnswer

pytestmark = pytest.mark.timeout(60)
PDF = "application/pdf"
SECOND = [["检查报告", "CT 所见：双肺纹理清晰。", "CT 提示：未见异常。"]]


@pytest.fixture
def signer(responder):
    """李医生's key and certificate chain, issued by the responder's CA."""
    key, cert = responder.issue("李医生")
    return key, [cert, responder.ca_der]


def check(settings, engine, data: bytes, **options) -> service.Checked:
    [checked] = service.check_file(settings, data, PDF, 1, cache=service.answer_cache(settings, engine), **options)
    return checked


def kept(engine) -> list[OcspAnswer]:
    with Session(engine) as session:
        return list(session.scalars(sa.select(OcspAnswer)))


def test_another_document_signed_by_the_same_certificate_asks_the_ca_nothing(engine, responder, signer, monkeypatch):
    settings = configure(monkeypatch, ca_validation="ocsp")
    first = check(settings, engine, signed_by(*signer))
    second = check(settings, engine, signed_by(*signer, lines=SECOND))
    assert responder.state.served == 1
    assert (first.answer.status, second.answer.status) == ("good", "good")
    assert second.answer.cached and second.checked_at == first.checked_at  # when the CA was asked
    assert second.answer.next_update == first.answer.next_update and second.answer.responder == responder.url
    [row] = kept(engine)
    assert (row.status, row.serial) == ("good", format(int(first.serial, 16), "x"))


def test_another_process_sharing_the_database_reuses_the_answer(engine, responder, signer, monkeypatch):
    settings = configure(monkeypatch, ca_validation="ocsp")
    check(settings, engine, signed_by(*signer))
    elsewhere = make_engine(engine.url.render_as_string(hide_password=False))  # its own connections
    try:
        assert check(settings, elsewhere, signed_by(*signer, lines=SECOND)).answer.status == "good"
    finally:
        elsewhere.dispose()
    assert responder.state.served == 1


def test_an_answer_past_its_next_update_is_asked_again(engine, responder, signer, monkeypatch):
    settings = configure(monkeypatch, ca_validation="ocsp")
    check(settings, engine, signed_by(*signer))
    with Session(engine) as session, session.begin():  # an hour later: its nextUpdate has passed
        session.execute(sa.update(OcspAnswer).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    again = check(settings, engine, signed_by(*signer, lines=SECOND))
    assert responder.state.served == 2 and not again.answer.cached
    [row] = kept(engine)
    assert row.expires_at.replace(tzinfo=UTC) > datetime.now(UTC) + timedelta(minutes=50)  # the new answer's


def test_without_next_update_an_answer_is_kept_for_the_configured_time(engine, responder, signer, monkeypatch):
    responder.state.lifetime = None
    settings = configure(monkeypatch, ca_validation="ocsp", ocsp_cache_seconds="600")
    check(settings, engine, signed_by(*signer))
    assert check(settings, engine, signed_by(*signer, lines=SECOND)).answer.cached
    [row] = kept(engine)
    left = row.expires_at.replace(tzinfo=UTC) - datetime.now(UTC)
    assert timedelta(minutes=9) < left <= timedelta(minutes=10)
    assert responder.state.served == 1


def test_with_no_time_configured_an_answer_without_next_update_is_not_kept(engine, responder, signer, monkeypatch):
    responder.state.lifetime = None
    settings = configure(monkeypatch, ca_validation="ocsp", ocsp_cache_seconds="0")
    check(settings, engine, signed_by(*signer))
    check(settings, engine, signed_by(*signer, lines=SECOND))
    assert responder.state.served == 2 and kept(engine) == []


def test_a_revocation_is_kept_and_unknown_is_asked_again(engine, responder, signer, monkeypatch):
    settings = configure(monkeypatch, ca_validation="ocsp")
    key, chain = signer
    responder.revoke(chain[0], datetime(2026, 11, 1, tzinfo=UTC))
    check(settings, engine, signed_by(key, chain))
    revoked = check(settings, engine, signed_by(key, chain, lines=SECOND)).answer
    assert (revoked.status, revoked.revoked_at, revoked.revocation_reason) == (
        "revoked", datetime(2026, 11, 1, tzinfo=UTC), "keyCompromise")
    other_key, other = responder.issue("王护士")
    responder.forget(other)
    for lines in (None, SECOND):
        report = signed_by(other_key, [other, responder.ca_der], "王护士", lines)
        assert check(settings, engine, report).answer.status == "unknown"
    assert responder.state.served == 3  # 李医生 once, 王护士 twice


def test_an_asked_again_check_asks_the_ca_and_keeps_its_new_answer(engine, responder, signer, monkeypatch):
    settings = configure(monkeypatch, ca_validation="ocsp")
    key, chain = signer
    check(settings, engine, signed_by(key, chain))
    responder.revoke(chain[0], datetime(2026, 12, 1, tzinfo=UTC))
    assert check(settings, engine, signed_by(key, chain), fresh=True).answer.status == "revoked"
    assert check(settings, engine, signed_by(key, chain, lines=SECOND)).answer.status == "revoked"  # kept
    assert responder.state.served == 2
