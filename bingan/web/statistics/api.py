"""The statistics JSON API: indicators with numerator, denominator and the URL of their records,
each built-in report, the fee details, the blocks and the saved definitions (/api/v1/statistics)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query

from bingan.records.statistics import blocks, indicators, service
from bingan.web.deps import Ctx, permission

router = APIRouter(prefix="/api/v1/statistics", tags=["统计报表"])
From = Annotated[str | None, Query(alias="from", max_length=10, description="起始日期 YYYY-MM-DD，缺省为本月1日")]
To = Annotated[str | None, Query(alias="to", max_length=10, description="截止日期 YYYY-MM-DD（含），缺省为今天")]
Department = Annotated[int | None, Query(description="出院科室编号")]
Campus = Annotated[int | None, Query(description="院区编号")]


def _audit(ctx: Ctx, what: str, when: blocks.Period, filters: blocks.Filters) -> None:
    ctx.audit("view", object_type="report", object_id=what,
              detail={"报表": what, "期间": f"{when.first}~{when.last}", "筛选": filters.as_json()})


@router.get("/indicators", summary="病案管理质量控制指标（2021年版）：分子、分母、指标值与明细地址")
def indicator_list(first: From = None, last: To = None, department: Department = None, campus: Campus = None,
                   ctx: Ctx = permission("statistics.view")) -> dict:
    when, filters = blocks.period(first, last), blocks.Filters(department, campus)
    values = indicators.compute(ctx.session, when, filters)
    _audit(ctx, "质控指标", when, filters)
    return {**when.as_json(), "filters": filters.as_json(), "indicators": [value.as_json() for value in values]}


@router.get("/indicators/{key}/records", summary="指标分子、分母或未达标的病案明细（每页100条）")
def indicator_records(key: str, part: str = "denominator", page: int = 1, first: From = None, last: To = None,
                      department: Department = None, campus: Campus = None,
                      ctx: Ctx = permission("statistics.view")) -> dict:
    indicator = indicators.indicator_by_key(key)
    when, filters = blocks.period(first, last), blocks.Filters(department, campus)
    drill = indicators.records_of(ctx.session, indicator, part, when, filters, page)
    _audit(ctx, f"{indicator.code} {indicators.PARTS[part]}", when, filters)
    return {**when.as_json(), **drill.as_json()}


@router.post("/inputs", summary="录入某指标某月的分子、分母（按月录入的指标）")
def input_save(code: Annotated[str, Body(max_length=16)], month: Annotated[str, Body(max_length=7)],
               numerator: Annotated[float | None, Body()] = None, denominator: Annotated[float | None, Body()] = None,
               note: Annotated[str, Body(max_length=255)] = "", ctx: Ctx = permission("statistics.manage")) -> dict:
    row = indicators.set_input(ctx.session, ctx.actor, code, month, numerator, denominator, note)
    return {"code": code, "month": month, "numerator": row.numerator if row else None,
            "denominator": row.denominator if row else None}


@router.get("/reports", summary="内置报表")
def report_list(ctx: Ctx = permission("statistics.view")) -> dict:
    return {"reports": [{"key": r.key, "name": r.name, "capabilities": r.capabilities, "description": r.description,
                         "dimensions": r.dimensions(), "url": f"/api/v1/statistics/reports/{r.key}"}
                        for r in service.REPORTS.values()],
            "fees_url": "/api/v1/statistics/fees", "archive_rate_url": "/api/v1/reports/archive-rate"}


@router.get("/reports/{key}", summary="运行一个内置报表")
def report_run(key: str, first: From = None, last: To = None, department: Department = None, campus: Campus = None,
               dimension: Annotated[str | None, Query(max_length=32)] = None,
               ctx: Ctx = permission("statistics.view")) -> dict:
    found = service.report(key)
    when, filters = blocks.period(first, last), blocks.Filters(department, campus)
    table = service.run_report(ctx.session, key, when, filters, dimension)
    _audit(ctx, found.name, when, filters)
    return {"key": key, "name": found.name, **table.as_json()}


@router.get("/fees", summary="收费明细（前 1000 条与合计；全部请导出）")
def fees(first: From = None, last: To = None, ctx: Ctx = permission("statistics.view")) -> dict:
    when = blocks.period(first, last)
    _audit(ctx, "收费明细", when, blocks.Filters())
    return {**when.as_json(), "headers": list(service.FEE_HEADERS),
            "rows": list(service.fee_lines(ctx.session, when, 1000)), "totals": service.fee_totals(ctx.session, when)}


@router.get("/blocks", summary="自定义报表可选的统计对象、维度、指标与图表类型")
def blocks_list(ctx: Ctx = permission("statistics.view")) -> dict:
    return service.blocks_json()


def _saved_json(item) -> dict:
    return {"id": item.id, "name": item.name, "description": item.description, "definition": item.definition,
            "roles": item.roles, "created_by": item.created_by_name, "url": f"/api/v1/statistics/definitions/{item.id}"}


@router.get("/definitions", summary="可见的自定义报表")
def definitions(ctx: Ctx = permission("statistics.view")) -> dict:
    saved = service.visible_reports(ctx.session, ctx.user, ctx.can("statistics.manage"))
    return {"definitions": [_saved_json(item) for item in saved]}


@router.post("/definitions", summary="保存自定义报表（维度、指标、筛选、图表类型、共享角色）")
def definition_save(name: Annotated[str, Body(max_length=100)], definition: Annotated[dict, Body()],
                    roles: Annotated[list[str], Body()] = [],  # noqa: B006 - FastAPI copies defaults
                    description: Annotated[str, Body(max_length=1000)] = "",
                    ctx: Ctx = permission("statistics.manage")) -> dict:
    item = service.save_report(ctx.session, ctx.actor, name, description, definition, roles)
    return _saved_json(item)


@router.get("/definitions/{report_id}", summary="运行一个自定义报表")
def definition_run(report_id: int, first: From = None, last: To = None, department: Department = None,
                   campus: Campus = None, ctx: Ctx = permission("statistics.view")) -> dict:
    item = service.saved_report(ctx.session, ctx.user, ctx.can("statistics.manage"), report_id)
    when, filters = blocks.period(first, last), blocks.Filters(department, campus)
    table = service.run_saved(ctx.session, item, when, filters)
    _audit(ctx, item.name, when, filters)
    return {**_saved_json(item), **table.as_json()}


@router.delete("/definitions/{report_id}", summary="删除自定义报表")
def definition_delete(report_id: int, ctx: Ctx = permission("statistics.manage")) -> dict:
    service.delete_report(ctx.session, ctx.actor, report_id)
    return {"deleted": report_id}
