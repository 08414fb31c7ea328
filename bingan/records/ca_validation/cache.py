"""OCSP answers kept until they expire (RFC 6960 §4.2.2.1: an answer holds until its nextUpdate),
so every other document a certificate signed — a doctor signs hundreds of reports a month — is
checked without asking the CA again.

Kept in the database (table ``ocsp_answers``), not in memory or Redis: the collection workers, the
web process and ``bingan ca-check`` are separate processes that all need the same answers, Redis
is optional (the broker defaults to the file system) and the database is always there, on SQLite
and PostgreSQL alike. Each read and each write is its own short transaction, so no transaction
waits on the network.

Keyed as OCSP itself names a certificate: (issuer key hash, serial). Only "good" and "revoked"
are kept — "unknown", a refused answer or no answer is asked about again next time. An answer
expires at its nextUpdate; without one, ``BINGAN_OCSP_CACHE_SECONDS`` after it was received,
and never later than the day an answer without nextUpdate is believed at all (ocsp.py).
"""
from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from bingan.clock import instant
from bingan.records.ca_validation import ocsp
from bingan.records.ca_validation.ocsp import Answer
from bingan.storage.db import transaction
from bingan.storage.models.ca_validation import OcspAnswer

log = logging.getLogger(__name__)
KEPT = ("good", "revoked")


def key(cert_der: bytes, issuer_der: bytes) -> tuple[str, str]:
    """(issuer key hash, serial), hex: the certificate as an OCSP CertID names it."""
    _, key_hash, serial = ocsp.cert_id_hashes(cert_der, issuer_der)
    return key_hash.hex(), format(serial, "x")


def expiry(answer: Answer, asked_at: datetime, max_age_seconds: int) -> datetime | None:
    """Until when ``answer`` may be reused, or None when not at all."""
    if answer.status not in KEPT:
        return None
    if answer.next_update is not None:
        until = answer.next_update
    else:
        until = asked_at + timedelta(seconds=max_age_seconds)
        if answer.this_update is not None:
            until = min(until, answer.this_update + ocsp.NO_NEXT_UPDATE_MAX_AGE)
    return until if until > asked_at else None


class AnswerCache:
    """The kept answers in the database of ``engine``. A database fault costs the cache, never the
    check: it is logged and the CA is asked (or the answer not kept)."""

    def __init__(self, engine: Engine, max_age_seconds: int) -> None:
        self.engine, self.max_age_seconds = engine, max_age_seconds

    def get(self, cert_der: bytes, issuer_der: bytes, now: datetime | None = None) -> Answer | None:
        """The kept answer about the certificate, while it has not expired."""
        now = now or datetime.now(UTC)
        try:
            with transaction(self.engine) as session:
                row = session.get(OcspAnswer, key(cert_der, issuer_der))
                if row is None or instant(row.expires_at) <= now:
                    return None
                return Answer(row.status, "", row.responder, revoked_at=_aware(row.revoked_at),
                              revocation_reason=row.revocation_reason, this_update=_aware(row.this_update),
                              next_update=_aware(row.next_update), asked_at=instant(row.asked_at), cached=True)
        except OperationalError:
            log.exception("reading the OCSP answer cache failed")
            return None

    def keep(self, cert_der: bytes, issuer_der: bytes, answer: Answer, asked_at: datetime) -> None:
        """Keep ``answer`` (replacing the one before) when it may be reused; drop expired answers."""
        until = expiry(answer, asked_at, self.max_age_seconds)
        if until is None:
            return
        issuer_key_hash, serial = key(cert_der, issuer_der)
        values = dict(status=answer.status, responder=answer.responder[:500], revoked_at=answer.revoked_at,
                      revocation_reason=answer.revocation_reason[:32], this_update=answer.this_update,
                      next_update=answer.next_update, asked_at=asked_at, expires_at=until)
        try:
            with transaction(self.engine, write=True) as session:
                session.execute(sa.delete(OcspAnswer).where(OcspAnswer.expires_at < asked_at))
                row = session.get(OcspAnswer, (issuer_key_hash, serial))
                if row is None:
                    session.add(OcspAnswer(issuer_key_hash=issuer_key_hash, serial=serial, **values))
                else:
                    for name, value in values.items():
                        setattr(row, name, value)
        except IntegrityError:
            pass  # another process kept its answer about the certificate at the same moment: as good
        except OperationalError:
            log.exception("keeping an OCSP answer failed")


def _aware(value: datetime | None) -> datetime | None:
    return instant(value) if value is not None else None

