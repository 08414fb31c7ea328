"""Refusal: a user-caused "no" with a Chinese message; nothing was changed."""
from __future__ import annotations


class Refusal(Exception):
    """Raised by domain code when a user asks for something that may not be done.

    The message is Chinese and says why; the web layer answers it (web/errors.py) after the
    request's transaction has been rolled back, so a refusal never leaves half a change behind.
    ``status`` is the HTTP status the API answers with: 400 for a refusal of the request itself,
    subclasses say 409 (the current state of something forbids it) or 404 (no such thing).
    """

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Conflict(Refusal):
    """A refusal because of the current state of the thing asked about (a record already
    archived, a request already decided)."""

    status = 409


class NotFound(Refusal):
    """The thing asked about by its number does not exist (申请不存在, 授权不存在)."""

    status = 404
