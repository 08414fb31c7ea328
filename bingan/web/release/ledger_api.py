"""The copy ledger JSON API (复印收费台账与统计, J9, J11, J12, O1): payments and refunds with their
sums per day or month, cashier and method; copies per period and applicant type; purposes."""
from __future__ import annotations

from datetime import date
from typing import Literal

from fastapi import APIRouter, Query

from bingan.records.release import ledgers
from bingan.web.deps import Ctx, permission

router = APIRouter(prefix="/api/v1", tags=["复印"])


@router.get("/copy-ledger", summary="复印收费台账与统计（期间内的收费、退费、复印量、复印用途）")
def copy_ledger(first: date | None = Query(None, alias="from", description="开始日期，缺省为本月1日"),
                last: date | None = Query(None, alias="to", description="结束日期（含），缺省为今天"),
                group: Literal["day", "month"] = Query("day", description="day 按日 / month 按月汇总"),
                ctx: Ctx = permission("copy.ledger")) -> dict:
    period = ledgers.period(first, last, group)
    answer = ledgers.as_json(ledgers.fee_ledger(ctx.session, period), ledgers.copy_statistics(ctx.session, period))
    ctx.audit("copy.ledger_view", object_type="report", object_id="copy-ledger",
              detail={"报表": "复印收费台账与统计", "期间": period.label})
    return answer
