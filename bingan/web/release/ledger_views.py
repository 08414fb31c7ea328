"""The copy ledger page (复印收费台账与统计, J9, J11, J12, O1): the period's payments and refunds
with sums per day or month, cashier and method, copies per applicant type, copy purposes — with
bar charts drawn on the server (SVG) and one xlsx workbook of it all."""
from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from bingan import clock
from bingan.errors import Refusal
from bingan.records.release import ledgers
from bingan.web import navigation
from bingan.web.deps import Ctx, permission
from bingan.web.downloads import XLSX
from bingan.web.render import page

router = APIRouter(include_in_schema=False)
LEDGER = "/copy-ledger"
navigation.register("复印打印", "收费台账与统计", LEDGER, "copy.ledger")


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        raise Refusal(f"日期格式不正确：{text[:20]}（应为 2026-03-01）") from None


def _period(request: Request) -> ledgers.Period:
    query = request.query_params
    return ledgers.period(_day(query.get("from", "")), _day(query.get("to", "")), query.get("group") or "day")


@router.get(LEDGER, response_class=HTMLResponse)
def ledger_page(request: Request, ctx: Ctx = permission("copy.ledger")) -> Response:
    try:
        period = _period(request)
    except Refusal as refusal:
        return page(request, "release/ledger.html", ctx, error=str(refusal), period=ledgers.period(None, None),
                    groups=ledgers.GROUPS, fees=None, copies=None, query="", status_code=400)
    fees, copies = ledgers.fee_ledger(ctx.session, period), ledgers.copy_statistics(ctx.session, period)
    ctx.audit("copy.ledger_view", object_type="report", object_id="copy-ledger",
              detail={"报表": "复印收费台账与统计", "期间": period.label})
    return page(request, "release/ledger.html", ctx, period=period, groups=ledgers.GROUPS, fees=fees, copies=copies,
                charts=_charts(fees, copies), yuan=ledgers.yuan_signed, query=request.url.query, error="")


def _charts(fees: ledgers.FeeLedger, copies: ledgers.CopyStatistics) -> dict:
    """What the bars show: money per day or month (元), pages per applicant type, requests per purpose."""
    return {"periods": [s.label for s in fees.by_period],
            "fees": [("收费", "#2da44e", [s.paid_fen / 100 for s in fees.by_period]),
                     ("退费", "#cf222e", [s.refunded_fen / 100 for s in fees.by_period])],
            "types": [(c.label, c.pages, str(c.pages)) for c in copies.by_type],
            "purposes": [(c.label, c.requests, str(c.requests)) for c in copies.purposes]}


@router.get(LEDGER + ".xlsx")
def ledger_export(request: Request, ctx: Ctx = permission("copy.ledger")) -> Response:
    period = _period(request)
    book = ledgers.to_xlsx(ledgers.fee_ledger(ctx.session, period), ledgers.copy_statistics(ctx.session, period))
    ctx.audit("export", object_type="report", object_id="copy-ledger",
              detail={"报表": "复印收费台账与统计", "期间": period.label})
    name = f"copy-ledger-{period.first:%Y%m%d}-{period.last:%Y%m%d}-{clock.file_stamp()}.xlsx"
    return Response(book, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"',
                                                    "Cache-Control": "no-store"})
