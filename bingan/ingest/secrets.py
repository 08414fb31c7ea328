"""Source credentials at rest and push API keys.

Credentials are sealed with the blob store's master keyring (per-secret data key wrapped by
the master key, AES-256-GCM or SM4-GCM as configured), so one key protects files and
passwords alike and rotating the master key covers both. API keys are never stored: only
their SHA-256 (the keys are long random strings, so a fast hash is enough).
"""
from __future__ import annotations

import base64
import hashlib
import json
import secrets

from bingan.config import Settings
from bingan.storage.blobs.keys import load_keyring, seal_bytes, unseal_bytes


def seal_credentials(settings: Settings, values: dict[str, str]) -> str:
    if not values:
        return ""
    blob = seal_bytes(json.dumps(values).encode(), load_keyring(settings), settings.cipher)
    return base64.b64encode(blob).decode()


def open_credentials(settings: Settings, sealed: str) -> dict[str, str]:
    if not sealed:
        return {}
    return json.loads(unseal_bytes(base64.b64decode(sealed), load_keyring(settings)))


def new_api_key() -> str:
    return "bgk_" + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
