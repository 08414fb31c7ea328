"""How a pipeline step fails: permanently (needs a person) or transiently (retry with backoff)."""
from __future__ import annotations


class StepFailure(Exception):
    """``reason`` is Chinese and shown to users; ``code`` groups failures for bulk retries."""

    def __init__(self, code: str, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.detail = detail


class PermanentFailure(StepFailure):
    """Retrying cannot help until someone fixes data or configuration (then: `bingan ingest retry`)."""


class TransientFailure(StepFailure):
    """A peer, the disk or the index was busy or away: retried automatically with backoff."""

    def __init__(self, code: str, reason: str, detail: str = "", *, counts: bool = True) -> None:
        super().__init__(code, reason, detail)
        self.counts = counts  # rate limiting waits without using up retries


class IngestRejected(Exception):
    """A request we refuse before any row is written (push API, CLI); the message is Chinese."""
