"""Statistics pages: the 2021 indicators with the records behind each number, the monthly inputs,
the documents D&T-04/06 require, the built-in reports with an ECharts chart and an xlsx export, the
fee details, and the saved report definitions (统计报表与质控指标)."""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi import Path as PathParameter
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.background import BackgroundTask

from bingan import clock
from bingan.errors import Refusal
from bingan.records.statistics import blocks, exports, indicators, service
from bingan.web import navigation
from bingan.web.deps import Ctx, permission
from bingan.web.downloads import XLSX
from bingan.web.render import page

router = APIRouter(include_in_schema=False)
HOME = "/statistics"
INPUTS = HOME + "/inputs"
REQUIREMENTS = HOME + "/requirements"
SAVED = HOME + "/saved"
FEES = HOME + "/fees"
navigation.register("统计报表", "质控指标与报表", HOME, "statistics.view")
navigation.register("统计报表", "自定义报表", SAVED, "statistics.view")
navigation.register("统计报表", "指标月度录入", INPUTS, "statistics.manage")


def _period(request: Request) -> blocks.Period:
    query = request.query_params
    return blocks.period(query.get("from") or None, query.get("to") or None)


def _filters(request: Request) -> blocks.Filters:
    return service.filters_of(request.query_params.get("department"), request.query_params.get("campus"))


def _xlsx(filename: str, write: Callable[[Path], object]) -> Response:
    """Written into a temporary file row by row and sent from there (a million rows stay out of memory)."""
    handle, name = tempfile.mkstemp(suffix=".xlsx")
    os.close(handle)
    try:
        write(Path(name))
    except BaseException:
        os.unlink(name)
        raise
    return FileResponse(name, media_type=XLSX, background=BackgroundTask(os.unlink, name),
                        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}",
                                 "Cache-Control": "no-store"})


def _common(ctx: Ctx, request: Request, when: blocks.Period, filters: blocks.Filters) -> dict:
    return {"period": when, "filters": filters, "options": service.filter_options(ctx.session),
            "query": request.url.query, "archive_rate_path": service.ARCHIVE_RATE_PATH,
            "archive_months": (when.first.strftime("%Y-%m"), when.last.strftime("%Y-%m"))}


def _audit(ctx: Ctx, action: str, what: str, when: blocks.Period, filters: blocks.Filters) -> None:
    ctx.audit(action, object_type="report", object_id=what,
              detail={"报表": what, "期间": f"{when.first}~{when.last}", "筛选": filters.as_json()})


@router.get(HOME, response_class=HTMLResponse)
def home(request: Request, ctx: Ctx = permission("statistics.view")) -> Response:
    when, filters = _period(request), _filters(request)
    values = indicators.compute(ctx.session, when, filters)
    _audit(ctx, "view", "质控指标", when, filters)
    return page(request, "statistics/home.html", ctx, values=values, reports=service.REPORTS,
                source_names=indicators.SOURCE_NAMES, manage=ctx.can("statistics.manage"),
                **_common(ctx, request, when, filters))


@router.get(HOME + "/indicators.xlsx")
def indicators_export(request: Request, ctx: Ctx = permission("statistics.view")) -> Response:
    when, filters = _period(request), _filters(request)
    values = indicators.compute(ctx.session, when, filters)
    _audit(ctx, "export", "质控指标", when, filters)
    return _xlsx(f"质控指标-{when.first}-{when.last}.xlsx", lambda path: service.indicators_xlsx(values, when, path))


@router.get(HOME + "/indicators/{key}/records.xlsx")
def drill_export(key: str, request: Request, ctx: Ctx = permission("statistics.view")) -> Response:
    indicator = indicators.indicator_by_key(key)
    when, filters = _period(request), _filters(request)
    part = request.query_params.get("part") or "denominator"
    _audit(ctx, "export", f"{indicator.code} {indicators.PARTS.get(part, part)}", when, filters)
    return _xlsx(f"{indicator.code}-{indicators.PARTS.get(part, '')}-{when.first}-{when.last}.xlsx",
                 lambda path: service.drill_xlsx(ctx.session, indicator, part, when, filters, path))


@router.post(HOME + "/indicators/{key}/records.xlsx")
def drill_export_job(request: Request, key: str = PathParameter(..., max_length=32, pattern=r"^[a-z0-9-]+$"),
                     ctx: Ctx = permission("statistics.view")) -> Response:
    """A large export: a background job; the job's page shows its progress and gives the file."""
    when, filters = _period(request), _filters(request)
    part = request.query_params.get("part") or "denominator"
    job = exports.start_drill_export(ctx.session, ctx.actor, ctx.user, key, part, when, filters)
    _audit(ctx, "export", f"{indicators.indicator_by_key(key).code} {indicators.PARTS[part]}（后台导出）", when,
           filters)
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


@router.get(HOME + "/indicators/{key}/records", response_class=HTMLResponse)
def drill_page(key: str, request: Request, ctx: Ctx = permission("statistics.view")) -> Response:
    indicator = indicators.indicator_by_key(key)
    when, filters = _period(request), _filters(request)
    part = request.query_params.get("part") or "denominator"
    try:
        number = int(request.query_params.get("page") or 1)
    except ValueError:
        raise Refusal("页码须为数字") from None
    drill = indicators.records_of(ctx.session, indicator, part, when, filters, number)
    _audit(ctx, "view", f"{indicator.code} {indicators.PARTS[part]}", when, filters)
    return page(request, "statistics/drill.html", ctx, drill=drill, parts=indicators.PARTS,
                status_names=service.STATUS_NAMES, direct_rows=exports.DIRECT_ROWS,
                crumbs=[("质控指标与报表", HOME), (indicator.name, "")], **_common(ctx, request, when, filters))


@router.get(INPUTS, response_class=HTMLResponse)
def inputs_page(request: Request, ctx: Ctx = permission("statistics.manage")) -> Response:
    month = request.query_params.get("month") or clock.now().strftime("%Y-%m")
    typed = indicators.inputs(ctx.session, month)
    return page(request, "statistics/inputs.html", ctx, month=month, typed=typed,
                items=[i for i in indicators.INDICATORS if i.source != "A"],
                message=request.query_params.get("message", ""))


def _number(text: str, what: str) -> float | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise Refusal(f"{what}须为数字") from None


@router.post(INPUTS)
def inputs_save(code: str = Form(..., max_length=16), month: str = Form(..., max_length=7),
                numerator: str = Form("", max_length=20), denominator: str = Form("", max_length=20),
                note: str = Form("", max_length=255), ctx: Ctx = permission("statistics.manage")) -> Response:
    indicators.set_input(ctx.session, ctx.actor, code, month, _number(numerator, "分子"),
                         _number(denominator, "分母"), note)
    return RedirectResponse(f"{INPUTS}?month={quote(month)}&message={quote(code + ' 已保存')}", status_code=303)


@router.get(REQUIREMENTS, response_class=HTMLResponse)
def requirements_page(request: Request, ctx: Ctx = permission("statistics.manage")) -> Response:
    names = indicators.type_names(ctx.session)
    return page(request, "statistics/requirements.html", ctx, names=names,
                items={code: indicators.requirements(ctx.session, code) for code in indicators.REQUIRED},
                titles={code: indicators.BY_CODE[code].name for code in indicators.REQUIRED})


@router.post(REQUIREMENTS)
async def requirements_add(request: Request, ctx: Ctx = permission("statistics.manage")) -> Response:
    form = await request.form()
    try:
        ids = [int(value) for value in form.getlist("document_type_id")]
    except ValueError:
        raise Refusal("文书类型须为编号") from None
    indicators.add_requirement(ctx.session, ctx.actor, str(form.get("indicator", ""))[:16],
                               str(form.get("label", ""))[:100], ids)
    return RedirectResponse(REQUIREMENTS, status_code=303)


@router.post(REQUIREMENTS + "/{item_id}/delete")
def requirements_remove(item_id: int, ctx: Ctx = permission("statistics.manage")) -> Response:
    indicators.remove_requirement(ctx.session, ctx.actor, item_id)
    return RedirectResponse(REQUIREMENTS, status_code=303)


def _chart(table: blocks.Table) -> dict:
    """What statistics.js draws: categories, one series per shown measure (rates on a second axis)."""
    return {"type": table.definition.chart, "categories": [row.label for row in table.rows],
            "series": [{"name": name, "unit": unit, "data": [row.values.get(code) for row in table.rows]}
                       for code, name, unit in table.columns()]}


@router.get(FEES + ".xlsx")
def fees_export(request: Request, ctx: Ctx = permission("statistics.view")) -> Response:
    when = _period(request)
    _audit(ctx, "export", "收费明细", when, blocks.Filters())
    return _xlsx(f"收费明细-{when.first}-{when.last}.xlsx", lambda path: service.fees_xlsx(ctx.session, when, path))


@router.get(FEES, response_class=HTMLResponse)
def fees_page(request: Request, ctx: Ctx = permission("statistics.view")) -> Response:
    when = _period(request)
    _audit(ctx, "view", "收费明细", when, blocks.Filters())
    return page(request, "statistics/fees.html", ctx, lines=list(service.fee_lines(ctx.session, when, 500)),
                totals=service.fee_totals(ctx.session, when), headers=service.FEE_HEADERS,
                crumbs=[("质控指标与报表", HOME), ("收费明细", "")], **_common(ctx, request, when, blocks.Filters()))


@router.get(HOME + "/reports/{key}.xlsx")
def report_export(key: str, request: Request, ctx: Ctx = permission("statistics.view")) -> Response:
    when, filters = _period(request), _filters(request)
    found = service.report(key)
    table = service.run_report(ctx.session, key, when, filters, request.query_params.get("dimension") or None)
    _audit(ctx, "export", found.name, when, filters)
    return _xlsx(f"{found.name}-{when.first}-{when.last}.xlsx",
                 lambda path: service.table_xlsx(table, found.name, path))


@router.get(HOME + "/reports/{key}", response_class=HTMLResponse)
def report_page(key: str, request: Request, ctx: Ctx = permission("statistics.view")) -> Response:
    when, filters = _period(request), _filters(request)
    found = service.report(key)
    table = service.run_report(ctx.session, key, when, filters, request.query_params.get("dimension") or None,
                               request.query_params.get("chart") or None)
    _audit(ctx, "view", found.name, when, filters)
    return page(request, "statistics/report.html", ctx, report=found, table=table, chart=_chart(table),
                dimensions=[(code, blocks.DIMENSIONS[code].name) for code in found.dimensions()],
                charts=blocks.CHARTS, export=f"{HOME}/reports/{key}.xlsx", action=f"{HOME}/reports/{key}",
                crumbs=[("质控指标与报表", HOME), (found.name, "")], **_common(ctx, request, when, filters))


@router.get(SAVED, response_class=HTMLResponse)
def saved_list(request: Request, ctx: Ctx = permission("statistics.view")) -> Response:
    manage = ctx.can("statistics.manage")
    return page(request, "statistics/saved.html", ctx, saved=service.visible_reports(ctx.session, ctx.user, manage),
                manage=manage, blocks=service.blocks_json(), roles=service.role_names(ctx.session),
                options=service.filter_options(ctx.session), message=request.query_params.get("message", ""))


async def _save(request: Request, ctx: Ctx, report_id: int | None = None) -> Response:
    form = await request.form()
    data = {"dimension": str(form.get("dimension", "")), "measures": [str(m) for m in form.getlist("measure")],
            "chart": str(form.get("chart", "bar")), "department": str(form.get("department", "")) or None,
            "campus": str(form.get("campus", "")) or None}
    item = service.save_report(ctx.session, ctx.actor, str(form.get("name", ""))[:100],
                               str(form.get("description", ""))[:1000], data,
                               [str(role) for role in form.getlist("role")], report_id)
    return RedirectResponse(f"{SAVED}/{item.id}", status_code=303)


@router.post(SAVED)
async def saved_create(request: Request, ctx: Ctx = permission("statistics.manage")) -> Response:
    return await _save(request, ctx)


@router.get(SAVED + "/{report_id}/edit", response_class=HTMLResponse)
def saved_edit(report_id: int, request: Request, ctx: Ctx = permission("statistics.manage")) -> Response:
    item = service.saved_report(ctx.session, ctx.user, True, report_id)
    return page(request, "statistics/saved_edit.html", ctx, item=item, blocks=service.blocks_json(),
                roles=service.role_names(ctx.session), options=service.filter_options(ctx.session),
                crumbs=[("自定义报表", SAVED), (item.name, f"{SAVED}/{item.id}"), ("编辑", "")])


@router.post(SAVED + "/{report_id}")
async def saved_update(report_id: int, request: Request, ctx: Ctx = permission("statistics.manage")) -> Response:
    return await _save(request, ctx, report_id)


@router.post(SAVED + "/{report_id}/delete")
def saved_delete(report_id: int, ctx: Ctx = permission("statistics.manage")) -> Response:
    service.delete_report(ctx.session, ctx.actor, report_id)
    return RedirectResponse(f"{SAVED}?message={quote('报表已删除')}", status_code=303)


@router.get(SAVED + "/{report_id}.xlsx")
def saved_export(report_id: int, request: Request, ctx: Ctx = permission("statistics.view")) -> Response:
    item = service.saved_report(ctx.session, ctx.user, ctx.can("statistics.manage"), report_id)
    when, filters = _period(request), _filters(request)
    table = service.run_saved(ctx.session, item, when, filters)
    _audit(ctx, "export", item.name, when, filters)
    return _xlsx(f"{item.name}-{when.first}-{when.last}.xlsx", lambda path: service.table_xlsx(table, item.name, path))


@router.get(SAVED + "/{report_id}", response_class=HTMLResponse)
def saved_run(report_id: int, request: Request, ctx: Ctx = permission("statistics.view")) -> Response:
    item = service.saved_report(ctx.session, ctx.user, ctx.can("statistics.manage"), report_id)
    when, filters = _period(request), _filters(request)
    table = service.run_saved(ctx.session, item, when, filters)
    _audit(ctx, "view", item.name, when, filters)
    return page(request, "statistics/report.html", ctx, report=item, table=table, chart=_chart(table),
                dimensions=[], charts={}, export=f"{SAVED}/{item.id}.xlsx", action=f"{SAVED}/{item.id}",
                saved=True, manage=ctx.can("statistics.manage"),
                crumbs=[("自定义报表", SAVED), (item.name, "")], **_common(ctx, request, when, filters))
