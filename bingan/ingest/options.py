"""Tuning of the collection pipeline: environment variables BINGAN_INGEST_*.

Kept beside the code that uses them (not in the shared Settings) so ingest can evolve its
knobs without touching other domains; all defaults suit the embedded single machine.
"""
from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class IngestOptions(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BINGAN_INGEST_", env_file=None, extra="ignore")

    lease_seconds: float = Field(120, description="a claimed item is re-queued when its lease runs out")
    heartbeat_seconds: float = Field(20, description="how often a busy worker renews its lease")
    sweep_seconds: float = Field(30, description="beat tick: sweeper and due source runs")
    max_retries: int = Field(8, description="transient failures before an item is marked failed")
    retry_base_seconds: float = Field(5, description="first retry delay; doubles each time")
    retry_max_seconds: float = Field(3600, description="longest retry delay")
    max_push_bytes: int = Field(2 * 1024**3, description="largest file the push API accepts")
    index_batch: int = Field(200, description="extracted items indexed in one index commit")
    image_hash_dpi: float = Field(12, description="page thumbnail resolution for the image hash")
    image_hash_text_pages: bool = Field(
        False, description="also image-hash pages with a text layer (born-digital); costs a render per page")
    fallback_document_type: str = Field("", description="document type code for unknown types; empty = fail")


@lru_cache(maxsize=1)
def get_options() -> IngestOptions:
    return IngestOptions()


def reset_options() -> None:
    get_options.cache_clear()
