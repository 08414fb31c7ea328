"""Authenticator secrets at rest: sealed with the master key, and kept readable across a key rotation."""
from __future__ import annotations

import os

from bingan.access.accounts import create_user
from bingan.access.sealed_secrets import SecretBox, rewrap_sealed_secrets
from bingan.storage.blobs.keys import Keyring
from bingan.storage.db import session_factory
from bingan.storage.models import User

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def test_a_sealed_secret_shows_nothing_of_the_secret_and_opens_with_the_key():
    box = SecretBox(Keyring([os.urandom(32)]))
    sealed = box.seal(SECRET)
    assert sealed.startswith("sealed:") and SECRET not in sealed and box.open(sealed) == SECRET


def test_a_master_key_rotation_rewraps_the_secrets_in_the_database(engine):
    old, new = os.urandom(32), os.urandom(32)
    with session_factory(engine)() as session, session.begin():
        user = create_user(session, "u_rotated", "Xk7#mPq2$wLz9", [])
        user.totp_secret = SecretBox(Keyring([old])).seal(SECRET)
        user_id = user.id
    assert rewrap_sealed_secrets(engine, Keyring([new, old])) == 1  # during the rotation: both keys
    with session_factory(engine)() as session:
        stored = session.get(User, user_id).totp_secret
    assert SecretBox(Keyring([new])).open(stored) == SECRET  # the old key retired
