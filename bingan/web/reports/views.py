"""The archive-rate report page with its chart and xlsx export, and the administrator's calendar:
holidays and make-up workdays per year, archive deadlines per record kind (节假日与归档时限)."""
from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bingan import clock
from bingan.records import calendar
from bingan.records.archive_rate import BASES, archive_rate, to_xlsx
from bingan.web import navigation
from bingan.web.deps import Ctx, permission
from bingan.web.render import page
from bingan.web.templating import templates

router = APIRouter(include_in_schema=False)
REPORT_PATH = "/reports/archive-rate"
CALENDAR_PATH = "/admin/calendar"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DAY_KINDS = {"holiday": "放假", "workday": "调休上班", "plain": "恢复为普通日"}
navigation.register("统计报表", "科室归档率", REPORT_PATH, "reports.view")
navigation.register("系统设置", "节假日与归档时限", CALENDAR_PATH, "calendar.manage")


def calendar_warning(ctx: Ctx | None) -> list[int]:
    """Years the administrator's home page warns about (this year and next without an arrangement)."""
    if ctx is None or not ctx.can("calendar.manage"):
        return []
    return calendar.missing_years(ctx.session)


templates.env.globals["calendar_warning"] = calendar_warning


def _report_args(request: Request) -> tuple[str, str, str]:
    this_month = clock.now().strftime("%Y-%m")
    query = request.query_params
    first = query.get("from") or this_month
    return first, query.get("to") or first, query.get("basis") or "emr"


@router.get(REPORT_PATH, response_class=HTMLResponse)
def report_page(request: Request, ctx: Ctx = permission("reports.view")) -> Response:
    first, last, basis = _report_args(request)
    report = archive_rate(ctx.session, first, last, basis)
    ctx.audit("view", object_type="report", object_id="archive-rate",
              detail={"报表": "科室归档率", "月份": f"{report.first:%Y-%m}~{report.last:%Y-%m}", "口径": basis})
    return page(request, "reports/archive_rate.html", ctx, report=report, bases=BASES,
                deadlines=calendar.deadlines(ctx.session), query=request.url.query)


@router.get(REPORT_PATH + ".xlsx")
def report_export(request: Request, ctx: Ctx = permission("reports.view")) -> Response:
    first, last, basis = _report_args(request)
    report = archive_rate(ctx.session, first, last, basis)
    ctx.audit("export", object_type="report", object_id="archive-rate",
              detail={"报表": "科室归档率", "月份": f"{report.first:%Y-%m}~{report.last:%Y-%m}", "口径": basis})
    name = f"archive-rate-{report.first:%Y%m}-{report.last:%Y%m}.xlsx"
    return Response(to_xlsx(report), media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get(CALENDAR_PATH, response_class=HTMLResponse)
def calendar_page(request: Request, year: int | None = None, ctx: Ctx = permission("calendar.manage")) -> Response:
    today = clock.now().date()
    year = year if year and 2000 <= year <= 2100 else today.year
    return page(request, "calendar/admin.html", ctx, year=year, summary=calendar.year_summary(ctx.session, year),
                days=calendar.days_of_year(ctx.session, year), missing=calendar.missing_years(ctx.session),
                deadlines=calendar.deadlines(ctx.session), kinds=DAY_KINDS,
                message=request.query_params.get("message", ""))


def _back(year: int, message: str) -> Response:
    return RedirectResponse(f"{CALENDAR_PATH}?year={year}&message={message}", status_code=303)


@router.post(CALENDAR_PATH + "/days")
def set_day(day: date = Form(...), kind: str = Form(...), name: str = Form("", max_length=64),
            ctx: Ctx = permission("calendar.manage")) -> Response:
    calendar.set_day(ctx.session, ctx.actor, day, kind, name)
    return _back(day.year, f"{day.isoformat()} 已设为{DAY_KINDS.get(kind, kind)}")


@router.post(CALENDAR_PATH + "/years")
def confirm_year(year: int = Form(..., ge=2000, le=2100), confirmed: bool = Form(True),
                 ctx: Ctx = permission("calendar.manage")) -> Response:
    calendar.confirm_year(ctx.session, ctx.actor, year, confirmed)
    return _back(year, f"{year} 年节假日安排已{'确认录入完成' if confirmed else '取消确认'}")


@router.post(CALENDAR_PATH + "/package")
def load_package(ctx: Ctx = permission("calendar.manage")) -> Response:
    years = calendar.load_package_years(ctx.session, ctx.actor)
    message = f"已从 chinesecalendar 导入 {'、'.join(map(str, years))} 年" if years else "chinesecalendar 没有新的年份"
    return _back(clock.now().year, message)


@router.post(CALENDAR_PATH + "/deadlines")
def set_deadlines(normal: int = Form(...), death: int = Form(...), special: int = Form(...),
                  ctx: Ctx = permission("calendar.manage")) -> Response:
    for kind, days in (("normal", normal), ("death", death), ("special", special)):
        if days != calendar.deadline_days(ctx.session, kind):
            calendar.set_deadline(ctx.session, ctx.actor, kind, days)
    return _back(clock.now().year, "归档时限已保存")
