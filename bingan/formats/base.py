"""The one interface every format implements, and the one error type every public function raises."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


class FormatError(Exception):
    """A file Bingan cannot read, render or write.

    ``message`` is Chinese and shown to users; ``detail`` is technical and goes to the log.
    """

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.message} ({self.detail})" if self.detail else self.message


class FormatUnavailable(FormatError):
    """The parsing machinery failed, not the file (a guarded child could not start): retry later."""


@dataclass(frozen=True)
class TextBox:
    """A run of text on a page; coordinates in points from the top-left corner."""

    text: str
    x0: float
    y0: float
    x1: float
    y1: float


@dataclass
class PageText:
    """Text of one page as the pipeline indexes it."""

    number: int  # 1-based
    text: str
    boxes: list[TextBox] = field(default_factory=list)
    source: str = "text"  # text | ocr | none
    needs_ocr: bool = False  # quality check failed: mojibake, (cid:N), private-use, empty with content
    unmapped: int = 0  # characters read without a Unicode mapping (PDF glyph codes), estimated


@dataclass(frozen=True)
class Signature:
    """A digital signature or seal found in a document, with its verification verdict."""

    verdict: str  # valid | tampered | invalid | unauthorised | appended | unverifiable (signatures.py)
    reason: str  # Chinese
    signer: str = ""
    signed_at: datetime | None = None
    kind: str = ""  # e.g. "OFD SES V4", "PAdES"
    # The signer (and a seal's maker) chain to a trusted root and were valid at signing: set
    # for "appended" by the earlier signature's own verdict, else it is verdict == "valid".
    trusted: bool | None = None

    def __post_init__(self) -> None:
        if self.trusted is None:
            object.__setattr__(self, "trusted", self.verdict == "valid")


@dataclass
class Metadata:
    media_type: str
    pages: int
    producer: str = ""
    created: datetime | None = None
    title: str = ""
    encrypted: bool = False
    signatures: list[Signature] = field(default_factory=list)
    extra: dict[str, str] = field(default_factory=dict)
