"""Settings of document processing: environment variables BINGAN_FORMAT_*, BINGAN_OCR_*, …

Kept beside the code that uses them, like ingest's options, and read at each use rather than
once: guarded child processes inherit the environment, and an operator's change applies to the
next document. Listed in the README's settings table with the application's other settings.
"""
from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_TIMEOUT_S = 60.0
DEFAULT_MEMORY_MB = 2048


class FormatOptions(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BINGAN_", env_file=None, extra="ignore")

    format_timeout: float = Field(DEFAULT_TIMEOUT_S, gt=0, description="seconds one guarded parsing call may take "
                                                          "(per page for text) before its child is killed")
    format_memory_mb: int = Field(DEFAULT_MEMORY_MB, gt=0,
                                  description="address-space cap of a guarded parsing child (MiB)")
    format_pool_size: int = Field(2, gt=0, description="warm guarded children per worker process")
    ocr_threads: int = Field(2, gt=0, description="threads of the OCR engine")
    ocr_det_max_side: int = Field(1024, ge=320, description="OCR text detection runs on a copy this many "
                                                            "pixels long (1600 for very small print)")
    cjk_font: str = Field("", description="font for text, XML and HTML reports; empty = Noto Sans CJK")
    signature_trust_roots: str = Field("", description="PEM/DER certificate file: roots trusted for PDF "
                                                       "and OFD signatures; empty = none trusted")


def format_options() -> FormatOptions:
    return FormatOptions()
