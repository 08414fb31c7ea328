"""Source pages (系统设置 → 采集源): the list, a source's settings, connection test, 立即采集, push key,
code mappings with the unmapped codes met so far, basic-data field mapping with a preview of the
next sync; record-number aliases (病案号对照)."""
from __future__ import annotations

import httpx
import sqlalchemy as sa
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from bingan.errors import Refusal
from bingan.ingest import record_aliases, source_admin, source_check
from bingan.ingest.connectors.basic_data import FIELDS
from bingan.storage.models import Campus, DocumentType, Source
from bingan.web import navigation
from bingan.web.admin.common import done
from bingan.web.deps import Ctx, permission
from bingan.web.errors import back_on_refusal
from bingan.web.inputs import OffsetParam, RowId, parse_id
from bingan.web.render import page

router = APIRouter(include_in_schema=False)
navigation.register("系统设置", "采集源", "/admin/sources", "system.settings")
navigation.register("系统设置", "病案号对照", "/admin/record-aliases", "system.settings")
GUARD = "system.settings"
TRANSPORT_OPTIONS = {"soap": ("list_operation", "get_operation"), "folder": ("after", "min_age_seconds")}


def _back(source_id: int, message: str, anchor: str = "") -> Response:
    """To the source's page with a message, scrolled to the section the form was in."""
    response = done(f"/admin/sources/{source_id}", message)
    if anchor:
        response.headers["location"] += f"#{anchor}"
    return response


def _messages(request: Request) -> dict:
    return {"error": request.query_params.get("error", ""), "message": request.query_params.get("message", "")}


def _choices(ctx: Ctx) -> dict:
    return {"campuses": ctx.session.scalars(sa.select(Campus).where(Campus.active).order_by(Campus.code)).all(),
            "document_types": ctx.session.scalars(sa.select(DocumentType).where(DocumentType.active)
                                                  .order_by(DocumentType.code)).all(),
            "kinds": source_admin.KIND_NAMES, "transports": source_admin.TRANSPORT_NAMES,
            "visits": source_admin.VISIT_NAMES}


@router.get("/admin/sources", response_class=HTMLResponse)
def sources_page(request: Request, ctx: Ctx = permission(GUARD)) -> Response:
    return page(request, "sources/list.html", ctx, sources=source_admin.sources(ctx.session),
                kinds=source_admin.KIND_NAMES, transports=source_admin.TRANSPORT_NAMES, **_messages(request))


@router.get("/admin/sources/new", response_class=HTMLResponse)
def new_source_page(request: Request, ctx: Ctx = permission(GUARD)) -> Response:
    return _form(request, ctx, None, source_admin.SourceInput())


def _form(request: Request, ctx: Ctx, source: Source | None, data: source_admin.SourceInput, error: str = "",
          status_code: int = 200) -> Response:
    return page(request, "sources/new.html", ctx, status_code=status_code, source=source, data=data,
                periods=source_admin.format_periods(data.periods), error=error, **_choices(ctx))


@router.post("/admin/sources", response_class=HTMLResponse)
async def create_source(request: Request, ctx: Ctx = permission(GUARD)) -> Response:
    form = await request.form()
    try:
        data = _input(form)
        source = source_admin.create_source(ctx.session, request.app.state.settings, ctx.actor, data)
    except Refusal as refusal:  # the form again with what was typed (credentials excepted)
        ctx.session.rollback()
        return _form(request, ctx, None, _input(form, strict=False), refusal.message, status_code=400)
    return _back(source.id, "采集源已创建")


@router.get("/admin/sources/{source_id}", response_class=HTMLResponse)
def source_page(request: Request, source_id: RowId, ctx: Ctx = permission(GUARD)) -> Response:
    return _source(request, ctx, source_id, **_messages(request))


def _source(request: Request, ctx: Ctx, source_id: int, status_code: int = 200, **shown: object) -> Response:
    source = source_admin.get_source(ctx.session, source_id)
    settings = request.app.state.settings
    return page(request, "sources/edit.html", ctx, status_code=status_code, source=source,
                periods=source.periods and source_admin.format_periods(source.periods),
                credentials_set=source_admin.credentials_set(settings, source),
                mappings=source_admin.mappings(ctx.session, source.id),
                unmapped=source_admin.unmapped_codes(ctx.session, source.id),
                runs=source_admin.recent_runs(ctx.session, source.id),
                counts=source_admin.item_counts(ctx.session, source.id),
                fields={**FIELDS, "aliases": record_aliases.ALIAS_FIELDS}, **_choices(ctx), **shown)


@router.post("/admin/sources/{source_id}", response_class=HTMLResponse)
async def save_source(request: Request, source_id: RowId, ctx: Ctx = permission(GUARD)) -> Response:
    form = await request.form()
    try:
        source_admin.update_source(ctx.session, request.app.state.settings, ctx.actor, source_id, _input(form))
    except Refusal as refusal:
        ctx.session.rollback()
        if refusal.status == 404:
            raise
        return _source(request, ctx, source_id, status_code=400, error=refusal.message)
    return _back(source_id, "设置已保存")


def _input(form: FormData, strict: bool = True) -> source_admin.SourceInput:
    """The source form as typed; ``strict=False`` keeps what it can (to show the form again)."""
    text = {key: str(form.get(key, "")).strip()[:2000] for key in form}
    options = {key: text[key] for key in TRANSPORT_OPTIONS.get(text.get("transport", ""), ()) if text.get(key)}
    if "min_age_seconds" in options:
        options["min_age_seconds"] = _number(options["min_age_seconds"], "文件静置秒数", strict)
    return source_admin.SourceInput(
        name=text.get("name", ""), title=text.get("title", ""), kind=text.get("kind", "other"),
        transport=text.get("transport", "http_pull"), endpoint=text.get("endpoint", ""),
        campus_id=parse_id(text.get("campus_id")), periods=_periods(text.get("periods", ""), strict),
        interval_minutes=_number(text.get("interval_minutes", "15"), "采集间隔", strict, 15),
        collection_delay_hours=_number(text.get("collection_delay_hours", "0"), "出院后延迟", strict),
        recollect_days=_number(text.get("recollect_days", "0"), "补采天数", strict),
        rate_limit_per_minute=_number(text.get("rate_limit_per_minute", "0"), "每分钟限速", strict),
        max_mb=_number(text.get("max_mb", "0"), "文件上限", strict),
        create_missing_records=text.get("create_missing_records") == "on",
        fallback_document_type_id=parse_id(text.get("fallback_document_type_id")),
        visit_type=text.get("visit_type", "inpatient"), options=options, enabled=text.get("enabled") == "on",
        credentials={key: str(form.get(key, ""))[:500] for key in source_admin.CREDENTIAL_KEYS} if strict else {},
        clear_credentials=text.get("clear_credentials") == "on",
    )


def _number(value: str, label: str, strict: bool, default: int = 0) -> int:
    if not value:
        return default
    if value.isascii() and value.isdigit() and len(value) <= 9:
        return int(value)
    if strict:
        raise Refusal(f"{label}须为非负整数")
    return default


def _periods(text: str, strict: bool) -> list[dict]:
    try:
        return source_admin.parse_periods(text)
    except Refusal:
        if strict:
            raise
        return []


@router.post("/admin/sources/{source_id}/test", response_class=HTMLResponse)
def test_source(request: Request, source_id: RowId, ctx: Ctx = permission(GUARD)) -> Response:
    source = source_admin.get_source(ctx.session, source_id)
    result = source_check.probe(request.app.state.settings, source)
    ctx.audit("source_test", object_type="source", object_id=source.id,
              detail={"来源": source.name, "结果": result.message}, result="ok" if result.ok else "failed")
    return _source(request, ctx, source_id, probe=result)


@router.post("/admin/sources/{source_id}/run", dependencies=[back_on_refusal("/admin/sources/{source_id}")])
def run_source(source_id: RowId, ctx: Ctx = permission(GUARD)) -> Response:
    source_admin.run_now(ctx.session, ctx.actor, source_id)
    return _back(source_id, "已安排立即采集：将在下一次调度（约半分钟内）开始，刷新本页可查看结果")


@router.post("/admin/sources/{source_id}/key", response_class=HTMLResponse,
             dependencies=[back_on_refusal("/admin/sources/{source_id}")])
def issue_key(request: Request, source_id: RowId, ctx: Ctx = permission(GUARD)) -> Response:
    key = source_admin.issue_key(ctx.session, ctx.actor, source_id)
    return _source(request, ctx, source_id, new_key=key)


@router.post("/admin/sources/{source_id}/key/revoke", dependencies=[back_on_refusal("/admin/sources/{source_id}")])
def revoke_key(source_id: RowId, ctx: Ctx = permission(GUARD)) -> Response:
    source_admin.revoke_key(ctx.session, ctx.actor, source_id)
    return _back(source_id, "API 密钥已吊销，对方系统将无法再推送")


@router.post("/admin/sources/{source_id}/mappings", dependencies=[back_on_refusal("/admin/sources/{source_id}")])
def add_mapping(source_id: RowId, source_code: str = Form("", max_length=100),
                source_name: str = Form("", max_length=100), document_type_id: str = Form("", max_length=12),
                ctx: Ctx = permission(GUARD)) -> Response:
    _mapping, retried = source_admin.map_code(ctx.session, ctx.actor, source_id, source_code, source_name,
                                              parse_id(document_type_id))
    tail = f"，{retried} 个因此失败的采集项已重新排队" if retried else ""
    return _back(source_id, f"对照“{source_code.strip()}”已保存{tail}", "mappings")


@router.post("/admin/sources/{source_id}/mappings/{mapping_id}/delete",
             dependencies=[back_on_refusal("/admin/sources/{source_id}")])
def delete_mapping(source_id: RowId, mapping_id: RowId, ctx: Ctx = permission(GUARD)) -> Response:
    source_admin.unmap_code(ctx.session, ctx.actor, source_id, mapping_id)
    return _back(source_id, "对照已删除", "mappings")


@router.post("/admin/sources/{source_id}/fields", dependencies=[back_on_refusal("/admin/sources/{source_id}")])
async def save_fields(request: Request, source_id: RowId, ctx: Ctx = permission(GUARD)) -> Response:
    form = await request.form()
    mapping: dict[str, dict[str, str]] = {}
    for key in form:
        entity, dot, ours = key.partition(".")
        if dot:
            mapping.setdefault(entity, {})[ours] = str(form.get(key, ""))[:100]
    source_admin.save_field_mapping(ctx.session, ctx.actor, source_id, mapping)
    return _back(source_id, "字段对照已保存", "fields")


@router.get("/admin/sources/{source_id}/preview", response_class=HTMLResponse)
def preview(request: Request, source_id: RowId, ctx: Ctx = permission(GUARD)) -> Response:
    """The next basic-data sync, mapped and not written (names masked)."""
    source = source_admin.get_source(ctx.session, source_id)
    if source.transport != "basic_data":
        return _source(request, ctx, source_id, status_code=400, error="只有基础数据同步的来源可以预览")
    try:
        previews = source_check.preview_sync(request.app.state.settings, source)
    except (httpx.HTTPError, ValueError) as exc:
        return _source(request, ctx, source_id, error=f"无法读取基础数据：{exc.__class__.__name__}")
    return _source(request, ctx, source_id, previews=previews)


# ---- record-number aliases (病案号对照) ----------------------------------------------------------

@router.get("/admin/record-aliases", response_class=HTMLResponse)
def aliases_page(request: Request, q: str = Query("", max_length=32), offset: OffsetParam = 0,
                 ctx: Ctx = permission(GUARD)) -> Response:
    rows, total = record_aliases.aliases(ctx.session, q, offset)
    basic = [s for s in source_admin.sources(ctx.session) if s.transport == "basic_data"]
    return page(request, "sources/aliases.html", ctx, aliases=rows, total=total, q=q, offset=offset,
                page_size=record_aliases.PAGE, kinds=record_aliases.ALIAS_KINDS, basic_sources=basic,
                **_messages(request))


@router.post("/admin/record-aliases", dependencies=[back_on_refusal("/admin/record-aliases")])
def save_alias(alias: str = Form("", max_length=32), record_number: str = Form("", max_length=32),
               kind: str = Form("inpatient", max_length=16), note: str = Form("", max_length=255),
               ctx: Ctx = permission(GUARD)) -> Response:
    row = record_aliases.save_alias(ctx.session, ctx.actor, alias, record_number, kind, note)
    return done("/admin/record-aliases", f"“{row.alias}”已对照到病案号 {row.record_number}")


@router.post("/admin/record-aliases/{alias_id}/delete", dependencies=[back_on_refusal("/admin/record-aliases")])
def delete_alias(alias_id: RowId, ctx: Ctx = permission(GUARD)) -> Response:
    record_aliases.delete_alias(ctx.session, ctx.actor, alias_id)
    return done("/admin/record-aliases", "对照已删除")


@router.post("/admin/record-aliases/sync", dependencies=[back_on_refusal("/admin/record-aliases")])
def sync_aliases(request: Request, source_id: str = Form("", max_length=12), ctx: Ctx = permission(GUARD)) -> Response:
    found = parse_id(source_id)
    if found is None:
        raise Refusal("请选择从哪个基础数据来源同步")
    source = source_admin.get_source(ctx.session, found)
    saved, problems = record_aliases.sync_aliases(ctx.session, request.app.state.settings, ctx.actor, source)
    refused = f"；{len(problems)} 条未同步：{'；'.join(problems[:3])}" if problems else ""
    return done("/admin/record-aliases", f"已从“{source.title or source.name}”同步 {saved} 条对照{refused}")
