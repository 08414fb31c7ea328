"""Authenticator (TOTP) secrets sealed with the master key, so a copy of the database alone
does not let anyone generate a user's codes (M8).

A sealed value is ``sealed:`` + base64 of a small sealed file (key record and AEAD body, the
format of the blob store). A value without the prefix is a secret from before sealing: it is
still read, and sealed at its next use.
"""
from __future__ import annotations

import base64
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy import Engine

from bingan.storage.blobs.crypto import unpack_key_record
from bingan.storage.blobs.keys import Keyring, load_keyring, reseal_bytes, seal_bytes, unseal_bytes

if TYPE_CHECKING:
    from bingan.config import Settings

PREFIX = "sealed:"
_KEYRINGS: dict[tuple[str, str], Keyring] = {}


class SecretBox:
    """Seals and opens secrets with one keyring and the configured cipher."""

    def __init__(self, keyring: Keyring, cipher: str = "aes-256-gcm") -> None:
        self.keyring = keyring
        self.cipher = cipher

    @classmethod
    def of(cls, settings: Settings) -> SecretBox:
        """One keyring per key source and process (it notices a rotation by itself)."""
        source = (settings.master_key, str(settings.resolved_key_file))
        if source not in _KEYRINGS:
            _KEYRINGS[source] = load_keyring(settings)
        return cls(_KEYRINGS[source], settings.cipher)

    def seal(self, secret: str) -> str:
        if not secret or is_sealed(secret):
            return secret
        return PREFIX + base64.b64encode(seal_bytes(secret.encode(), self.keyring, self.cipher)).decode()

    def open(self, stored: str) -> str:
        if not is_sealed(stored):
            return stored
        return unseal_bytes(base64.b64decode(stored[len(PREFIX):]), self.keyring).decode()

    def fresh(self, stored: str) -> str:
        """The value to store from now on: sealed, and under the current master key."""
        if not is_sealed(stored):
            return self.seal(stored)
        blob = base64.b64decode(stored[len(PREFIX):])
        if self.keyring.wrapped_by_primary(blob[:unpack_key_record(blob).length]):
            return stored
        return PREFIX + base64.b64encode(reseal_bytes(blob, self.keyring)).decode()


def is_sealed(stored: str) -> bool:
    return stored.startswith(PREFIX)


class WithSealedSecrets:
    """A blob store whose master-key rotation also re-wraps the sealed secrets in the database,
    so that no authenticator becomes unreadable when the old key is retired."""

    def __init__(self, store, engine: Engine) -> None:
        self.store = store
        self.keyring = store.keyring
        self.engine = engine

    def rewrap_keys(self, progress=None) -> int:
        return self.store.rewrap_keys(progress) + rewrap_sealed_secrets(self.engine, self.keyring)


def rewrap_sealed_secrets(engine: Engine, keyring: Keyring) -> int:
    """Every stored secret not yet under the primary master key, re-wrapped; how many were."""
    from bingan.storage.db import session_factory
    from bingan.storage.models import TotpEnrolment, User
    from bingan.storage.models.sealing import SealCertificate

    if not sa.inspect(engine).has_table("users"):
        return 0  # no database set up here: nothing sealed in it
    box, count = SecretBox(keyring), 0
    with session_factory(engine)() as session, session.begin():
        users = session.scalars(sa.select(User).where(User.totp_secret != ""))
        enrolments = session.scalars(sa.select(TotpEnrolment).where(TotpEnrolment.pending_secret != ""))
        certificates = session.scalars(sa.select(SealCertificate))  # the hospital's seal-signing keys
        for row, column in [*((user, "totp_secret") for user in users),
                            *((enrolment, "pending_secret") for enrolment in enrolments),
                            *((certificate, "private_key") for certificate in certificates)]:
            fresh = box.fresh(getattr(row, column))
            if fresh != getattr(row, column):
                setattr(row, column, fresh)
                count += 1
    return count
