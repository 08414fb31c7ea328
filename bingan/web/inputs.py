"""Input no column can hold, refused before any route sees it: NUL characters, lone surrogates,
identifiers beyond the database's integer range.

PostgreSQL rejects U+0000 in text, and no driver can encode a lone UTF-16 surrogate (JSON allows
"\\ud800"), so either would end as a 500 at the first INSERT or WHERE. Ids are PostgreSQL
``integer``: a larger number in a WHERE clause is an error there and an OverflowError in SQLite.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import HTTPException, Path, Query, Request
from starlette.datastructures import UploadFile

MAX_ID = 2**31 - 1
FORBIDDEN = re.compile("[\x00\ud800-\udfff]")
FORBIDDEN_MESSAGE = "请求中含有不允许的字符（NUL 空字符或无效的 Unicode 代理项），未做任何修改"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

RowId = Annotated[int, Path(ge=1, le=MAX_ID, description="编号（正整数）")]
PageNumber = Annotated[int, Path(ge=1, le=MAX_ID, description="页码（从1开始）")]
VersionParam = Annotated[int | None, Query(ge=1, le=MAX_ID, description="版本编号，缺省为当前版本")]
OffsetParam = Annotated[int, Query(ge=0, le=MAX_ID, description="跳过的条数")]


def parse_id(text: str | None) -> int | None:
    """A typed id or page number, or None: ASCII digits only ("²".isdigit() is true, int("²") fails)
    and within the database's integer range."""
    value = (text or "").strip()
    if not (value.isascii() and value.isdigit()) or len(value) > len(str(MAX_ID)):
        return None
    number = int(value)
    return number if 1 <= number <= MAX_ID else None


def texts_in(value: Any) -> Iterator[str]:
    """Every string in a decoded JSON value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from texts_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from texts_in(item)


async def _body_texts(request: Request) -> Iterator[str]:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(FORM_TYPES):
        form = await request.form()  # parsed once: starlette caches it for the route
        texts = []
        for key, item in form.multi_items():
            texts.append(key)
            texts.append((item.filename or "") if isinstance(item, UploadFile) else item)
        return iter(texts)
    if content_type and "json" not in content_type:
        return iter(())
    body = await request.body()
    try:
        return texts_in(json.loads(body)) if body else iter(())
    except (ValueError, UnicodeDecodeError):
        return iter(())  # the route's own body validation reports malformed JSON


async def input_guard(request: Request) -> None:
    """Applied to every route, like the CSRF guard."""
    texts = [request.url.path, *request.query_params.keys(), *request.query_params.values(),
             *request.headers.values()]
    texts.extend(await _body_texts(request))
    if any(FORBIDDEN.search(text) for text in texts):
        raise HTTPException(status_code=422, detail=FORBIDDEN_MESSAGE)
