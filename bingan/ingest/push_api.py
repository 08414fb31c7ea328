"""HTTP push (A1): ``POST /api/v1/ingest`` — a hospital system sends one file with its metadata.

Authenticated by the source's API key (header ``X-Api-Key``). The upload is streamed to a
staging file (never held in memory) and refused beyond the size limit; the item row is
committed before we answer, then the worker is kicked. Errors are Chinese JSON ``detail``.
"""
from __future__ import annotations

import uuid
from pathlib import Path

import sqlalchemy as sa
from fastapi import APIRouter, File, Form, Header, HTTPException, Request, UploadFile

from bingan.config import get_settings
from bingan.ingest.items import Report, enqueue
from bingan.ingest.options import get_options
from bingan.ingest.resolve import parse_time
from bingan.ingest.scheduler import kick
from bingan.ingest.secrets import hash_api_key
from bingan.storage.db import get_engine, transaction
from bingan.storage.models import Source

router = APIRouter(prefix="/api/v1", tags=["采集"])
CHUNK = 1 << 20


def _source_for_key(api_key: str | None) -> Source:
    if not api_key:
        raise HTTPException(401, "缺少 API 密钥（请求头 X-Api-Key）")
    with transaction(get_engine()) as session:
        source = session.scalars(sa.select(Source).where(Source.api_key_hash == hash_api_key(api_key))).one_or_none()
        if source is None:
            raise HTTPException(401, "API 密钥无效")
        if not source.enabled:
            raise HTTPException(403, f"来源“{source.name}”已停用")
        session.expunge(source)
    return source


def _limit(source: Source) -> int:
    return source.max_bytes or get_options().max_push_bytes


def _stage(upload: UploadFile, limit: int) -> Path:
    staging = get_settings().resolved_home / "staging"
    staging.mkdir(parents=True, exist_ok=True)
    path = staging / f"push-{uuid.uuid4().hex}"
    written = 0
    try:
        with open(path, "wb") as out:
            while chunk := upload.file.read(CHUNK):
                written += len(chunk)
                if written > limit:
                    raise HTTPException(413, f"文件超过大小上限（{limit // (1024 * 1024)} MB）")
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    if written == 0:
        path.unlink(missing_ok=True)
        raise HTTPException(422, "文件为空（0 字节）")
    return path


@router.post("/ingest", status_code=202, summary="推送一份文书")
def push_document(
    request: Request,
    file: UploadFile = File(..., description="文书文件（PDF、OFD、图片等）"),
    record_number: str = Form(..., description="病案号"),
    stay: int = Form(..., ge=1, description="住院次数"),
    source_document_id: str = Form(..., min_length=1, max_length=128, description="来源系统中的文书编号"),
    document_type: str = Form(..., min_length=1, description="文书类型代码"),
    source_system: str = Form("", description="来源系统名称（须与 API 密钥所属来源一致）"),
    title: str = Form("", description="标题"),
    author: str = Form("", description="书写者"),
    signed_at: str = Form("", description="签名时间，ISO 8601"),
    x_api_key: str | None = Header(None),
) -> dict:
    source = _source_for_key(x_api_key)
    if source_system and source_system != source.name:
        raise HTTPException(403, f"API 密钥属于来源“{source.name}”，与 source_system“{source_system}”不符")
    declared = request.headers.get("content-length") or "0"
    if not (declared.isascii() and declared.isdigit()):
        raise HTTPException(400, "请求头 Content-Length 无效")
    if int(declared) > _limit(source) + CHUNK:
        raise HTTPException(413, f"文件超过大小上限（{_limit(source) // (1024 * 1024)} MB）")
    try:
        signed = parse_time(signed_at) if signed_at else None
    except ValueError as exc:
        raise HTTPException(422, f"签名时间格式无效：{signed_at}") from exc
    staged = _stage(file, _limit(source))
    revision = _sha256(staged)
    report = Report(source_document_id=source_document_id, record_number=record_number.strip(), stay=stay,
                    document_type_code=document_type, revision=revision, title=title,
                    filename=Path(file.filename or "").name, author=author, signed_at=signed)
    with transaction(get_engine()) as session:
        item, created = enqueue(session, session.merge(source), report, staged_path=str(staged))
        answer = {"item_id": item.id, "state": item.state, "duplicate": not created}
    if created:
        kick([answer["item_id"]])
    else:
        staged.unlink(missing_ok=True)
    return answer


def _sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


@router.get("/ingest/items/{item_id}", summary="查询采集条目状态")
def item_status(item_id: int, x_api_key: str | None = Header(None)) -> dict:
    from bingan.storage.models import CollectedItem

    source = _source_for_key(x_api_key)
    with transaction(get_engine()) as session:
        item = session.get(CollectedItem, item_id)
        if item is None or item.source_id != source.id:
            raise HTTPException(404, "找不到该采集条目")
        return {"item_id": item.id, "state": item.state, "failure_reason": item.failure_reason,
                "version_id": item.version_id, "new_version": item.new_version}


__all__ = ["router"]
