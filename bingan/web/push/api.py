"""HTTP push (A1): ``POST /api/v1/ingest`` — a hospital system sends one file with its metadata.

Authenticated by the source's API key (header ``X-Api-Key``). The upload is streamed, sealed,
to a staging file (never held in memory, never plaintext at rest) and refused beyond the size
limit; the item row is committed before we answer, then the worker is kicked (bingan/ingest/push.py).
Errors are Chinese JSON ``detail``.

Hospital systems send whatever their integrators wrote: every field is bounded by its column
(PostgreSQL refuses what SQLite would store), and a push refused after staging removes its file.
"""
from __future__ import annotations

import re
from datetime import datetime
from pathlib import PureWindowsPath
from typing import Literal
from urllib.parse import unquote

from fastapi import APIRouter, Depends, File, Form, Header, HTTPException, Request, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from bingan.ingest import devices
from bingan.ingest.items import Report, source_visit_type, visit_type_of
from bingan.ingest.push import PushRefused, accept, item_state, record_complete, size_limit, source_for_key, stage
from bingan.records.patients import parse_time
from bingan.storage.models import Source
from bingan.web.body_limit import pass_bounded
from bingan.web.deps import client_ip
from bingan.web.inputs import RowId

router = APIRouter(prefix="/api/v1", tags=["采集"])
PUSH_PATH = "/api/v1/ingest"
CHUNK = 1 << 20
MAX_INT = 2**31 - 1  # integer columns are 32-bit on PostgreSQL
MAX_FILENAME = 255
MULTIPART = "multipart/form-data"
CJK = re.compile(r"[\u4e00-\u9fff]")


def _pushing_source(x_api_key: str | None = Header(None)) -> Source:
    return source_for_key(x_api_key)


def _multipart_only(request: Request) -> None:
    """A JSON body would otherwise be answered with every field "missing", which misleads integrators."""
    if not request.headers.get("content-type", "").startswith(MULTIPART):
        raise HTTPException(415, "请以 multipart/form-data 格式推送：文件放在字段 file，其余为表单字段")


def _filename(sent: str | None) -> str:
    """The name to keep: decoded, the last part of the sender's path with either separator
    ("../../x.pdf", "C:\\x\\y.pdf"), without control characters (it ends up in download headers)."""
    decoded = _unquoted(_from_gbk(sent or ""))
    name = "".join(ch for ch in PureWindowsPath(decoded).name if ch.isprintable())
    if len(name) > MAX_FILENAME:
        raise HTTPException(422, f"文件名不能超过{MAX_FILENAME}个字符")
    return name if name.strip(". ") else ""


def _from_gbk(name: str) -> str:
    """Starlette reads bytes that are not UTF-8 as Latin-1; from a Chinese hospital system those
    are GBK (GB18030 is its superset). Kept as read unless that yields Chinese characters."""
    if name.isascii():
        return name
    try:
        chinese = name.encode("latin-1").decode("gb18030")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return name
    return chinese if CJK.search(chinese) else name


def _unquoted(name: str) -> str:
    """Some clients percent-encode non-ASCII names ("%E5%85%A5.pdf"); "100%.pdf" stays as sent."""
    if "%" not in name:
        return name
    try:
        return unquote(name, errors="strict")
    except UnicodeDecodeError:
        return name


def _signed(signed_at: str) -> datetime | None:
    try:
        return parse_time(signed_at) if signed_at else None
    except (ValueError, OverflowError) as exc:  # the year 1 or 9999 overflows on conversion to UTC
        raise HTTPException(422, "签名时间格式无效，应为 ISO 8601（如 2026-03-01T09:30:00+08:00）") from exc


class PushGate:
    """Refuses a push before its body is read: no or unknown API key, or a declared size over the limit.

    FastAPI reads a multipart body (spooling files to disk) before any dependency runs, so without
    this gate an anonymous client could make the server write gigabytes before hearing 401.
    A chunked upload (no Content-Length) is counted as it streams and stopped at the limit.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PUSH_PATH:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        try:
            source = await run_in_threadpool(source_for_key, headers.get("x-api-key"))
        except PushRefused as refused:
            await JSONResponse({"detail": refused.message}, status_code=refused.status)(scope, receive, send)
            return
        limit = size_limit(source)  # the file, plus a megabyte for the other fields
        await pass_bounded(self.app, scope, receive, send, limit + CHUNK, f"文件超过大小上限（{limit // CHUNK} MB）")


# The key first: a caller without one learns nothing about the request format (the source is computed once).
@router.post("/ingest", status_code=202, summary="推送一份文书",
             dependencies=[Depends(_pushing_source), Depends(_multipart_only)])
def push_document(
    request: Request,
    file: UploadFile = File(..., description="文书文件（PDF、OFD、图片等）"),
    record_number: str = Form(..., min_length=1, max_length=32, description="病案号"),
    stay: int = Form(..., ge=1, le=MAX_INT, description="住院次数"),
    source_document_id: str = Form(..., min_length=1, max_length=128, description="来源系统中的文书编号"),
    document_type: str = Form(..., min_length=1, max_length=100, description="文书类型代码"),
    source_system: str = Form("", max_length=64, description="来源系统名称（须与 API 密钥所属来源一致）"),
    title: str = Form("", max_length=200, description="标题"),
    author: str = Form("", max_length=64, description="书写者"),
    signed_at: str = Form("", max_length=64, description="签名时间，ISO 8601"),
    visit_type: str = Form("", max_length=16, description="住院 inpatient 或门诊 outpatient；缺省按来源设置"),
    x_device_signature: str | None = Header(None, max_length=1024,
                                            description="采集设备的签名（base64），单机采集程序上传时必带"),
    source: Source = Depends(_pushing_source),
) -> dict:
    if source_system and source_system != source.name:
        raise HTTPException(403, f"API 密钥属于来源“{source.name}”，与请求中的 source_system 不符")
    if not record_number.strip():
        raise HTTPException(422, "病案号不能为空白")
    report = Report(source_document_id=source_document_id, record_number=record_number.strip(), stay=stay,
                    document_type_code=document_type, title=title, filename=_filename(file.filename),
                    author=author, signed_at=_signed(signed_at),
                    visit_type=visit_type_of(visit_type, source_visit_type(source)))
    staged, report.revision = stage(file.file, size_limit(source))
    upload = devices.Upload(ip=client_ip(request), filename=report.filename, signature=x_device_signature)
    device_id = devices.attest(source, report, staged, upload)
    answer = accept(source, report, staged)
    if device_id is not None:
        devices.note(device_id, report, upload, answer)
    return answer


# The key first (a dependency is solved before the path is validated), then an id the database can hold.
@router.get("/ingest/items/{item_id}", summary="查询采集条目状态")
def item_status(item_id: RowId, source: Source = Depends(_pushing_source)) -> dict:
    return item_state(source, item_id)


class RecordEvent(BaseModel):
    event: Literal["record_complete"] = Field(..., description="record_complete：电子病历系统通知该次住院的病历已完成")
    record_number: str = Field(..., min_length=1, max_length=32, description="病案号")
    stay: int = Field(..., ge=1, le=MAX_INT, description="住院次数")


@router.post("/ingest/events", summary="推送病案级事件（病历已完成 → 系统自检并提交归档）")
def push_event(body: RecordEvent, source: Source = Depends(_pushing_source)) -> dict:
    if not body.record_number.strip():
        raise HTTPException(422, "病案号不能为空白")
    return record_complete(body.record_number.strip(), body.stay)
