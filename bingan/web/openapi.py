"""What every JSON API (/api/v1) shares: how datetimes are written, and query parameters a route
reads from the request itself described in the API description."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import PlainSerializer

from bingan import clock

# Every datetime the API returns is the hospital's time with its offset (2025-03-01T07:30:00+08:00);
# dates (a search hit's discharge day) are the hospital's days.
HospitalTime = Annotated[datetime, PlainSerializer(clock.iso, return_type=str)]


def query_parameters(described: dict[str, str]) -> dict:
    """OpenAPI entries for query parameters a route reads from the request itself (shared with its page)."""
    return {"parameters": [{"name": name, "in": "query", "required": False, "description": text,
                            "schema": {"type": "string"}} for name, text in described.items()]}
