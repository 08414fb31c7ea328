"""The sources JSON API (采集源): list, create, read and change sources, test the connection, run now,
push keys (shown once), code mappings, the basic-data preview and record-number aliases."""
from __future__ import annotations

import dataclasses
from typing import Literal

import httpx
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from bingan.errors import Refusal
from bingan.ingest import record_aliases, source_admin, source_check
from bingan.storage.models import SourceMapping
from bingan.web.deps import Ctx, permission
from bingan.web.inputs import MAX_ID, OffsetParam, RowId

router = APIRouter(prefix="/api/v1", tags=["采集源"])
GUARD = "system.settings"


class Period(BaseModel):
    days: list[int] = Field(..., min_length=1, max_length=7, description="星期 1–7（1 = 周一）")
    start: str = Field(..., max_length=5, description="开始 HH:MM（北京时间）")
    end: str = Field(..., max_length=5, description="结束 HH:MM；早于开始表示跨午夜")


class SourceBody(BaseModel):
    """A source's settings; on PUT, fields left out keep their values. Credentials are write-only."""

    name: str = Field("", max_length=64, description="代码（创建后不可修改），也是文书的来源系统")
    title: str = Field("", max_length=100)
    kind: str = Field("other", max_length=16)
    transport: Literal["http_pull", "http_push", "ftp", "soap", "folder", "basic_data"] = "http_pull"
    endpoint: str = Field("", max_length=500)
    campus_id: int | None = Field(None, ge=1, le=MAX_ID)
    periods: list[Period] = Field(default_factory=list, max_length=50)
    interval_minutes: int = Field(15, ge=1, le=10080)
    collection_delay_hours: int = Field(0, ge=0, le=8760)
    recollect_days: int = Field(0, ge=0, le=3650)
    rate_limit_per_minute: int = Field(0, ge=0, le=100000, description="每分钟最多获取，0 = 不限")
    max_mb: int = Field(0, ge=0, le=100000, description="单个文件上限 MB，0 = 系统默认")
    create_missing_records: bool = False
    fallback_document_type_id: int | None = Field(None, ge=1, le=MAX_ID)
    visit_type: Literal["inpatient", "outpatient"] = "inpatient"
    options: dict[str, str | int] = Field(default_factory=dict, max_length=20)
    enabled: bool = True
    credentials: dict[Literal["username", "password", "token"], str] = Field(default_factory=dict)
    clear_credentials: bool = False


def _json(request: Request, ctx: Ctx, source) -> dict:
    return source_admin.source_json(request.app.state.settings, ctx.session, source)


def _apply(data: source_admin.SourceInput, body: SourceBody, fields: set[str]) -> source_admin.SourceInput:
    values = body.model_dump(include=fields)
    if "periods" in values:
        values["periods"] = [dict(p) for p in values["periods"]]
    return dataclasses.replace(data, **values)


@router.get("/sources", summary="采集源列表（凭据不返回，只说明已设置哪些）")
def list_sources(request: Request, ctx: Ctx = permission(GUARD)) -> dict:
    return {"sources": [_json(request, ctx, s) for s in source_admin.sources(ctx.session)]}


@router.post("/sources", status_code=201, summary="新建采集源")
def create_source(request: Request, body: SourceBody, ctx: Ctx = permission(GUARD)) -> dict:
    data = _apply(source_admin.SourceInput(), body, set(SourceBody.model_fields))
    source = source_admin.create_source(ctx.session, request.app.state.settings, ctx.actor, data)
    return _json(request, ctx, source)


@router.get("/sources/{source_id}", summary="一个采集源的设置、对照与最近采集")
def get_source(request: Request, source_id: RowId, ctx: Ctx = permission(GUARD)) -> dict:
    source = source_admin.get_source(ctx.session, source_id)
    runs = [{"state": r.state, "started_at": r.started_at.isoformat(), "items_seen": r.items_seen,
             "items_new": r.items_new, "error": r.error} for r in source_admin.recent_runs(ctx.session, source.id)]
    mappings = [_mapping(m) for m in source_admin.mappings(ctx.session, source.id)]
    return {**_json(request, ctx, source), "mappings": mappings,
            "unmapped": [dataclasses.asdict(u) for u in source_admin.unmapped_codes(ctx.session, source.id)],
            "items": source_admin.item_counts(ctx.session, source.id), "runs": runs}


@router.put("/sources/{source_id}", summary="修改采集源（未给出的字段保持不变；代码不可修改）")
def update_source(request: Request, source_id: RowId, body: SourceBody, ctx: Ctx = permission(GUARD)) -> dict:
    current = source_admin.input_of(source_admin.get_source(ctx.session, source_id))
    data = _apply(current, body, body.model_fields_set - {"name"})
    source = source_admin.update_source(ctx.session, request.app.state.settings, ctx.actor, source_id, data)
    return _json(request, ctx, source)


@router.post("/sources/{source_id}/test", summary="测试连接（短超时，中文结果；不改变任何数据）")
def test_source(request: Request, source_id: RowId, ctx: Ctx = permission(GUARD)) -> dict:
    source = source_admin.get_source(ctx.session, source_id)
    result = source_check.probe(request.app.state.settings, source)
    ctx.audit("source_test", object_type="source", object_id=source.id,
              detail={"来源": source.name, "结果": result.message}, result="ok" if result.ok else "failed")
    return {"ok": result.ok, "message": result.message}


@router.post("/sources/{source_id}/run", status_code=202, summary="立即采集（拉取方式）")
def run_source(request: Request, source_id: RowId, ctx: Ctx = permission(GUARD)) -> dict:
    return _json(request, ctx, source_admin.run_now(ctx.session, ctx.actor, source_id))


@router.post("/sources/{source_id}/keys", status_code=201,
             summary="创建或轮换推送 API 密钥：密钥只在此应答中出现一次，旧密钥立即失效")
def issue_key(source_id: RowId, ctx: Ctx = permission(GUARD)) -> dict:
    return {"api_key": source_admin.issue_key(ctx.session, ctx.actor, source_id)}


@router.post("/sources/{source_id}/keys/revoke", summary="吊销推送 API 密钥")
def revoke_key(request: Request, source_id: RowId, ctx: Ctx = permission(GUARD)) -> dict:
    return _json(request, ctx, source_admin.revoke_key(ctx.session, ctx.actor, source_id))


class MappingBody(BaseModel):
    source_code: str = Field(..., min_length=1, max_length=100)
    source_name: str = Field("", max_length=100)
    document_type_id: int = Field(..., ge=1, le=MAX_ID)


def _mapping(row: SourceMapping) -> dict:
    return {"id": row.id, "source_code": row.source_code, "source_name": row.source_name,
            "document_type_id": row.document_type_id, "document_type": row.document_type.name}


@router.post("/sources/{source_id}/mappings", summary="文书类型对照：添加或修改；因该代码失败的条目重新排队")
def map_code(source_id: RowId, body: MappingBody, ctx: Ctx = permission(GUARD)) -> dict:
    row, retried = source_admin.map_code(ctx.session, ctx.actor, source_id, body.source_code, body.source_name,
                                         body.document_type_id)
    return {**_mapping(row), "retried": retried}


@router.post("/sources/{source_id}/mappings/{mapping_id}/delete", summary="删除文书类型对照")
def unmap_code(source_id: RowId, mapping_id: RowId, ctx: Ctx = permission(GUARD)) -> dict:
    source_admin.unmap_code(ctx.session, ctx.actor, source_id, mapping_id)
    return {"deleted": mapping_id}


class FieldsBody(BaseModel):
    field_mapping: dict[str, dict[str, str]] = Field(..., max_length=10)


@router.put("/sources/{source_id}/fields", summary="基础数据字段对照（本系统字段 → 对方字段名）")
def save_fields(request: Request, source_id: RowId, body: FieldsBody, ctx: Ctx = permission(GUARD)) -> dict:
    return _json(request, ctx, source_admin.save_field_mapping(ctx.session, ctx.actor, source_id, body.field_mapping))


@router.get("/sources/{source_id}/preview", summary="预览下一次基础数据同步（前 N 行，按对照映射，不写入；姓名遮蔽）")
def preview(request: Request, source_id: RowId, rows: int = Query(source_check.PREVIEW_ROWS, ge=1, le=200),
            ctx: Ctx = permission(GUARD)) -> dict:
    source = source_admin.get_source(ctx.session, source_id)
    if source.transport != "basic_data":
        raise Refusal("只有基础数据同步的来源可以预览")
    try:
        previews = source_check.preview_sync(request.app.state.settings, source, rows)
    except (httpx.HTTPError, ValueError) as exc:
        raise Refusal(f"无法读取基础数据：{exc.__class__.__name__}") from exc
    return {"entities": [dataclasses.asdict(p) for p in previews]}


# ---- record-number aliases (病案号对照) ----------------------------------------------------------

class AliasBody(BaseModel):
    alias: str = Field(..., min_length=1, max_length=32, description="住院号、门诊号、旧号或上游编号")
    record_number: str = Field(..., min_length=1, max_length=32)
    kind: Literal["inpatient", "outpatient", "upstream", "old", "merged"] = "inpatient"
    note: str = Field("", max_length=255)


def _alias(row) -> dict:
    return {"id": row.id, "alias": row.alias, "record_number": row.record_number, "kind": row.kind, "note": row.note}


@router.get("/record-aliases", summary="病案号对照（q：别名或病案号）")
def list_aliases(q: str = Query("", max_length=32), offset: OffsetParam = 0, ctx: Ctx = permission(GUARD)) -> dict:
    rows, total = record_aliases.aliases(ctx.session, q, offset)
    return {"total": total, "aliases": [_alias(row) for row in rows]}


@router.post("/record-aliases", summary="添加或修改病案号对照")
def save_alias(body: AliasBody, ctx: Ctx = permission(GUARD)) -> dict:
    return _alias(record_aliases.save_alias(ctx.session, ctx.actor, body.alias, body.record_number, body.kind,
                                            body.note))


@router.post("/record-aliases/{alias_id}/delete", summary="删除病案号对照")
def delete_alias(alias_id: RowId, ctx: Ctx = permission(GUARD)) -> dict:
    record_aliases.delete_alias(ctx.session, ctx.actor, alias_id)
    return {"deleted": alias_id}


class SyncBody(BaseModel):
    source_id: int = Field(..., ge=1, le=MAX_ID, description="基础数据同步方式的采集源")


@router.post("/record-aliases/sync", summary="从 HIS 同步病案号对照（GET /basic/aliases）")
def sync_aliases(request: Request, body: SyncBody, ctx: Ctx = permission(GUARD)) -> dict:
    source = source_admin.get_source(ctx.session, body.source_id)
    saved, problems = record_aliases.sync_aliases(ctx.session, request.app.state.settings, ctx.actor, source)
    return {"saved": saved, "refused": problems}
