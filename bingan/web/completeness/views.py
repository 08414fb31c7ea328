"""Completeness pages: the record's self-check drill-down with submission and marks (and its panel on
the record page), the rules and special-kind administration, the document-type mapping."""
from __future__ import annotations

from datetime import date
from urllib.parse import quote

import sqlalchemy as sa
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bingan.access.policy import decide_for
from bingan.errors import Refusal
from bingan.records.completeness import checks, mapping, marks, rules, service
from bingan.records.completeness import visit_scope as scopes
from bingan.storage.models import Category, Department, DocumentType, Record, Source
from bingan.storage.models.completeness import MARK_KINDS, RECORD_CASES
from bingan.storage.models.organisation import VISIT_SCOPES
from bingan.web import navigation
from bingan.web.deps import Ctx, RecordAccess, gate_record, load_record, permission, record_gate
from bingan.web.inputs import RowId
from bingan.web.render import page

router = APIRouter(include_in_schema=False)
RULES_PATH = "/admin/completeness"
MAPPING_PATH = "/admin/document-types"
navigation.register("归档管理", "完整性规则", RULES_PATH, "completeness.manage")
navigation.register("归档管理", "文书类型对照", MAPPING_PATH, "completeness.manage")


def _back(path: str, *, error: str = "", message: str = "") -> RedirectResponse:
    query = f"?error={quote(error)}" if error else f"?message={quote(message)}" if message else ""
    return RedirectResponse(path + query, status_code=303)


def _checks_path(record_id: int) -> str:
    return f"/records/{record_id}/checks"


def _record_view(ctx: Ctx, record: Record) -> dict:
    """What the drill-down and the record-page panel show."""
    run = checks.latest_run(ctx.session, record.id)
    return {
        "record": record, "run": run, "check_names": checks.CHECK_NAMES, "severity_names": checks.SEVERITY_NAMES,
        "marks": marks.marks_of(ctx.session, record.id), "mark_kinds": MARK_KINDS,
        "may_submit": record.status == "awaiting" and bool(decide_for(ctx.subject, "submit", record)),
        "may_mark": record.status != "archived" and bool(decide_for(ctx.subject, "mark", record)),
    }


@router.get("/records/{record_id}/checks", response_class=HTMLResponse)
def checks_page(request: Request, access: RecordAccess = record_gate("view")) -> Response:
    ctx, record = access.ctx, access.record
    ctx.audit("checks_view", object_type="record", object_id=record.id, record_id=record.id)
    return page(request, "completeness/checks.html", ctx, **_record_view(ctx, record),
                categories=_categories(ctx), special_kinds=marks.special_kind_names(ctx.session),
                error=request.query_params.get("error", ""), message=request.query_params.get("message", ""))


@router.get("/records/{record_id}/completeness", response_class=HTMLResponse)
def record_panel(request: Request, access: RecordAccess = record_gate("view")) -> Response:
    """The record page's panel (loaded by htmx): the latest self-check, open marks, 提交归档."""
    return page(request, "completeness/_panel.html", access.ctx, **_record_view(access.ctx, access.record))


@router.post("/records/{record_id}/submit")
def submit_form(access: RecordAccess = record_gate("submit")) -> Response:
    ctx, record = access.ctx, access.record
    try:
        service.submit(ctx.session, ctx.actor, record)
    except service.SubmissionRefused as refused:  # the run and the refusal stay stored
        return _back(_checks_path(record.id), error=refused.message)
    except Refusal as refused:
        ctx.session.rollback()
        return _back(_checks_path(record.id), error=refused.message)
    return _back(_checks_path(record.id), message="已提交归档，等待病案室质控")


@router.post("/records/{record_id}/checks")
def rerun_form(access: RecordAccess = record_gate("submit")) -> Response:
    report = checks.run_checks(access.ctx.session, access.record, "manual")
    done = "自检通过" if report.passed else f"自检发现 {len(report.errors)} 项错误"
    return _back(_checks_path(access.record.id), message=f"已重新自检：{done}")


@router.post("/records/{record_id}/marks")
def mark_form(kind: str = Form(""), reason: str = Form("", max_length=marks.MAX_REASON),
              item: str = Form("", max_length=24), expected_date: str = Form("", max_length=10),
              special_kind: str = Form("", max_length=64), access: RecordAccess = record_gate("mark")) -> Response:
    ctx, record = access.ctx, access.record
    try:
        data = marks.MarkInput(kind, reason, *_item(item), expected_date=_date(expected_date),
                               special_kind=special_kind)
        marks.add_mark(ctx.session, ctx.actor, ctx.user, record, data)
    except Refusal as refused:
        ctx.session.rollback()
        return _back(_checks_path(record.id), error=refused.message)
    return _back(_checks_path(record.id), message="已标记" + MARK_KINDS.get(kind, ""))


def _item(value: str) -> tuple[int | None, int | None]:
    """The form's one select: "c12" a category, "t34" a document type."""
    if value[:1] in ("c", "t") and value[1:].isdigit() and len(value) < 12:
        number = int(value[1:])
        return (number, None) if value[0] == "c" else (None, number)
    return None, None


def _date(value: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise Refusal("预计补交日期格式应为 年-月-日") from exc


@router.post("/marks/{mark_id}/close")
def close_form(mark_id: RowId, note: str = Form("", max_length=1000), ctx: Ctx = permission("record.mark")) -> Response:
    mark = marks.find_mark(ctx.session, mark_id)
    gate_record(ctx, "mark", load_record(ctx.session, mark.record_id))
    try:
        marks.close_mark(ctx.session, ctx.actor, mark, note)
    except Refusal as refused:
        ctx.session.rollback()
        return _back(_checks_path(mark.record_id), error=refused.message)
    return _back(_checks_path(mark.record_id), message="标记已关闭")


def _categories(ctx: Ctx) -> list[Category]:
    return list(ctx.session.scalars(sa.select(Category).where(Category.active)
                                    .order_by(Category.filing_order, Category.id)))


# --- administration: rules and special kinds ----------------------------------------------------

@router.get(RULES_PATH, response_class=HTMLResponse)
def rules_page(request: Request, ctx: Ctx = permission("completeness.manage")) -> Response:
    types = {t.id: t for t in ctx.session.scalars(sa.select(DocumentType))}
    return page(request, "completeness/rules.html", ctx, rules=rules.rules(ctx.session, active_only=False),
                cases=RECORD_CASES, types=types, categories=_categories(ctx),
                departments=list(ctx.session.scalars(sa.select(Department).order_by(Department.code))),
                special_kinds=marks.special_kinds(ctx.session),
                error=request.query_params.get("error", ""), message=request.query_params.get("message", ""))


@router.post(RULES_PATH + "/rules")
def rule_save_form(rule_id: int = Form(0, ge=0, le=2**31 - 1), name: str = Form("", max_length=100),
                   applies_to: str = Form("", max_length=24), document_type_ids: list[int] = Form([]),
                   category_id: int = Form(0, ge=0, le=2**31 - 1), department_id: int = Form(0, ge=0, le=2**31 - 1),
                   waived_in: list[str] = Form([]), active: bool = Form(False), note: str = Form("", max_length=255),
                   ctx: Ctx = permission("completeness.manage")) -> Response:
    data = rules.RuleInput(name, applies_to, document_type_ids, category_id or None, department_id or None,
                           waived_in, active, note)
    try:
        rules.save_rule(ctx.session, ctx.actor, data, rule_id or None)
    except Refusal as refused:
        ctx.session.rollback()
        return _back(RULES_PATH, error=refused.message)
    return _back(RULES_PATH, message=f"已保存规则“{name.strip()}”")


@router.post(RULES_PATH + "/rules/{rule_id}/delete")
def rule_delete_form(rule_id: RowId, ctx: Ctx = permission("completeness.manage")) -> Response:
    rules.delete_rule(ctx.session, ctx.actor, rule_id)
    return _back(RULES_PATH, message="已删除规则")


@router.post(RULES_PATH + "/special-kinds")
def special_kind_add_form(name: str = Form("", max_length=64),
                          ctx: Ctx = permission("completeness.manage")) -> Response:
    try:
        marks.add_special_kind(ctx.session, ctx.actor, name)
    except Refusal as refused:
        ctx.session.rollback()
        return _back(RULES_PATH, error=refused.message)
    return _back(RULES_PATH, message=f"已添加特殊病案类型“{name.strip()}”")


@router.post(RULES_PATH + "/special-kinds/{kind_id}")
def special_kind_switch_form(kind_id: RowId, active: bool = Form(False),
                             ctx: Ctx = permission("completeness.manage")) -> Response:
    kind = marks.set_special_kind_active(ctx.session, ctx.actor, kind_id, active)
    return _back(RULES_PATH, message=f"已{'启用' if active else '停用'}“{kind.name}”")


# --- administration: the document-type mapping ------------------------------------------------

@router.get(MAPPING_PATH, response_class=HTMLResponse)
def mapping_page(request: Request, ctx: Ctx = permission("completeness.manage")) -> Response:
    types = list(ctx.session.scalars(sa.select(DocumentType).where(DocumentType.active)
                                     .order_by(DocumentType.code)))
    return page(request, "completeness/mapping.html", ctx, unmapped=mapping.unmapped_names(ctx.session),
                aliases=mapping.aliases(ctx.session), types=types,
                sources=list(ctx.session.scalars(sa.select(Source.name).order_by(Source.name))),
                scoped=scopes.listing(ctx.session), scopes=VISIT_SCOPES, scope_kinds=scopes.KINDS,
                error=request.query_params.get("error", ""), message=request.query_params.get("message", ""))


@router.post(MAPPING_PATH + "/aliases")
def alias_add_form(alias: str = Form("", max_length=100), document_type_id: int = Form(0, ge=0, le=2**31 - 1),
                   source_system: str = Form("", max_length=64),
                   ctx: Ctx = permission("completeness.manage")) -> Response:
    try:
        found = mapping.map_name(ctx.session, ctx.actor, alias, document_type_id, source_system)
    except Refusal as refused:
        ctx.session.rollback()
        return _back(MAPPING_PATH, error=refused.message)
    return _back(MAPPING_PATH, message=f"已将“{found.alias}”对照为“{found.document_type.name}”；"
                                       "此前因类型无法识别而失败的采集项可在采集监控中重试")


@router.post(MAPPING_PATH + "/aliases/{alias_id}/delete")
def alias_remove_form(alias_id: RowId, ctx: Ctx = permission("completeness.manage")) -> Response:
    mapping.remove_alias(ctx.session, ctx.actor, alias_id)
    return _back(MAPPING_PATH, message="已删除对照")


@router.post(MAPPING_PATH + "/visit-scopes")
def visit_scope_form(kind: str = Form("", max_length=16), item_id: int = Form(0, ge=0, le=2**31 - 1),
                     visit_scope: str = Form("", max_length=16),
                     ctx: Ctx = permission("completeness.manage")) -> Response:
    """适用范围 of one category, document type or department."""
    try:
        item = scopes.set_scope(ctx.session, ctx.actor, kind, item_id, visit_scope)
    except Refusal as refused:
        ctx.session.rollback()
        return _back(MAPPING_PATH + "#visit-scopes", error=refused.message)
    return _back(MAPPING_PATH, message=f"“{item.name}”适用于{VISIT_SCOPES[visit_scope]}")
