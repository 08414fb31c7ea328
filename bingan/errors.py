"""Refusal: a user-caused "no" with a Chinese message; nothing was changed."""
from __future__ import annotations


class Refusal(Exception):
    """Raised by domain code when a user asks for something that may not be done.

    The message is Chinese and says why; the web layer answers it (web/errors.py) after the
    request's transaction has been rolled back, so a refusal never leaves half a change behind.
    ``conflict`` marks refusals caused by the current state of something (a record already
    archived, a request already decided): the API answers them 409 instead of 400.
    """

    conflict = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Conflict(Refusal):
    """A refusal because of the current state of the thing asked about."""

    conflict = True
